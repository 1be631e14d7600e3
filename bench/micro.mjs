// The gateway's own CPU per request, without sockets: `gateway.handle()` in a loop, the upstream
// replaced by a transport that answers from memory, the response written by `writeResponse` to a
// response object that drops the bytes.
// A quick feedback loop for hot-path work (seconds, little noise from other processes); the HTTP
// bench (`bench/run.mjs`) stays the measure of record.
//   [MODES=json,stream] [MICRO_TOKENS=n] [MICRO_TRANSPORT=custom] [MICRO_GAP_MS=n] node bench/.build/micro.js [iterations=20000] [features=off|cache|hit|limits|cache,limits] [body=parsed|raw]
// (built by `node bench/run.mjs --build-only`).
import { AbortLink, createGateway, openAICompatible } from '@llmux/core';
import { writeResponse } from '@llmux/core/node';
import { DispatchedResponse } from '../packages/core/src/upstream/dispatched-response.ts';
import * as answers from './lib/answers.mjs';
import { sinkOptions } from './lib/sinks.mjs';

const [iterations = '20000', features = 'off', bodyKind = 'parsed'] = process.argv.slice(2);
const on = (f) => features.split(',').includes(f);
const N = Number(iterations);

const completion = Buffer.from(answers.completion);
// The micro transport always ends a stream with usage, as the gateway asks upstreams for it.
const frames = [...answers.frames, answers.usageFrame];
// `MICRO_TOKENS=n`: a stream of n content chunks, each its own read, as real upstreams send one token
// at a time (what relaying one token costs: CPU/req over n); by default the HTTP bench's two reads.
const tokens = Number(process.env.MICRO_TOKENS ?? 0);
// `MICRO_GAP_MS=n`: after the warm-up, requests n ms apart, each one's CPU read alone (see below).
const gapMs = Number(process.env.MICRO_GAP_MS ?? 0);
// The frames are the role, a chunk per word, the finish and the usage.
const [role, ...rest] = frames;
const words = rest.slice(0, -2);
const end = rest.slice(-2).join('') + 'data: [DONE]\n\n';
const streamParts = tokens
  ? [role, ...Array.from({ length: tokens }, (_, i) => words[i % words.length]), end].map((p) => Buffer.from(p))
  : [Buffer.from(role + words[0]), Buffer.from(words.slice(1).join('') + end)];

async function* chunks(parts) {
  for (const p of parts) yield p;
}
const rawHeaders = (type) => [Buffer.from('content-type'), Buffer.from(type)];
const JSON_HEADERS = rawHeaders('application/json');
const SSE_HEADERS = rawHeaders('text/event-stream');
/**
 * The gateway's own upstream client with undici's side played from memory: the answer reaches the
 * same `DispatchedResponse` handler undici's socket would feed (headers, then each read on a later
 * turn, as reads from a socket come), so the path measured is the one real requests take.
 * `MICRO_TRANSPORT=custom`: through a provider's `transport` instead (a real AbortSignal and a body
 * read under it), the path custom providers take.
 */
const client = {
  send(req, signal) {
    return new Promise((resolve, reject) => {
      const handler = new DispatchedResponse(signal, { resolve, reject });
      handler.onConnect(() => {});
      const stream = typeof req.body === 'string' && req.body.includes('"stream":true');
      const parts = stream ? streamParts : [completion];
      setImmediate(() => {
        handler.onHeaders(200, stream ? SSE_HEADERS : JSON_HEADERS, () => {});
        let i = 0;
        const feed = () => {
          handler.onData(parts[i++]);
          if (i < parts.length) setImmediate(feed);
          else handler.onComplete([]);
        };
        feed();
      });
    });
  },
  close: async () => {},
  destroy: async () => {},
};
const transport = async (req) => {
  const stream = typeof req.body === 'string' && req.body.includes('"stream":true');
  return {
    status: 200,
    headers: { 'content-type': stream ? 'text/event-stream' : 'application/json' },
    body: chunks(stream ? streamParts : [completion]),
    dump: async () => {},
  };
};
const custom = process.env.MICRO_TRANSPORT === 'custom';
const provider = { ...openAICompatible({ id: 'bench', baseURL: 'http://bench.invalid/v1' }), ...(custom ? { transport } : {}) };

