/**
 * The gateway inside host apps built the way real ones are: CORS, body parsers of every kind before
 * it, header-setting and timeout middleware, routers, error handlers after it, compression, Koa
 * error wrappers, NestJS with prefix, versioning, global interceptors and pipes. In each, chat (JSON
 * and stream, first event before the upstream finishes), embeddings, bad bodies in the OpenAI error
 * shape, the host's own routes, and the upstream closed when the client leaves — or when the host
 * app answers first (a timeout middleware or interceptor): nobody reads the gateway's answer then.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import express from 'express';
import express4 from 'express4';
import Koa from 'koa';
import Koa2 from 'koa2';
import { bodyParser as koaBodyParser } from '@koa/bodyparser';
import { Controller, Get, Module, RequestTimeoutException, VersioningType, type CallHandler, type ExecutionContext, type NestInterceptor, type PipeTransform } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import OpenAI from 'openai';
import { catchError, map, tap, throwError, timeout, TimeoutError } from 'rxjs';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { gatewayMiddleware } from '@llmux/express';
import { gatewayMiddleware as koaGatewayMiddleware } from '@llmux/koa';
import { GatewayModule } from '@llmux/nestjs';
import { closeServer } from './helpers/apps.js';
import { readUntil } from './helpers/read-until.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const require = createRequire(import.meta.url);
// `cors` is installed with @nestjs/platform-express; it has no types here.
const cors = require('cors') as (options?: Record<string, unknown>) => any;

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const EMBEDDINGS = fixtureJson('openai/embeddings.float.json');
const hi = [{ role: 'user' as const, content: 'Hi' }];
const target = () => ({ provider: 'openai', api_key: 'sk-server', custom_host: `${upstream.url}/v1` });
const chatBody = (stream = false) => JSON.stringify({ model: 'gpt-4o-mini', messages: hi, ...(stream ? { stream: true } : {}) });
const post = (url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, signal?: AbortSignal) =>
  fetch(url, { method: 'POST', headers, body, signal });

/** The role and first words, then the upstream waits 5 s: long past every assertion. */
const enqueueSlowStream = () =>
  upstream.enqueue('/v1/chat/completions', { chunks: [STREAM[0]! + STREAM[1]!, ...STREAM.slice(2)], chunkDelayMs: 5000 });

