// One host app per process: a floor proxy, the naive fetch proxy, or llmux through an adapter.
// Started by bench/run.mjs (bundled with the llmux sources by bench/lib/build.mjs) as
// `app.mjs <kind> <features>`; features: off, or a comma list of cache, limits, redis, defaults,
// finish (the `finishAfterResponse` option: the answer leaves before the settlement and the record),
// noring (`recentRequests: 0`).
// Without `defaults`, llmux runs with its observability sinks off (no pino line per request on
// stdout, no Prometheus metrics, no spans): those are features too, measured in their own row.
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { sinkOptions } from '../lib/sinks.mjs';

const [kind, features = 'off'] = process.argv.slice(2);
const UPSTREAM = process.env.UPSTREAM;
const CHAT = '/llm/v1/chat/completions';
const on = (f) => features.split(',').includes(f);

function gatewayOptions() {
  const config = { targets: [{ provider: 'openai', api_key: 'sk-bench-key', custom_host: `${UPSTREAM}/v1` }] };
  if (on('cache')) config.cache = { mode: 'simple', max_age: 3600 };
  if (on('limits')) {
    // Checked and reserved on every request, never reached: the cost of the bookkeeping, not of refusals.
    config.budget = { max_cost_per_day: 1e9, scope: 'user' };
    config.rate_limit = { requests_per_minute: 1e9, tokens_per_minute: 1e12, scope: 'user' };
  }
  // `APP_SINKS=logger,metrics,tracing` (with `defaults`): only those sinks stay on, to cost each over HTTP.
  const options = { config, pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } }, ...sinkOptions(on('defaults'), process.env.APP_SINKS) };
  if (on('finish')) options.finishAfterResponse = true;
  // `noring`: no recent-requests ring (`recentRequests: 0`), to cost keeping the last 100 records.
  if (on('noring')) options.recentRequests = 0;
  return options;
}

async function store() {
  if (!on('redis')) return undefined;
  const { createRedisStore } = await import('@llmux/redis');
  const s = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: `llmux-bench:${process.pid}:${Date.now()}:` });
  await s.ready;
  return s;
}

const identify = () => ({ user: 'bench-user' });

/**
 * The floor: the least a proxy on this framework must do — take the body, forward it on a keep-alive
 * undici pool, relay status, content type and body chunk by chunk.
 */
const pool = new Pool(UPSTREAM, { connections: 128, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 });
const forward = (body) =>
  pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-key' }, body });

async function relay(up, res) {
  for await (const chunk of up.body) res.write(chunk);
  res.end();
}

/**
 * A reference, not a floor: by hand, the least a gateway under DESIGN.md must add to the floor once it
 * has the body — a client that leaves aborting the upstream call (the standard AbortController), the
 * answer parsed (usage, for its cost), a trace id, the contract's headers.
 */
async function contractMinimum(body, res) {
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const up = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-key' }, body, signal: abort.signal });
  let text = '';
  for await (const c of up.body) text += c;
  const { usage } = JSON.parse(text);
  const id = crypto.randomUUID();
  const cost = String((usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.6) / 1e6);
  res.setHeader('content-type', up.headers['content-type']);
  for (const [k, v] of [['x-llmux-trace-id', id], ['x-portkey-trace-id', id], ['x-llmux-provider', 'openai'], ['x-portkey-provider', 'openai'], ['x-llmux-target', 'config.targets[0]'], ['x-portkey-last-used-option-index', '0'], ['x-llmux-cache', 'DISABLED'], ['x-portkey-cache-status', 'DISABLED'], ['x-llmux-retries', '0'], ['x-portkey-retry-attempt-count', '0'], ['x-llmux-cost', cost]]) res.setHeader(k, v);
  res.statusCode = up.statusCode;
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}

