/**
 * The Express and Koa adapters inside host apps built the way real ones are.
 *
 * Express 4 and 5: the gateway inside an `express.Router()` under `app.use('/api', router)`, behind
 * security headers, CORS, compression, a request logger, cookies and a session, `express.urlencoded`
 * and `express.json`, `res.locals`-based identify, `trust proxy`, `x-powered-by` off, `llm.errors` and a
 * host error handler. Koa 2 and 3: at the root, under `koa-mount` and behind a route matcher, behind
 * security headers, CORS, koa-compress, a session, a body parser (`@koa/bodyparser`, or co-body as
 * `koa-bodyparser` and `koa-body` use it), an upstream error handler that sets `ctx.body`, and
 * `ctx.state`-based identify.
 *
 * Only packages the repo installs are imported. helmet, compression, morgan, express-session,
 * cookie-parser, koa-mount, @koa/router, koa-helmet, @koa/cors, koa-bodyparser, koa-body and koa-session
 * are not; each was run against the adapters outside this file, and where a test needs one it uses the
 * small stand-in below that does what that package does to the request and response (named on each).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { createGzip, gunzipSync, type Gzip } from 'node:zlib';
import express from 'express';
import express4 from 'express4';
import Koa from 'koa';
import Koa2 from 'koa2';
import { bodyParser as koaBodyParser } from '@koa/bodyparser';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { gatewayMiddleware } from '@llmux/express';
import { gatewayMiddleware as koaGatewayMiddleware } from '@llmux/koa';
import { closeServer } from './helpers/apps.js';
import { readUntil } from './helpers/read-until.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const require = createRequire(import.meta.url);
// Installed with the repo (Express's and @nestjs/platform-express's dependencies); no types here.
const cors = require('cors') as (options?: Record<string, unknown>) => any;
const compress = require('koa-compress') as (options?: Record<string, unknown>) => any;
const onFinished = require('on-finished') as (res: ServerResponse, cb: () => void) => void;
const vary = require('vary') as (res: ServerResponse, field: string) => void;
const cookie = require('cookie') as { parse(s: string): Record<string, string>; serialize(n: string, v: string, o?: object): string };
const coBody = require('co-body') as { json(ctx: unknown, opts?: object): Promise<unknown> };
const compose = require('koa-compose') as (mw: Array<(ctx: any, next: () => Promise<void>) => Promise<void>>) => any;

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const ANSWER: string = COMPLETION.choices[0].message.content;
const hi = [{ role: 'user' as const, content: 'Hi' }];
const target = () => ({ provider: 'openai', api_key: 'sk-server', custom_host: `${upstream.url}/v1` });
const chatBody = (stream = false) => JSON.stringify({ model: 'gpt-4o-mini', messages: hi, ...(stream ? { stream: true } : {}) });
const JSON_HEADERS = { 'content-type': 'application/json' };
const post = (url: string, body: string, headers: Record<string, string> = JSON_HEADERS, signal?: AbortSignal) =>
  fetch(url, { method: 'POST', headers, body, signal });

/** The role and first words, then the upstream waits 5 s: long past every assertion. */
const enqueueSlowStream = () =>
  upstream.enqueue('/v1/chat/completions', { chunks: [STREAM[0]! + STREAM[1]!, ...STREAM.slice(2)], chunkDelayMs: 5000 });