async function listening(server: Server): Promise<string> {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * What every host app must still get from the gateway at `gatewayURL`: the openai SDK's chat, stream
 * and embeddings, the first event of a slow stream before the upstream finishes (with the upstream
 * closed once the client leaves), and a bad body answered 400 in the OpenAI error shape.
 */
async function expectGatewayWorks(gatewayURL: string, options: { badJson?: boolean } = {}) {
  const sdk = new OpenAI({ baseURL: `${gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM });
  const chat = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
  expect(chat.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
  let text = '';
  for await (const c of await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true })) text += c.choices[0]?.delta.content ?? '';
  expect(text.length).toBeGreaterThan(0);

  upstream.enqueue('/v1/embeddings', { json: EMBEDDINGS });
  const embeddings = await sdk.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
  expect(embeddings.data[0]!.embedding.length).toBeGreaterThan(10);

  upstream.reset();
  enqueueSlowStream();
  const res = await post(`${gatewayURL}/v1/chat/completions`, chatBody(true));
  expect(res.status).toBe(200);
  const { reader } = await readUntil(res, '"content":"The"');
  await reader.cancel();
  await vi.waitFor(() => expect(upstream.aborted).toBe(1));

  const missing = await post(`${gatewayURL}/v1/chat/completions`, JSON.stringify({ messages: hi }));
  expect(missing.status).toBe(400);
  expect((await missing.json()).error).toMatchObject({ param: 'model' });
  if (options.badJson !== false) {
    const bad = await post(`${gatewayURL}/v1/chat/completions`, '{"model": "gpt-4o", ');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: 'invalid_json', param: 'body' });
  }
}

const EXPRESSES = { express5: express as any, express4: express4 as any } as const;

for (const [name, ex] of Object.entries(EXPRESSES)) {
  describe(`${name}: a production-style middleware stack`, () => {
    const opened: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const close of opened) await close();
    });

    async function start(setup: (app: any, mw: ReturnType<typeof gatewayMiddleware>) => void) {
      const app = ex();
      const mw = gatewayMiddleware({ logger: false, config: { targets: [target()] } });
      setup(app, mw);
      const server = app.listen(0, '127.0.0.1') as Server;
      const url = await listening(server);
      opened.push(async () => {
        await closeServer(server);
        await mw.close(200);
      });
      return { url, mw };
    }

    it('cors, urlencoded, text, header middleware, trust proxy, a Router at /api and an error handler after it', async () => {
      const errors: unknown[] = [];
      const { url } = await start((app, mw) => {
        app.set('trust proxy', true);
        app.use(cors({ origin: 'https://app.example', exposedHeaders: ['x-llmux-trace-id'] }));
        app.use((_req: any, res: any, next: any) => {
          res.setHeader('x-content-type-options', 'nosniff');
          res.setHeader('x-frame-options', 'SAMEORIGIN');
          next();
        });
        app.use(ex.urlencoded({ extended: false }));
        app.use(ex.text());
        const router = ex.Router();
        router.get('/health', (_req: any, res: any) => res.json({ ok: true }));
        router.use(mw);
        app.use('/api', router);
        app.use((err: any, _req: any, res: any, _next: any) => {
          errors.push(err);
          res.status(500).json({ host: 'error' });
        });
      });
      await expectGatewayWorks(`${url}/api/llm`);
      await expectPreflight(`${url}/api/llm/v1/chat/completions`);
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      const res = await post(`${url}/api/llm/v1/chat/completions`, chatBody(), { 'content-type': 'application/json', origin: 'https://app.example', 'x-forwarded-for': '1.2.3.4' });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(res.headers.get('access-control-expose-headers')).toContain('x-llmux-trace-id');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('vary')).toContain('Origin');
      expect(await (await fetch(`${url}/api/health`)).json()).toEqual({ ok: true });
      expect(errors).toEqual([]);
    });

    it('a body already read by express.raw() or express.text() for every type is used, and bad JSON is still a 400 in the OpenAI shape', async () => {
      for (const parser of [ex.raw({ type: '*/*' }), ex.text({ type: '*/*' })]) {
        upstream.reset();
        const { url } = await start((app, mw) => {
          app.use(parser);
          app.use(mw);
        });
        await expectGatewayWorks(`${url}/llm`);
      }
    });

    /** A host timeout that answers 503 after 300 ms unless the gateway answered first. */
    const withTimeout = (app: any, gw: ReturnType<typeof gatewayMiddleware>) => {
      app.use((_req: any, res: any, next: any) => {
        const timer = setTimeout(() => {
          if (!res.headersSent) res.status(503).json({ error: { message: 'request timed out', type: 'timeout' } });
        }, 300);
        res.on('close', () => clearTimeout(timer));
        next();
      });
      app.use(ex.json());
      app.use(gw);
    };

    it('a timeout middleware that answers first stops the pending upstream call (JSON)', async () => {
      const { url } = await start(withTimeout);
      upstream.enqueue('/v1/chat/completions', { hang: true });
      const json = await post(`${url}/llm/v1/chat/completions`, chatBody());
      expect(json.status).toBe(503);
      await vi.waitFor(() => expect(upstream.aborted).toBe(1), { timeout: 3000 });
    });

    it('a timeout middleware that answers before the first token stops the upstream stream, and the app keeps serving', async () => {
      const { url } = await start(withTimeout);
      upstream.enqueue('/v1/chat/completions', { chunks: STREAM, chunkDelayMs: 200, delayMs: 400 });
      const stream = await post(`${url}/llm/v1/chat/completions`, chatBody(true));
      expect(stream.status).toBe(503);
      await stream.text();
      await vi.waitFor(() => expect(upstream.aborted).toBe(1), { timeout: 3000 });
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      expect((await post(`${url}/llm/v1/chat/completions`, chatBody())).status).toBe(200);
    });
  });
}

const KOAS = { koa3: Koa as any, koa2: Koa2 as any } as const;

for (const [name, KoaClass] of Object.entries(KOAS)) {
  describe(`${name}: an error-wrapping middleware, koa-compress and a body parser`, () => {
    it('chat, streams, embeddings, OpenAI-shaped 400s and the host routes behind them', async () => {
      const { default: compress } = await import('koa-compress');
      for (const withParser of [true, false]) {
        upstream.reset();
        const app = new KoaClass();
        app.silent = true;
        const caught: unknown[] = [];
        app.use(async (ctx: any, next: () => Promise<void>) => {
          try {
            await next();
          } catch (err: any) {
            caught.push(err);
            ctx.status = err.status ?? 500;
            ctx.body = { error: { message: err.message, type: 'host' } };
          }
        });
        app.use(async (ctx: any, next: () => Promise<void>) => {
          const started = Date.now();
          await next();
          ctx.set('x-response-time', `${Date.now() - started}ms`);
        });
        app.use(compress({ threshold: 0 }));
        if (withParser) app.use(koaBodyParser());
        app.use(async (ctx: any, next: () => Promise<void>) => {
          if (ctx.path === '/health') ctx.body = { ok: true };
          else await next();
        });
        const mw = koaGatewayMiddleware({ logger: false, config: { targets: [target()] } });
        app.use(mw);
        const server = app.listen(0, '127.0.0.1') as Server;
        const url = await listening(server);
        try {
          await expectGatewayWorks(`${url}/llm`, { badJson: !withParser });
          upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
          const res = await request(`${url}/llm/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' }, body: chatBody() });
          expect(res.statusCode).toBe(200);
          expect(res.headers['x-response-time']).toMatch(/ms$/);
          const bytes = Buffer.from(await res.body.arrayBuffer());
          const text = res.headers['content-encoding'] === 'gzip' ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
          expect(JSON.parse(text).choices[0].message.content).toBe(COMPLETION.choices[0].message.content);
          expect(await (await fetch(`${url}/health`)).json()).toEqual({ ok: true });
          expect(caught).toEqual([]);
        } finally {
          await closeServer(server);
          await mw.close(200);
        }
      }
    });
  });
}