async function nestApp(moduleDef) {
  await import('reflect-metadata');
  const { NestFactory } = await import('@nestjs/core');
  const { Module } = await import('@nestjs/common');
  class AppModule {}
  Module(moduleDef)(AppModule);
  const app = await NestFactory.create(AppModule, { logger: false });
  await app.init();
  return createServer(app.getHttpAdapter().getInstance());
}

/** A Nest app whose one controller serves the chat route with `chat(req, res)`, as the floor's does. */
async function nestProxy(chat) {
  const { Controller, Post, Req, Res } = await import('@nestjs/common');
  class ProxyController {
    chat(req, res) {
      return chat(req, res);
    }
  }
  Controller('llm/v1')(ProxyController);
  const d = Object.getOwnPropertyDescriptor(ProxyController.prototype, 'chat');
  Req()(ProxyController.prototype, 'chat', 0);
  Res()(ProxyController.prototype, 'chat', 1);
  Post('chat/completions')(ProxyController.prototype, 'chat', d);
  return nestApp({ controllers: [ProxyController] });
}

async function build() {
  switch (kind) {
    case 'node-floor':
      return createServer(async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        const up = await forward(body);
        res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] });
        await relay(up, res);
      });
    case 'node-minimum':
      return createServer(async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        // Parsed as any router must, to find the model it routes by.
        JSON.parse(body);
        await contractMinimum(body, res);
      });
    case 'express-minimum': {
      // The same reference behind express.json(): the body arrives parsed (its model is at hand) and
      // goes on serialised again, as the Express floor's does.
      const { default: express } = await import('express');
      const app = express();
      app.use(express.json());
      app.post(CHAT, (req, res) => contractMinimum(JSON.stringify(req.body), res));
      return createServer(app);
    }
    case 'express-hit-minimum': {
      // A reference for the cache-hit target: the least an exact-match hit must do behind express.json()
      // under DESIGN.md — key the body (canonical text, sha-256), find the stored answer, send it with
      // the contract's headers. No validation, routing, plan, record or cost.
      const { default: express } = await import('express');
      const { createHash } = await import('node:crypto');
      const stored = new Map();
      const app = express();
      app.use(express.json());
      app.post(CHAT, async (req, res) => {
        const key = createHash('sha256').update(JSON.stringify(req.body)).digest('hex');
        let text = stored.get(key);
        if (text === undefined) {
          const up = await forward(JSON.stringify(req.body));
          text = '';
          for await (const c of up.body) text += c;
          stored.set(key, text);
        }
        const id = crypto.randomUUID();
        res.setHeader('content-type', 'application/json');
        for (const [k, v] of [['x-llmux-trace-id', id], ['x-portkey-trace-id', id], ['x-llmux-provider', 'openai'], ['x-portkey-provider', 'openai'], ['x-llmux-target', 'config.targets[0]'], ['x-portkey-last-used-option-index', '0'], ['x-llmux-cache', 'HIT'], ['x-portkey-cache-status', 'HIT'], ['x-llmux-retries', '0'], ['x-portkey-retry-attempt-count', '0'], ['x-llmux-cost', '0']]) res.setHeader(k, v);
        res.setHeader('content-length', Buffer.byteLength(text));
        res.end(text);
      });
      return createServer(app);
    }
    case 'express-floor': {
      const { default: express } = await import('express');
      const app = express();
      app.use(express.json());
      app.post(CHAT, async (req, res) => {
        const up = await forward(JSON.stringify(req.body));
        res.status(up.statusCode).setHeader('content-type', up.headers['content-type']);
        await relay(up, res);
      });
      return createServer(app);
    }
    case 'express-fetch': {
      // The naive proxy: global fetch, WHATWG streams; a fixed reference, not a floor.
      const { default: express } = await import('express');
      const app = express();
      app.use(express.json());
      app.post(CHAT, async (req, res) => {
        const up = await fetch(`${UPSTREAM}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-key' },
          body: JSON.stringify(req.body),
        });
        res.status(up.status).setHeader('content-type', up.headers.get('content-type'));
        for await (const chunk of up.body) res.write(chunk);
        res.end();
      });
      return createServer(app);
    }
    case 'koa-floor': {
      const { default: Koa } = await import('koa');
      const { bodyParser } = await import('@koa/bodyparser');
      const app = new Koa();
      app.use(bodyParser());
      app.use(async (ctx) => {
        const up = await forward(JSON.stringify(ctx.request.body));
        ctx.status = up.statusCode;
        ctx.type = up.headers['content-type'];
        ctx.body = up.body;
      });
      return createServer(app.callback());
    }
    case 'nestjs-floor':
      return nestProxy(async (req, res) => {
        const up = await forward(JSON.stringify(req.body));
        res.status(up.statusCode).setHeader('content-type', up.headers['content-type']);
        await relay(up, res);
      });
    case 'nestjs-minimum':
      // The contract's minimum as a Nest controller behind Nest's body parser, beside the NestJS floor.
      return nestProxy((req, res) => contractMinimum(JSON.stringify(req.body), res));
    case 'llmux-node': {
      const { createGateway } = await import('@llmux/core');
      const { writeResponse, abortLinkFor, gatewayPath } = await import('@llmux/core/node');
      const gateway = createGateway({ ...gatewayOptions(), store: await store() });
      return createServer(async (req, res) => {
        const path = gatewayPath(req.url, '/llm');
        const response = await gateway.handle({ method: req.method, path, headers: req.headers, body: req, signal: abortLinkFor(res) }, identify());
        await writeResponse(res, response);
      });
    }
    case 'llmux-express': {
      const { default: express } = await import('express');
      const { gatewayMiddleware } = await import('@llmux/express');
      const app = express();
      // Behind express.json(), as the floor: both pay Express's JSON parse.
      app.use(express.json());
      app.use(gatewayMiddleware({ ...gatewayOptions(), store: await store(), identify }));
      return createServer(app);
    }
    case 'llmux-express-raw': {
      // Ahead of the body parser, as in examples/express: the gateway reads the raw body itself.
      const { default: express } = await import('express');
      const { gatewayMiddleware } = await import('@llmux/express');
      const app = express();
      app.use(gatewayMiddleware({ ...gatewayOptions(), store: await store(), identify }));
      app.use(express.json());
      return createServer(app);
    }
    case 'llmux-koa': {
      const { default: Koa } = await import('koa');
      const { bodyParser } = await import('@koa/bodyparser');
      const { gatewayMiddleware } = await import('@llmux/koa');
      const app = new Koa();
      app.use(bodyParser());
      app.use(gatewayMiddleware({ ...gatewayOptions(), store: await store(), identify }));
      return createServer(app.callback());
    }
    case 'llmux-nestjs': {
      const { GatewayModule } = await import('@llmux/nestjs');
      return nestApp({ imports: [GatewayModule.forRoot({ ...gatewayOptions(), store: await store(), identify })] });
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

const server = await build();
server.keepAliveTimeout = 120_000;
let peakRss = 0;
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50).unref();
process.on('message', (m) => {
  if (m?.op === 'stats') {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    process.send({ id: m.id, cpu: process.cpuUsage(), rss: peakRss, heap: process.memoryUsage().heapUsed });
  }
  // A normal exit, so `--cpu-prof` writes its profile.
  if (m === 'exit') process.exit(0);
  if (m?.op === 'sample-start' || m?.op === 'sample-stop') void heapSample(m);
});

/**
 * Allocation sampling for `bench/promoted.mjs`: where the objects come from that outlive young-generation
 * GCs (promoted, then collected by a full GC) — the ones that make scavenges slow.
 */
let session;
async function heapSample(m) {
  if (m.op === 'sample-start') {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('HeapProfiler.startSampling', { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: m.all === true });
  } else {
    globalThis.gc?.();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(m.file, JSON.stringify(profile));
  }
  process.send({ id: m.id });
}
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
