// llmux on node:http as bench/servers/app.mjs runs it (features off), with timestamps (the system's
// monotonic clock, shared by every process) at each step of a request, for bench/ttfb-legs.mjs: the
// same legs as the floor's (bench/servers/ttfb-proxy.mjs), so what llmux adds is read leg by leg.
import { createServer } from 'node:http';
import { createGateway } from '@llmux/core';
import { abortLinkFor, gatewayPath, writeResponse } from '@llmux/core/node';
import { sinkOptions } from '../lib/sinks.mjs';

const now = () => String(process.hrtime.bigint());
const marks = [];
// app.mjs's options with features off: the same target, prices, and every observability sink off.
const gateway = createGateway({
  config: { targets: [{ provider: 'openai', api_key: 'sk-bench-key', custom_host: `${process.env.UPSTREAM}/v1` }] },
  pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
  ...sinkOptions(false),
});
// The gateway's own upstream client, timed around: when the request goes out, when its head is back.
// Requests come one at a time, so the one in flight is the one being marked.
let current;
const client = gateway.internals.client;
const send = client.send.bind(client);
client.send = (req, signal) => {
  const m = current;
  m.sent = now();
  return send(req, signal).then((answer) => {
    m.upstreamHead = now();
    return answer;
  });
};

const server = createServer(async (req, res) => {
  const m = (current = { arrived: now() });
  const write = res.write;
  res.write = function (...args) {
    m.firstWrite ??= now();
    const ok = write.apply(this, args);
    m.written ??= now();
    return ok;
  };
  const response = await gateway.handle({ method: req.method, path: gatewayPath(req.url, '/llm'), headers: req.headers, body: req, signal: abortLinkFor(res) });
  m.handled = now();
  await writeResponse(res, response);
  marks.push(m);
});
process.on('message', (msg) => {
  if (msg?.op === 'marks') process.send({ id: msg.id, marks: marks.splice(0) });
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