for (const [name, KoaClass] of Object.entries(KOAS)) {
  it(`${name}: a timeout middleware (Promise.race around next) that answers first stops the upstream call`, async () => {
    const app = new KoaClass();
    app.silent = true;
    app.use(async (ctx: any, next: () => Promise<void>) => {
      try {
        await next();
      } catch (err: any) {
        ctx.status = err.status ?? 500;
        ctx.body = { error: { message: err.message, type: 'host' } };
      }
    });
    app.use(async (_ctx: any, next: () => Promise<void>) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('request timed out'), { status: 503 })), 300);
      });
      try {
        await Promise.race([next(), late]);
      } finally {
        clearTimeout(timer);
      }
    });
    const mw = koaGatewayMiddleware({ logger: false, config: { targets: [target()] } });
    app.use(mw);
    const server = app.listen(0, '127.0.0.1') as Server;
    const url = await listening(server);
    try {
      upstream.enqueue('/v1/chat/completions', { hang: true });
      const res = await post(`${url}/llm/v1/chat/completions`, chatBody());
      expect(res.status).toBe(503);
      await vi.waitFor(() => expect(upstream.aborted).toBe(1), { timeout: 3000 });
    } finally {
      await closeServer(server);
      await mw.close(200);
    }
  });
}

/** Applies Nest decorators without decorator syntax (test files are not compiled with it). */
function decorate(target: any, method: string, ...decorators: Array<(t: any, k: string, d: PropertyDescriptor) => void>) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method)!;
  for (const d of decorators) d(target.prototype, method, descriptor);
}