async function listening(server: Server): Promise<string> {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const sdkFor = (gatewayURL: string, headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: `${gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: headers });

/**
 * The gateway at `gatewayURL` answers the openai SDK's chat and stream; a slow stream's first event
 * arrives before the upstream finished (nothing buffers it) and leaving it stops the upstream; a
 * malformed body and one missing `model` get the gateway's 400 in the OpenAI shape.
 */
async function expectGatewayServes(gatewayURL: string, headers: Record<string, string> = {}) {
  const sdk = sdkFor(gatewayURL, headers);
  upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM });
  const chat = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
  expect(chat.choices[0]!.message.content).toBe(ANSWER);
  let text = '';
  for await (const c of await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true })) text += c.choices[0]?.delta.content ?? '';
  expect(text.startsWith('The')).toBe(true);

  upstream.reset();
  enqueueSlowStream();
  const res = await post(`${gatewayURL}/v1/chat/completions`, chatBody(true), { ...JSON_HEADERS, ...headers, 'accept-encoding': 'gzip, deflate, br' });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  expect(res.headers.get('content-encoding')).toBeNull();
  const { reader } = await readUntil(res, '"content":"The"');
  await reader.cancel();
  await vi.waitFor(() => expect(upstream.aborted).toBe(1));

  const bad = await post(`${gatewayURL}/v1/chat/completions`, '{"model": "gpt-4o-mini", ', { ...JSON_HEADERS, ...headers });
  expect(bad.status).toBe(400);
  expect((await bad.json()).error).toMatchObject({ code: 'invalid_json', param: 'body', source: 'gateway' });
  const missing = await post(`${gatewayURL}/v1/chat/completions`, JSON.stringify({ messages: hi }), { ...JSON_HEADERS, ...headers });
  expect(missing.status).toBe(400);
  expect((await missing.json()).error).toMatchObject({ param: 'model' });
}

// ---------------------------------------------------------------------------------------------------
// Express stand-ins (each does to req/res what the named package does)
// ---------------------------------------------------------------------------------------------------

/** helmet(): security headers, among them a CSP that forbids inline scripts, and no X-Powered-By. */
const helmetLike = () => (_req: IncomingMessage, res: ServerResponse, next: () => void) => {
  res.setHeader('content-security-policy', "default-src 'self';script-src 'self';object-src 'none'");
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'SAMEORIGIN');
  res.setHeader('strict-transport-security', 'max-age=31536000; includeSubDomains');
  res.removeHeader('x-powered-by');
  next();
};

/**
 * compression() 1.8: decides when the headers go out; honours `Cache-Control: no-transform`; else
 * gzips everything written through its own `res.write`/`res.end`, and `res.flush()` pushes out what
 * the gzip stream holds (without it an SSE stream waits in zlib's buffer).
 */
const compressionLike = () => (req: IncomingMessage, res: ServerResponse & { flush?: () => void; _implicitHeader?: () => void }, next: () => void) => {
  const write = res.write;
  const end = res.end;
  const writeHead = res.writeHead;
  let gzip: Gzip | undefined;
  let decided = false;
  let ended = false;
  const decide = () => {
    if (decided) return;
    decided = true;
    vary(res, 'Accept-Encoding');
    if (/(?:^|,)\s*no-transform\s*(?:,|$)/.test(String(res.getHeader('cache-control') ?? ''))) return;
    if (req.method === 'HEAD' || res.getHeader('content-encoding') || !/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return;
    gzip = createGzip();
    res.setHeader('content-encoding', 'gzip');
    res.removeHeader('content-length');
    gzip.on('data', (chunk: Buffer) => {
      if (write.call(res, chunk) === false) gzip!.pause();
    });
    gzip.on('end', () => end.call(res));
    res.on('drain', () => gzip!.resume());
  };
  res.writeHead = function (this: ServerResponse, ...args: any[]) {
    decide();
    return (writeHead as any).apply(this, args);
  } as any;
  res.flush = () => gzip?.flush();
  res.write = function (this: any, chunk: any, encoding?: any) {
    if (ended) return false;
    if (!this.headersSent) this._implicitHeader();
    return gzip ? gzip.write(Buffer.from(chunk, encoding)) : (write as any).call(this, chunk, encoding);
  } as any;
  res.end = function (this: any, chunk?: any, encoding?: any) {
    if (ended) return this;
    if (!this.headersSent) this._implicitHeader();
    if (!gzip) return (end as any).call(this, chunk, encoding);
    ended = true;
    if (chunk) gzip.end(Buffer.from(chunk, encoding));
    else gzip.end();
    return this;
  } as any;
  next();
};

/** morgan(): one line per response once it finished (or the client left). */
const morganLike = (lines: string[]) => (req: any, res: ServerResponse, next: () => void) => {
  onFinished(res, () => lines.push(`${req.method} ${req.originalUrl} ${res.headersSent ? res.statusCode : '-'}`));
  next();
};

/**
 * cookie-parser + express-session (MemoryStore): `req.cookies`, `req.session` by the `sid` cookie, the
 * cookie set on the way out, and express-session's `res.end` wrapper — it writes all but the last
 * byte of a body with a Content-Length, saves the session asynchronously, then ends.
 */
function sessionLike(store: Map<string, Record<string, unknown>>) {
  let ids = 0;
  return (req: any, res: any, next: () => void) => {
    req.cookies = cookie.parse(String(req.headers.cookie ?? ''));
    const id: string = req.cookies.sid && store.has(req.cookies.sid) ? req.cookies.sid : `s${++ids}`;
    req.session = store.get(id) ?? {};
    const writeHead = res.writeHead;
    res.writeHead = function (...args: any[]) {
      if (!res.headersSent) res.setHeader('set-cookie', cookie.serialize('sid', id, { path: '/', httpOnly: true }));
      return writeHead.apply(this, args);
    };
    const _write = res.write;
    const _end = res.end;
    let ended = false;
    res.end = function end(chunk?: any, encoding?: any) {
      if (ended) return false;
      ended = true;
      let ret: any;
      let sync = true;
      const writeend = () => {
        if (sync) {
          ret = _end.call(res, chunk, encoding);
          sync = false;
          return;
        }
        _end.call(res);
      };
      const writetop = () => {
        if (!sync) return ret;
        if (!res.headersSent) res._implicitHeader();
        if (chunk == null) return (ret = true);
        const length = Number(res.getHeader('content-length'));
        if (!Number.isNaN(length) && length > 0) {
          chunk = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding);
          encoding = undefined;
          if (chunk.length !== 0) {
            ret = _write.call(res, chunk.subarray(0, chunk.length - 1));
            chunk = chunk.subarray(chunk.length - 1);
            return ret;
          }
        }
        ret = _write.call(res, chunk, encoding);
        sync = false;
        return ret;
      };
      setImmediate(() => {
        store.set(id, req.session);
        writeend();
      });
      return writetop();
    };
    next();
  };
}

const EXPRESSES = { express5: express as any, express4: express4 as any } as const;

for (const [name, ex] of Object.entries(EXPRESSES)) {
  describe(`${name}: the gateway in an express.Router() under /api in a production-style app`, () => {
    const opened: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const close of opened) await close();
    });

    /** The whole stack; `identify` reads what the app put on `res.locals` and in the session. */
    async function start() {
      const logLines: string[] = [];
      const hostErrors: any[] = [];
      const records: any[] = [];
      const ips: string[] = [];
      const sessions = new Map<string, Record<string, unknown>>();
      const app = ex();
      app.set('trust proxy', 1);
      app.disable('x-powered-by');
      app.use(helmetLike());
      app.use(cors({ origin: 'https://app.example', credentials: true, exposedHeaders: ['x-llmux-trace-id'] }));
      app.use(compressionLike());
      app.use(morganLike(logLines));
      app.use(sessionLike(sessions));
      app.use(ex.urlencoded({ extended: false }));
      app.use(ex.json());
      app.use((req: any, res: any, next: any) => {
        res.locals.user = req.get('x-user') ?? 'anonymous';
        res.locals.clientIp = req.ip;
        req.session.views = Number(req.session.views ?? 0) + 1;
        next();
      });
      const llm = gatewayMiddleware({
        logger: false,
        onLog: (r) => void records.push(r),
        config: { targets: [target()] },
        identify: (req: any) => {
          if (req.res.locals.user === 'mallory') throw Object.assign(new Error('not allowed'), { status: 403 });
          ips.push(req.res.locals.clientIp);
          return { user: req.res.locals.user };
        },
      });
      const router = ex.Router();
      router.get('/health', (_req: any, res: any) => res.json({ ok: true, locals: res.locals.user }));
      router.get('/llm/status', (_req: any, res: any) => res.json({ host: 'llm-status' }));
      router.post('/form', (req: any, res: any) => res.json({ form: req.body }));
      router.get('/boom', () => {
        throw new Error('host boom');
      });
      router.use(llm);
      app.use('/api', router);
      app.use(llm.errors);
      app.use((err: any, _req: any, res: any, _next: any) => {
        hostErrors.push(err);
        if (res.headersSent) return;
        res.status(err.status ?? 500).json({ host: 'error', message: err.message });
      });
      const server = app.listen(0, '127.0.0.1') as Server;
      const url = await listening(server);
      opened.push(async () => {
        await closeServer(server);
        await llm.close(200);
      });
      return { url, gatewayURL: `${url}/api/llm`, logLines, hostErrors, records, ips, sessions };
    }

    it('openai SDK chat and stream, SSE not held back by compression, abort stops the upstream, the gateway’s 400s; host routes, locals and errors unchanged', async () => {
      const { url, gatewayURL, logLines, hostErrors, records, ips } = await start();
      await expectGatewayServes(gatewayURL, { 'x-user': 'alice' });
      expect(records.filter((r) => r.route === 'chat').map((r) => r.identity?.user)).toContain('alice');

      // A JSON answer goes through compression (gzip) whole, with the host's headers beside the gateway's.
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      const gz = await request(`${gatewayURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...JSON_HEADERS, 'accept-encoding': 'gzip', origin: 'https://app.example', 'x-forwarded-for': '203.0.113.9' },
        body: chatBody(),
      });
      expect(gz.statusCode).toBe(200);
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gz.headers['x-powered-by']).toBeUndefined();
      expect(gz.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(gz.headers['access-control-allow-origin']).toBe('https://app.example');
      expect(String(gz.headers['set-cookie'])).toContain('sid=');
      expect(gz.headers['x-llmux-trace-id']).toBeTruthy();
      expect(JSON.parse(gunzipSync(Buffer.from(await gz.body.arrayBuffer())).toString('utf8')).choices[0].message.content).toBe(ANSWER);
      expect(records.at(-1)?.identity).toMatchObject({ user: 'anonymous' });
      // identify got Express's own req: `trust proxy` applied to req.ip.
      expect(ips.at(-1)).toBe('203.0.113.9');

      // The host's own routes, its form parser, its own route under /api/llm registered before the gateway, its error handler.
      expect(await (await fetch(`${url}/api/health`, { headers: { 'x-user': 'bob' } })).json()).toEqual({ ok: true, locals: 'bob' });
      expect(await (await fetch(`${url}/api/llm/status`)).json()).toEqual({ host: 'llm-status' });
      const form = await post(`${url}/api/form`, 'a=1&b=two', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(await form.json()).toEqual({ form: { a: '1', b: 'two' } });
      const boom = await fetch(`${url}/api/boom`);
      expect(boom.status).toBe(500);
      expect(await boom.json()).toEqual({ host: 'error', message: 'host boom' });
      // Malformed JSON on a host route stays the host's error.
      const hostBad = await post(`${url}/api/form`, '{"a": ');
      expect(hostBad.status).toBe(400);
      expect(await hostBad.json()).toMatchObject({ host: 'error' });

      await vi.waitFor(() => expect(logLines.some((l) => l.startsWith('GET /api/boom 500'))).toBe(true));
      expect(logLines.filter((l) => l.startsWith('POST /api/llm/v1/chat/completions 400'))).toHaveLength(2);
      // Only the host's own two errors reached its handler: nothing from the gateway, no "headers already sent".
      expect(hostErrors.map((e) => e.message)).toEqual(['host boom', expect.stringContaining('JSON')]);
      expect(hostErrors.some((e) => e.code === 'ERR_HTTP_HEADERS_SENT' || e.code === 'ERR_STREAM_WRITE_AFTER_END')).toBe(false);
    });

    it('identify throwing goes to the host error handler without an upstream call; a client that leaves a pending call stops it', async () => {
      const { gatewayURL, hostErrors } = await start();
      upstream.route('/v1/chat/completions', { json: COMPLETION });
      const refused = await post(`${gatewayURL}/v1/chat/completions`, chatBody(), { ...JSON_HEADERS, 'x-user': 'mallory' });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({ host: 'error', message: 'not allowed' });
      expect(upstream.requests).toHaveLength(0);

      upstream.reset();
      upstream.enqueue('/v1/chat/completions', { hang: true });
      const controller = new AbortController();
      const pending = post(`${gatewayURL}/v1/chat/completions`, chatBody(), JSON_HEADERS, controller.signal).catch((e: Error) => e.name);
      await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
      controller.abort();
      expect(await pending).toBe('AbortError');
      await vi.waitFor(() => expect(upstream.aborted).toBe(1));
      expect(hostErrors.map((e) => e.message)).toEqual(['not allowed']);
    });

    it('the playground keeps its own nonce CSP under the host’s helmet CSP, and the session the host keeps still works', async () => {
      const { gatewayURL, sessions } = await start();
      const page = await fetch(`${gatewayURL}/playground`);
      expect(page.status).toBe(200);
      const csp = page.headers.get('content-security-policy')!;
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
      expect(nonce).toBeTruthy();
      expect(await page.text()).toContain(`<script nonce="${nonce}">`);
      const sid = /sid=([^;]+)/.exec(page.headers.get('set-cookie') ?? '')?.[1];
      expect(sid).toBeTruthy();
      const models = await fetch(`${gatewayURL}/v1/models`, { headers: { cookie: `sid=${sid}` } });
      expect(models.status).toBe(200);
      await models.text();
      expect(sessions.get(sid!)).toEqual({ views: 2 });
    });

    it('a middleware mounted at the gateway’s own prefix that calls next() (auth on /llm) leaves the gateway serving it', async () => {
      const app = ex();
      const llm = gatewayMiddleware({ logger: false, config: { targets: [target()] }, identify: (req: any) => ({ user: req.user }) });
      app.use('/llm', (req: any, _res: any, next: any) => {
        req.user = 'carol';
        next();
      });
      app.use(llm);
      const server = app.listen(0, '127.0.0.1') as Server;
      const url = await listening(server);
      opened.push(async () => {
        await closeServer(server);
        await llm.close(200);
      });
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      expect((await sdkFor(`${url}/llm`).chat.completions.create({ model: 'gpt-4o-mini', messages: hi })).choices[0]!.message.content).toBe(ANSWER);
    });

    describe('mounts an error handler at the root must still recognise', () => {
      // Guards (fixed): with the gateway under a parametrised mount (/t/:tenant), llm.errors only knows baseUrls it already served, so a tenant's first malformed body gets the host's error page instead of the gateway's 400.
      it('llm.errors at the root answers a malformed body for a tenant the gateway has not served yet (app.use("/t/:tenant", router))', async () => {
        const app = ex();
        const llm = gatewayMiddleware({ logger: false, config: { targets: [target()] } });
        app.use(ex.json());
        const router = ex.Router({ mergeParams: true });
        router.use(llm);
        app.use('/t/:tenant', router);
        app.use(llm.errors);
        app.use((err: any, _req: any, res: any, _next: any) => res.status(err.status ?? 500).json({ host: 'error', message: err.message }));
        const server = app.listen(0, '127.0.0.1') as Server;
        const url = await listening(server);
        opened.push(async () => {
          await closeServer(server);
          await llm.close(200);
        });
        upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
        expect((await post(`${url}/t/acme/llm/v1/chat/completions`, chatBody())).status).toBe(200);
        const served = await post(`${url}/t/acme/llm/v1/chat/completions`, '{"model": ');
        expect((await served.json()).error).toMatchObject({ code: 'invalid_json' });

        const other = await post(`${url}/t/globex/llm/v1/chat/completions`, '{"model": ');
        expect(other.status).toBe(400);
        expect(await other.json()).toMatchObject({ error: { code: 'invalid_json', param: 'body', source: 'gateway' } });
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Koa stand-ins
// ---------------------------------------------------------------------------------------------------

type KoaMiddleware = (ctx: any, next: () => Promise<void>) => Promise<void>;

/**
 * koa-mount 4.2.0, its algorithm as published: strips `prefix` from `ctx.path` for `app`, sets
 * `ctx.mountPath = prefix`, and puts the path back (but not `mountPath`) when `app` calls `next()`.
 */
function mount(prefix: string, app: KoaMiddleware | KoaMiddleware[]): KoaMiddleware {
  const downstream: KoaMiddleware = Array.isArray(app) ? compose(app) : app;
  const trailingSlash = prefix.slice(-1) === '/';
  const match = (path: string): string | false => {
    if (path.indexOf(prefix) !== 0) return false;
    const newPath = path.replace(prefix, '') || '/';
    if (trailingSlash) return newPath;
    if (newPath[0] !== '/') return false;
    return newPath;
  };
  return async (ctx, upstreamNext) => {
    const prev = ctx.path;
    const newPath = match(prev);
    if (!newPath) return await upstreamNext();
    ctx.mountPath = prefix;
    ctx.path = newPath;
    try {
      await downstream(ctx, async () => {
        ctx.path = prev;
        await upstreamNext();
        ctx.path = newPath;
      });
    } finally {
      ctx.path = prev;
    }
  };
}

/** koa-bodyparser 4 / koa-body: co-body parses JSON into `ctx.request.body` and throws its errors; other types get `{}`. */
const coBodyParser = (): KoaMiddleware => async (ctx, next) => {
  if (ctx.request.body === undefined) ctx.request.body = ctx.request.is('json') ? await coBody.json(ctx, { limit: '1mb' }) : {};
  await next();
};

/** koa-helmet: security headers before the rest. */
const koaHelmetLike = (): KoaMiddleware => async (ctx, next) => {
  ctx.set({ 'content-security-policy': "default-src 'self';script-src 'self'", 'x-content-type-options': 'nosniff', 'x-frame-options': 'SAMEORIGIN' });
  await next();
};

/** @koa/cors: Vary and Allow-Origin on every answer, a 204 for preflights. */
const koaCorsLike = (): KoaMiddleware => async (ctx, next) => {
  ctx.vary('Origin');
  const origin = ctx.get('Origin');
  if (!origin) return await next();
  ctx.set('Access-Control-Allow-Origin', origin);
  ctx.set('Access-Control-Expose-Headers', 'x-llmux-trace-id');
  if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
    ctx.set('Access-Control-Allow-Methods', 'GET,HEAD,PUT,POST,DELETE,PATCH');
    ctx.set('Access-Control-Allow-Headers', ctx.get('Access-Control-Request-Headers'));
    ctx.status = 204;
    return;
  }
  await next();
};

/** koa-session (cookie store): `ctx.session` from a signed cookie, committed after `next()`. */
const koaSessionLike = (): KoaMiddleware => async (ctx, next) => {
  const raw = ctx.cookies.get('koa.sess', { signed: true });
  ctx.session = raw ? JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) : {};
  await next();
  ctx.cookies.set('koa.sess', Buffer.from(JSON.stringify(ctx.session)).toString('base64'), { signed: true, httpOnly: true });
};

/** @koa/router's `router.all('/llm/{*rest}', mw)`: the route matched, `ctx.params` filled, the URL unchanged. */
const routeAll = (pattern: RegExp, mw: KoaMiddleware): KoaMiddleware => async (ctx, next) => {
  const m = pattern.exec(ctx.path);
  if (!m) return await next();
  ctx.params = { rest: m[1] };
  ctx._matchedRoute = '/llm/{*rest}';
  await mw(ctx, next);
};

const KOAS = { koa3: Koa as any, koa2: Koa2 as any } as const;
const PARSERS: Record<string, () => KoaMiddleware> = {
  '@koa/bodyparser': () => koaBodyParser() as KoaMiddleware,
  'co-body (koa-bodyparser, koa-body)': coBodyParser,
};
/** Where the gateway goes, and its URL then. */
const PLACES: Record<string, { mount(llm: KoaMiddleware): KoaMiddleware; base: string }> = {
  root: { mount: (llm) => llm, base: '/llm' },
  "koa-mount('/llm')": { mount: (llm) => mount('/llm', llm), base: '/llm' },
  'router.all(/llm/{*rest})': { mount: (llm) => routeAll(/^\/llm\/(.*)$/, llm), base: '/llm' },
};

/** The upstream error handler most Koa apps start with. */
const hostErrorHandler = (caught: any[]): KoaMiddleware => async (ctx, next) => {
  try {
    await next();
  } catch (err: any) {
    caught.push(err);
    ctx.status = err.status ?? 500;
    ctx.body = { host: 'error', message: err.message };
  }
};

for (const [name, KoaClass] of Object.entries(KOAS)) {
  describe(`${name}: the gateway in a production-style Koa app`, () => {
    const opened: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const close of opened) await close();
    });

    async function start(place: (llm: KoaMiddleware) => KoaMiddleware, parser: () => KoaMiddleware) {
      const app = new KoaClass();
      app.keys = ['k1'];
      app.silent = true;
      const caught: any[] = [];
      const appErrors: any[] = [];
      const records: any[] = [];
      app.on('error', (e: any) => void appErrors.push(e));
      app.use(hostErrorHandler(caught));
      app.use(koaHelmetLike());
      app.use(koaCorsLike());
      app.use(compress({ threshold: 0 }));
      app.use(koaSessionLike());
      const llm = koaGatewayMiddleware({
        logger: false,
        onLog: (r) => void records.push(r),
        config: { targets: [target()] },
        identify: (ctx: any) => {
          if (ctx.state.user === 'mallory') ctx.throw(403, 'not allowed');
          return { user: ctx.state.user, team: ctx.session.team };
        },
      });
      app.use(llm.errors);
      app.use(parser());
      app.use(async (ctx: any, next: () => Promise<void>) => {
        ctx.state.user = ctx.get('x-user') || 'anonymous';
        ctx.session.team = 'blue';
        if (ctx.path === '/health') ctx.body = { ok: true, user: ctx.state.user };
        else if (ctx.path === '/llm/status') ctx.body = { host: 'llm-status' };
        else if (ctx.path === '/echo') ctx.body = { body: ctx.request.body ?? null };
        else if (ctx.path === '/boom') ctx.throw(418, 'teapot');
        else await next();
      });
      app.use(place(llm as KoaMiddleware));
      const server = app.listen(0, '127.0.0.1') as Server;
      const url = await listening(server);
      opened.push(async () => {
        await closeServer(server);
        await llm.close(200);
      });
      return { url, caught, appErrors, records };
    }

    for (const [placeName, place] of Object.entries(PLACES)) {
      for (const [parserName, parser] of Object.entries(PARSERS)) {
        it(`${placeName} behind ${parserName}, koa-compress, a session and an error handler: SDK chat and stream, abort, the gateway’s 400s, the host’s routes and errors`, async () => {
          const { url, caught, appErrors, records } = await start(place.mount, parser);
          await expectGatewayServes(`${url}${place.base}`, { 'x-user': 'alice', origin: 'https://app.example' });
          expect(records.filter((r) => r.route === 'chat').map((r) => r.identity)).toContainEqual({ user: 'alice', team: 'blue' });

          upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
          const gz = await request(`${url}${place.base}/v1/chat/completions`, { method: 'POST', headers: { ...JSON_HEADERS, 'accept-encoding': 'gzip', origin: 'https://app.example' }, body: chatBody() });
          expect(gz.statusCode).toBe(200);
          expect(gz.headers['access-control-allow-origin']).toBe('https://app.example');
          expect(gz.headers['x-frame-options']).toBe('SAMEORIGIN');
          expect(String(gz.headers['set-cookie'])).toContain('koa.sess=');
          const bytes = Buffer.from(await gz.body.arrayBuffer());
          const text = gz.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
          expect(JSON.parse(text).choices[0].message.content).toBe(ANSWER);

          expect(await (await fetch(`${url}/health`, { headers: { 'x-user': 'bob' } })).json()).toEqual({ ok: true, user: 'bob' });
          expect(await (await fetch(`${url}/llm/status`)).json()).toEqual({ host: 'llm-status' });
          expect(await (await post(`${url}/echo`, '{"a":1}')).json()).toEqual({ body: { a: 1 } });
          const boom = await fetch(`${url}/boom`);
          expect(boom.status).toBe(418);
          expect(await boom.json()).toEqual({ host: 'error', message: 'teapot' });
          const hostBad = await post(`${url}/echo`, '{"a": ');
          expect(hostBad.status).toBe(400);
          expect(await hostBad.json()).toMatchObject({ host: 'error' });

          expect(caught.map((e) => e.status)).toEqual([418, 400]);
          // Koa 3 reports the client that left mid-stream as ERR_STREAM_PREMATURE_CLOSE (documented); nothing else.
          expect(appErrors.filter((e) => e.code !== 'ERR_STREAM_PREMATURE_CLOSE')).toEqual([]);
          expect(appErrors.some((e) => e.headerSent && e.code !== 'ERR_STREAM_PREMATURE_CLOSE')).toBe(false);
        });
      }
    }

    it('identify throwing (ctx.throw in a ctx.state check) is the host’s error with no upstream call; a preflight is the CORS middleware’s', async () => {
      const { url, caught } = await start(PLACES.root!.mount, PARSERS['@koa/bodyparser']!);
      upstream.route('/v1/chat/completions', { json: COMPLETION });
      const refused = await post(`${url}/llm/v1/chat/completions`, chatBody(), { ...JSON_HEADERS, 'x-user': 'mallory' });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toEqual({ host: 'error', message: 'not allowed' });
      expect(upstream.requests).toHaveLength(0);
      expect(caught.map((e) => e.status)).toEqual([403]);
      const preflight = await fetch(`${url}/llm/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    });

    it("koa-mount('/api', llm): served at /api/llm with llm.errors inside the mount ahead of the parser", async () => {
      const app = new KoaClass();
      app.silent = true;
      const caught: any[] = [];
      app.use(hostErrorHandler(caught));
      const llm = koaGatewayMiddleware({ logger: false, config: { targets: [target()] } });
      app.use(mount('/api', [llm.errors as KoaMiddleware, koaBodyParser() as KoaMiddleware, llm as KoaMiddleware]));
      const server = app.listen(0, '127.0.0.1') as Server;
      const url = await listening(server);
      opened.push(async () => {
        await closeServer(server);
        await llm.close(200);
      });
      await expectGatewayServes(`${url}/api/llm`);
      expect(caught).toEqual([]);
    });

    describe('mounts an error handler at the root must still recognise', () => {
      // Guards (fixed): koa-mount leaves ctx.mountPath set after its middleware calls next(); a mount at the gateway's prefix (auth on /llm) makes the adapter take the unstripped URL as already stripped, so every gateway route is a 404.
      it("koa-mount('/llm', auth) that calls next(), then app.use(llm): the openai SDK's chat and GET /v1/models are served", async () => {
        const app = new KoaClass();
        app.silent = true;
        const llm = koaGatewayMiddleware({ logger: false, config: { targets: [target()] }, identify: (ctx: any) => ({ user: ctx.state.user }) });
        app.use(
          mount('/llm', async (ctx, next) => {
            ctx.state.user = 'carol';
            await next();
          }),
        );
        app.use(llm);
        const server = app.listen(0, '127.0.0.1') as Server;
        const url = await listening(server);
        opened.push(async () => {
          await closeServer(server);
          await llm.close(200);
        });
        const models = await fetch(`${url}/llm/v1/models`);
        expect(models.status).toBe(200);
        upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
        const chat = await post(`${url}/llm/v1/chat/completions`, chatBody());
        expect(chat.status).toBe(200);
        expect((await chat.json()).choices[0].message.content).toBe(ANSWER);
      });

      // Guards (fixed): llm.errors at the root (ahead of the parser, as the README says) only sees ctx.url, so with the gateway under koa-mount('/api') a malformed body gets the host's error, not the gateway's 400 — the Express adapter handles this very case.
      it("llm.errors at the root, the gateway under koa-mount('/api'): a malformed body gets the gateway's 400, also after the gateway served a request there", async () => {
        const app = new KoaClass();
        app.silent = true;
        const caught: any[] = [];
        app.use(hostErrorHandler(caught));
        const llm = koaGatewayMiddleware({ logger: false, config: { targets: [target()] } });
        app.use(llm.errors);
        app.use(koaBodyParser());
        app.use(mount('/api', llm));
        const server = app.listen(0, '127.0.0.1') as Server;
        const url = await listening(server);
        opened.push(async () => {
          await closeServer(server);
          await llm.close(200);
        });
        upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
        expect((await post(`${url}/api/llm/v1/chat/completions`, chatBody())).status).toBe(200);
        const bad = await post(`${url}/api/llm/v1/chat/completions`, '{"model": ');
        expect(bad.status).toBe(400);
        expect(await bad.json()).toMatchObject({ error: { code: 'invalid_json', param: 'body', source: 'gateway' } });
      });
    });
  });
}