const config = { targets: [{ provider: 'bench', api_key: 'sk-bench-key' }] };
if (on('cache') || on('hit')) config.cache = { mode: 'simple', max_age: 3600 };
if (on('limits')) {
  config.budget = { max_cost_per_day: 1e9, scope: 'user' };
  config.rate_limit = { requests_per_minute: 1e9, tokens_per_minute: 1e12, scope: 'user' };
}
// As in bench/servers/app.mjs: observability sinks off unless `defaults` is among the features;
// `MICRO_SINKS=logger,metrics,tracing` (with `defaults`) keeps only those, to see what each costs.
const quiet = sinkOptions(on('defaults'), process.env.MICRO_SINKS);
// `MICRO_LOGGER=<name>` (with `defaults` and the logger sink on): another logger in place of the
// default one, to cost the gateway's own logging work (noop), pino's serialisation (pino-null) and
// each destination; `pino-default` is what the gateway makes without a `logger` option.
if (process.env.MICRO_LOGGER) {
  const { pino } = await import('pino');
  const loggers = {
    noop: () => ({ info() {}, warn() {}, error() {} }),
    'pino-null': () => pino({ name: 'llmux' }, { write() {} }),
    'pino-default': () => pino({ name: 'llmux' }),
    'pino-stdout': () => pino({ name: 'llmux' }, process.stdout),
    'pino-sync': () => pino({ name: 'llmux' }, pino.destination({ dest: 1, sync: true })),
    'pino-batched': () => pino({ name: 'llmux' }, pino.destination({ dest: 1, sync: false, minLength: 4096 })),
    // Lines written by a worker thread (its CPU counts too: it is this process's).
    'pino-transport': () => pino({ name: 'llmux' }, pino.transport({ target: 'pino/file', options: { destination: 1 } })),
  };
  const make = loggers[process.env.MICRO_LOGGER];
  if (!make) throw new Error(`MICRO_LOGGER: one of ${Object.keys(loggers).join(', ')}`);
  quiet.logger = make();
}
const gateway = createGateway({ config, customProviders: [provider], pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } }, ...quiet, ...(process.env.MICRO_RING ? { recentRequests: Number(process.env.MICRO_RING) } : {}) });
if (!custom) gateway.internals.client = client;

const headers = {
  host: '127.0.0.1:3000',
  connection: 'keep-alive',
  'content-type': 'application/json',
  authorization: 'Bearer client-key',
  'user-agent': 'OpenAI/JS 6.0.0',
  accept: 'application/json',
};
let counter = 0;
/** `MICRO_TURNS=n`: n earlier question/answer pairs of ~400 bytes each in every request (a longer conversation). */
const history = Array.from({ length: Number(process.env.MICRO_TURNS ?? 0) }, (_, i) => [
  { role: 'user', content: `Question ${i}: ${'tell me more about the benchmark and its numbers '.repeat(4)}` },
  { role: 'assistant', content: `Answer ${i}: ${'the numbers are what they are, measured twice '.repeat(4)}` },
]).flat();
const bodyOf = (stream) => {
  // With the cache on, every prompt is new (misses) unless `hit` is among the features.
  const text = on('cache') && !on('hit') ? `Say hello #${counter++} to the benchmark` : 'Say hello to the benchmark';
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'You are terse.' }, ...history, { role: 'user', content: text }], ...(stream ? { stream: true } : {}) };
  return bodyKind === 'raw' ? chunks([Buffer.from(JSON.stringify(body))]) : body;
};

/** The parts of a ServerResponse `writeResponse` uses, doing nothing with the bytes. */
class NullResponse {
  statusCode = 200;
  headers = {};
  destroyed = false;
  writableEnded = false;
  chunkedEncoding = true;
  setHeader(name, value) {
    this.headers[name] = value;
  }
  hasHeader(name) {
    return name in this.headers;
  }
  flushHeaders() {}
  write() {
    return true;
  }
  addTrailers() {}
  end() {
    this.writableEnded = true;
  }
  on() {}
  off() {}
}

/** What the adapters' `abortSignalFor(res)` hands the core: a fresh signal marked as living as long as the request. */
function requestSignal() {
  return new AbortLink();
}

/** A request's headers as Node's IncomingMessage builds them: a fresh object, one assignment per header. */
function requestHeaders() {
  const h = {};
  for (const name in headers) h[name] = headers[name];
  h['content-length'] = '120';
  return h;
}

async function once(stream) {
  const res = await gateway.handle(
    { method: 'POST', path: '/v1/chat/completions', headers: requestHeaders(), body: bodyOf(stream), signal: requestSignal() },
    { user: 'bench-user' },
  );
  if (res.status !== 200) throw new Error(`status ${res.status}: ${JSON.stringify(res.body)}`);
  await writeResponse(new NullResponse(), res);
  // Back to the event loop, as between two HTTP requests: work the gateway defers there (its log
  // queue) is done and counted.
  await new Promise(setImmediate);
}

/** One request through the gateway; exported for bench/ab.mjs, which interleaves two builds in one process. */
export const run = once;

if (!process.env.MICRO_AS_MODULE) {
  for (const stream of (process.env.MODES ?? 'json,stream').split(',').map((m) => m === 'stream')) {
    for (let i = 0; i < N / 4; i++) await once(stream);
    if (gapMs) {
      // Each request alone after an idle gap, its own CPU read around it: code run cold, as one at a time over HTTP.
      let total = 0;
      const count = Math.min(N, 2000);
      for (let i = 0; i < count; i++) {
        await new Promise((resolve) => setTimeout(resolve, gapMs));
        const at = process.cpuUsage();
        await once(stream);
        const used = process.cpuUsage(at);
        total += used.user + used.system;
      }
      console.error(`${stream ? 'stream' : 'json  '} ${features}/${bodyKind}, ${gapMs} ms apart: ${(total / count).toFixed(1)} µs CPU/req`);
      continue;
    }
    const before = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await once(stream);
    const cpu = process.cpuUsage(before);
    const wall = performance.now() - t0;
    console.error(`${stream ? 'stream' : 'json  '} ${features}/${bodyKind}: ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU/req, ${((wall * 1000) / N).toFixed(1)} µs wall/req`);
  }
  process.exit(0);
}
