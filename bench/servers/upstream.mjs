// A fast mock OpenAI upstream for benchmarks, in its own process so its CPU is not the app's.
import { createServer } from 'node:http';
import { completion, frames, tokenFrame, usageFrame } from '../lib/answers.mjs';

const embedding = JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: Array.from({ length: 16 }, (_, i) => i / 16) }], model: 'e', usage: { prompt_tokens: 2, total_tokens: 2 } });

// Streams pause between the first chunk and the rest, like a model thinking; TTFB is measured on chunk one.
const STREAM_GAP_MS = Number(process.env.STREAM_GAP_MS ?? 2);
// A prompt asking for an answer "at length" gets a long stream: LONG_TOKENS content chunks, each
// written on its own turn of the event loop (its own TCP segment), as a model emits tokens.
const LONG_TOKENS = Number(process.env.LONG_TOKENS ?? 200);

async function longStream(res, usage) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(frames[0]);
  for (let i = 0; i < LONG_TOKENS && !res.destroyed; i++) {
    await new Promise(setImmediate);
    res.write(tokenFrame(i));
  }
  res.end(frames.at(-1) + (usage ? usageFrame : '') + 'data: [DONE]\n\n');
}

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url.endsWith('/embeddings')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(embedding) }).end(embedding);
      return;
    }
    const stream = body.includes('"stream":true');
    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(completion) }).end(completion);
      return;
    }
    if (body.includes('at length')) return void longStream(res, body.includes('"include_usage":true'));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(frames[0] + frames[1]);
    setTimeout(() => {
      res.write(frames.slice(2).join('') + (body.includes('"include_usage":true') ? usageFrame : ''));
      res.end('data: [DONE]\n\n');
    }, STREAM_GAP_MS);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => process.send?.({ port: server.address().port }));