/** A CORS preflight for a gateway route is answered by the host's `cors` middleware. */
async function expectPreflight(url: string) {
  const preflight = await fetch(url, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
}

describe('NestJS with a global prefix, URI versioning, global interceptors and pipes, CORS', () => {
  for (const bodyParser of [true, false]) {
    it(`bodyParser: ${bodyParser}`, async () => {
      class HostController {
        health() {
          return { ok: true };
        }
      }
      Controller({ path: 'status', version: '1' })(HostController);
      decorate(HostController, 'health', Get());
      class AppModule {}
      Module({ imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, config: { targets: [target()] } })], controllers: [HostController] })(AppModule);
      const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false, bodyParser });
      app.setGlobalPrefix('api');
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
      app.enableCors({ origin: 'https://app.example' });
      /** The usual envelope-and-timing interceptor; it must not touch what the gateway writes. */
      class Envelope implements NestInterceptor {
        intercept(_ctx: ExecutionContext, next: CallHandler) {
          const started = Date.now();
          return next.handle().pipe(
            map((data) => (data === undefined ? data : { data })),
            tap(() => void (Date.now() - started)),
          );
        }
      }
      class Strict implements PipeTransform {
        transform(value: unknown) {
          if (value && typeof value === 'object' && 'forbidden' in value) throw new Error('forbidden');
          return value;
        }
      }
      app.useGlobalInterceptors(new Envelope());
      app.useGlobalPipes(new Strict());
      if (bodyParser) app.useBodyParser('json', { limit: '10mb' });
      await app.listen(0, '127.0.0.1');
      const server = app.getHttpServer() as Server;
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        await expectGatewayWorks(`${url}/api/llm`, { badJson: !bodyParser });
        await expectPreflight(`${url}/api/llm/v1/chat/completions`);
        upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
        const res = await post(`${url}/api/llm/v1/chat/completions`, chatBody(), { 'content-type': 'application/json', origin: 'https://app.example' });
        expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
        expect((await res.json()).choices[0].message.content).toBe(COMPLETION.choices[0].message.content);
        expect(await (await fetch(`${url}/api/v1/status`)).json()).toEqual({ data: { ok: true } });
      } finally {
        server.closeAllConnections();
        await app.close();
      }
    });
  }
});

describe('NestJS with the usual global TimeoutInterceptor', () => {
  it('a call past the timeout gets the 408 and its upstream call is stopped; a stream longer than the timeout arrives whole and the app keeps answering', async () => {
    class AppModule {}
    Module({ imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, config: { targets: [target()] } })] })(AppModule);
    const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false });
    class Timeout implements NestInterceptor {
      intercept(_ctx: ExecutionContext, next: CallHandler) {
        return next.handle().pipe(
          timeout(300),
          catchError((err) => throwError(() => (err instanceof TimeoutError ? new RequestTimeoutException() : err))),
        );
      }
    }
    app.useGlobalInterceptors(new Timeout());
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer() as Server;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const crashed: unknown[] = [];
    const onUncaught = (e: unknown) => void crashed.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      upstream.enqueue('/v1/chat/completions', { hang: true });
      const json = await post(`${url}/llm/v1/chat/completions`, chatBody());
      expect(json.status).toBe(408);
      await vi.waitFor(() => expect(upstream.aborted).toBe(1), { timeout: 3000 });

      // A stream outlives the handler, as on Nest's own @Sse routes: the timeout bounds the wait for it
      // to start, and a stream longer than the timeout arrives whole.
      upstream.reset();
      upstream.enqueue('/v1/chat/completions', { chunks: STREAM, chunkDelayMs: 150 });
      const stream = await post(`${url}/llm/v1/chat/completions`, chatBody(true));
      expect(stream.status).toBe(200);
      const text = await stream.text();
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(upstream.aborted).toBe(0);
      await new Promise((r) => setTimeout(r, 200));
      expect(crashed).toEqual([]);
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      expect((await post(`${url}/llm/v1/chat/completions`, chatBody())).status).toBe(200);
    } finally {
      process.off('uncaughtException', onUncaught);
      server.closeAllConnections();
      await app.close();
    }
  });
});
