/**
 * The gateway inside host apps with the middleware and enhancers real ones carry: NestJS global
 * guards, catch-all exception filters, envelope and timeout interceptors, whitelisting pipes, a
 * global prefix that excludes the gateway, versioning, CORS, helmet- and compression-style
 * middleware; Express with compression, cors, helmet, cookie/session middleware, trust proxy, a
 * router at /llm ahead of the gateway, HEAD and OPTIONS; Koa with CORS, helmet, koa-compress and a
 * `ctx.respond = false` catch-all. `compression`, `helmet`, `cookie-parser`, `express-session`,
 * `@koa/cors` and `koa-helmet` are not installed here: minimal equivalents are written inline
 * (compression follows expressjs/compression's rules: compressible types, threshold, no-transform,
 * HEAD, `res.flush`, drain listeners).
 */
import { compression } from './helpers/compression.js';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import express from 'express';
import express4 from 'express4';
import Koa from 'koa';
import Koa2 from 'koa2';
import OpenAI from 'openai';
import { request } from 'undici';
import {
  BadRequestException,
  Body,
  Catch,
  Controller,
  ForbiddenException,
  HttpCode,
  Inject,
  Module,
  Post,
  RequestMethod,
  RequestTimeoutException,
  Sse,
  VersioningType,
  type ArgumentMetadata,
  type ArgumentsHost,
  type CallHandler,
  type ExceptionFilter,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { catchError, map, throwError, timeout, TimeoutError } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gatewayMiddleware } from '@llmux/express';
import { gatewayMiddleware as koaGatewayMiddleware } from '@llmux/koa';
import { GatewayModule, GatewayService } from '@llmux/nestjs';
import { closeServer } from './helpers/apps.js';
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

/** Servers and apps opened by the running test, closed after it whatever happened. */
const toClose: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const STREAM_TEXT = 'The capital of the UK is London.';
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const RATE_LIMITED = { status: 429, json: { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded', param: null } } };
const hi = [{ role: 'user' as const, content: 'Hi' }];
const target = () => ({ provider: 'openai', api_key: 'sk-server', custom_host: `${upstream.url}/v1` });
const sdkFor = (baseURL: string, headers: Record<string, string> = {}) => new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, defaultHeaders: headers });
const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function streamText(sdk: OpenAI): Promise<string> {
  let text = '';
  for await (const c of await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true })) text += c.choices[0]?.delta.content ?? '';
  return text;
}

async function listenOn(server: Server): Promise<string> {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function bootNest(root: unknown, setup: (app: NestExpressApplication) => void = () => undefined): Promise<string> {
  const app = await NestFactory.create<NestExpressApplication>(root as never, { logger: false });
  setup(app);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  toClose.push(async () => {
    server.closeAllConnections();
    await app.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Applies Nest decorators without decorator syntax (test files are not compiled with it). */
function decorate(target: any, method: string, ...decorators: Array<(t: any, k: string, d: PropertyDescriptor) => void>) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method)!;
  for (const d of decorators) d(target.prototype, method, descriptor);
}


/** helmet()'s defaults that matter to an API: a CSP, framing, sniffing, HSTS, referrer policy. */
const helmetHeaders = {
  'content-security-policy': "default-src 'self';base-uri 'self';frame-ancestors 'self';object-src 'none'",
  'x-frame-options': 'SAMEORIGIN',
  'x-content-type-options': 'nosniff',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'referrer-policy': 'no-referrer',
};
const helmet = () => (_req: unknown, res: ServerResponse, next: () => void) => {
  for (const [k, v] of Object.entries(helmetHeaders)) res.setHeader(k, v);
  next();
};

// ---------------------------------------------------------------------------------------------
// NestJS
// ---------------------------------------------------------------------------------------------

/** The catch-all filter most Nest apps have: every exception becomes the app's own error envelope. */
class AllExceptions implements ExceptionFilter {
  catch(exception: any, host: ArgumentsHost) {
    const res = host.switchToHttp().getResponse();
    const status = typeof exception?.getStatus === 'function' ? exception.getStatus() : 500;
    if (res.headersSent) return void res.end();
    res.status(status).json({ ok: false, status, message: exception?.message ?? 'error' });
  }
}
Catch()(AllExceptions);

/** The docs' TransformInterceptor: every value a handler returns is wrapped in `{ data }` (no undefined check). */
class Envelope implements NestInterceptor {
  intercept(_ctx: ExecutionContext, next: CallHandler) {
    return next.handle().pipe(map((data) => ({ data })));
  }
}

/** The usual TimeoutInterceptor from the Nest docs, at 500 ms. */
class Timeout implements NestInterceptor {
  intercept(_ctx: ExecutionContext, next: CallHandler) {
    return next.handle().pipe(
      timeout(500),
      catchError((err) => throwError(() => (err instanceof TimeoutError ? new RequestTimeoutException() : err))),
    );
  }
}

/** An API-key guard on every route, gateway included (the gateway's controller is an ordinary route). */
class AppKeyGuard {
  canActivate(ctx: ExecutionContext) {
    if (ctx.switchToHttp().getRequest().headers['x-app-key'] !== 'app-secret') throw new ForbiddenException('missing app key');
    return true;
  }
}

/** ValidationPipe({ whitelist, forbidNonWhitelisted, transform }) for DTOs that list their fields. */
class WhitelistPipe implements PipeTransform {
  transform(value: any, metadata: ArgumentMetadata) {
    const fields = (metadata.metatype as { fields?: string[] } | undefined)?.fields;
    if (!fields || typeof value !== 'object' || value === null) return value;
    const extra = Object.keys(value).filter((k) => !fields.includes(k));
    if (extra.length) throw new BadRequestException(`property ${extra[0]} should not exist`);
    return Object.assign(new (metadata.metatype as new () => object)(), value);
  }
}

class NoteDto {
  static fields = ['text'];
  text?: string;
}

describe('NestJS with a production set of global enhancers', () => {
  it('guard, catch-all filter, envelope interceptor, whitelisting pipe, helmet, compression, prefix excluding the gateway, URI versioning, CORS: the openai SDK gets plain answers, streams and OpenAI-shaped errors', async () => {
    class Notes {
      create(note: NoteDto) {
        return { saved: note instanceof NoteDto, text: note.text };
      }
    }
    Controller({ path: 'notes', version: '1' })(Notes);
    decorate(Notes, 'create', Post(), HttpCode(200));
    Body()(Notes.prototype, 'create', 0);
    Reflect.defineMetadata('design:paramtypes', [NoteDto], Notes.prototype, 'create');
    class AppModule {}
    Module({
      imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, config: { targets: [target()] } })],
      controllers: [Notes],
      providers: [
        { provide: APP_GUARD, useClass: AppKeyGuard },
        { provide: APP_FILTER, useClass: AllExceptions },
        { provide: APP_INTERCEPTOR, useClass: Envelope },
        { provide: APP_PIPE, useClass: WhitelistPipe },
      ],
    })(AppModule);
    const url = await bootNest(AppModule, (app) => {
      app.use(helmet());
      app.use(compression());
      app.setGlobalPrefix('api', { exclude: [{ path: 'llm/{*path}', method: RequestMethod.ALL }] });
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
      app.enableCors({ origin: 'https://app.example', exposedHeaders: ['x-llmux-trace-id'] });
    });

    // The host's routes get every enhancer.
    const note = await postJson(`${url}/api/v1/notes`, { text: 'x' }, { 'x-app-key': 'app-secret' });
    expect(await note.json()).toEqual({ data: { saved: true, text: 'x' } });
    const extra = await postJson(`${url}/api/v1/notes`, { text: 'x', admin: true }, { 'x-app-key': 'app-secret' });
    expect([extra.status, (await extra.json()).ok]).toEqual([400, false]);

    // The guard applies to the gateway's route too, in the host's own error shape.
    const refused = await sdkFor(`${url}/llm/v1`).chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(upstream.requests).toHaveLength(0);

    const sdk = sdkFor(`${url}/llm/v1`, { 'x-app-key': 'app-secret', origin: 'https://app.example' });
    upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM, chunkDelayMs: 10 }, RATE_LIMITED);
    const { data, response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).withResponse();
    expect(data.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(await streamText(sdk)).toBe(STREAM_TEXT);
    const limited = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).catch((e) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited.error).toMatchObject({ message: 'slow down', code: 'rate_limit_exceeded' });

    // A bad request is the gateway's 400 naming the field, not the filter's envelope.
    const bad = await postJson(`${url}/llm/v1/chat/completions`, { messages: hi }, { 'x-app-key': 'app-secret' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ param: 'model', type: 'invalid_request_error' });
  });

  // BUG: a global TimeoutInterceptor ends a streamed chat mid-way with a clean chunked end, so the openai SDK returns a truncated answer as if complete
  it('a global TimeoutInterceptor that fires mid-stream: the openai SDK raises, never a clean but truncated answer', async () => {
    class AppModule {}
    Module({ imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, config: { targets: [target()] } })] })(AppModule);
    const url = await bootNest(AppModule, (app) => app.useGlobalInterceptors(new Timeout()));
    // 12 events 100 ms apart: the first content arrives long before the 500 ms, the last long after.
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM, chunkDelayMs: 100 });
    let text = '';
    let raised: unknown;
    try {
      text = await streamText(sdkFor(`${url}/llm/v1`));
    } catch (e) {
      raised = e;
    }
    // Either the whole answer, or an error the SDK raises: what a client must never get is part of it, ending cleanly.
    expect({ text, raised: raised !== undefined }).toSatisfy(
      (o: { text: string; raised: boolean }) => o.raised || o.text === STREAM_TEXT,
      `a truncated stream ended cleanly: ${JSON.stringify(text)}`,
    );
    // As on an @Sse route, the interceptor bounds the wait for the stream to start, not its length.
    expect(raised).toBeUndefined();
    expect(text).toBe(STREAM_TEXT);
  });

  it('Express: a timeout middleware that ends the response mid-stream makes the openai SDK raise, never a clean truncated answer', async () => {
    const app = express();
    // connect-timeout's usual handler: after 300 ms, end whatever is going on.
    app.use((_req, res, next) => {
      const timer = setTimeout(() => res.end(), 300);
      res.on('close', () => clearTimeout(timer));
      next();
    });
    app.use(gatewayMiddleware({ logger: false, config: { targets: [target()] } }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    toClose.push(() => closeServer(server));
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM, chunkDelayMs: 100 });
    let text = '';
    await expect(
      (async () => {
        text = await streamText(sdkFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}/llm/v1`));
      })(),
    ).rejects.toThrow();
    expect(STREAM_TEXT.startsWith(text)).toBe(true);
    expect(text).not.toBe(STREAM_TEXT);
  });

  it('checked fine: the same TimeoutInterceptor on an @Sse route fed by GatewayService.stream lets a long stream finish (rxjs timeout bounds the silence between events)', async () => {
    class Live {
      constructor(private readonly llm: GatewayService) {}
      live() {
        return this.llm.stream({ model: 'gpt-4o-mini', messages: hi }).pipe(map((chunk) => ({ data: chunk })));
      }
    }
    Controller()(Live);
    Inject(GatewayService)(Live, undefined as never, 0);
    decorate(Live, 'live', Sse('live'));
    class AppModule {}
    Module({ imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, config: { targets: [target()] } })], controllers: [Live] })(AppModule);
    const url = await bootNest(AppModule, (app) => app.useGlobalInterceptors(new Timeout()));
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM, chunkDelayMs: 100 });
    const text = await (await fetch(`${url}/live`)).text();
    const content = text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe(STREAM_TEXT);
  });

  // BUG: GatewayService.chat rejects with a GatewayError whose HTTP status Nest cannot see (it has `status`, Nest reads `statusCode` or HttpException), so a host controller answers 500 for bad input and rate limits
  it('GatewayService.chat failures in a host controller keep their status through Nest’s exception layer (400 bad input, 429 rate limited), not 500', async () => {
    class Summaries {
      constructor(private readonly llm: GatewayService) {}
      async summarize(body: { text?: string; empty?: boolean }) {
        const messages = body.empty ? [] : [{ role: 'user' as const, content: `Summarize: ${body.text ?? ''}` }];
        const completion = await this.llm.chat({ model: 'gpt-4o-mini', messages }, { user: 'summary-service' });
        return { summary: completion.choices[0]?.message.content };
      }
    }
    Controller()(Summaries);
    Inject(GatewayService)(Summaries, undefined as never, 0);
    decorate(Summaries, 'summarize', Post('summarize'), HttpCode(200));
    Body()(Summaries.prototype, 'summarize', 0);
    class AppModule {}
    Module({
      imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, config: { targets: [target()], rate_limit: { requests_per_minute: 1 } } })],
      controllers: [Summaries],
    })(AppModule);
    const url = await bootNest(AppModule);
    upstream.route('/v1/chat/completions', { json: COMPLETION });
    const statuses: number[] = [];
    for (const body of [{ empty: true }, { text: 'a' }, { text: 'b' }]) statuses.push((await postJson(`${url}/summarize`, body)).status);
    expect(statuses).toEqual([400, 200, 429]);
  });
});

// ---------------------------------------------------------------------------------------------
// Express
// ---------------------------------------------------------------------------------------------

/** cookie-parser: `req.cookies` from the Cookie header. */
const cookieParser = () => (req: any, _res: unknown, next: () => void) => {
  req.cookies = Object.fromEntries(
    String(req.headers.cookie ?? '')
      .split(';')
      .map((p) => p.trim().split('='))
      .filter((p) => p[0]),
  );
  next();
};

/** express-session's shape: `req.session`, a Set-Cookie on the way out, and `res.end` delayed until the store saved. */
const session = () => (req: any, res: any, next: () => void) => {
  req.session = { id: req.cookies?.sid ?? 'new-session', views: 1 };
  res.setHeader('set-cookie', `sid=${req.session.id}; Path=/; HttpOnly`);
  const end = res.end;
  res.end = function (...args: unknown[]) {
    setTimeout(() => end.apply(res, args), 5);
    return res;
  };
  next();
};

const EXPRESSES = { express5: express as any, express4: express4 as any };

for (const [name, ex] of Object.entries(EXPRESSES)) {
  describe(`${name} with its usual middleware`, () => {
    async function start(setup: (app: any) => void): Promise<string> {
      const app = ex();
      setup(app);
      const server = app.listen(0, '127.0.0.1') as Server;
      toClose.push(() => closeServer(server));
      return listenOn(server);
    }

    it('compression, cors, helmet, cookie-parser + session, trust proxy and an auth router at /llm ahead of the gateway: chat (gzip), stream, errors, HEAD, OPTIONS', async () => {
      const identified: unknown[] = [];
      const gw = gatewayMiddleware({
        logger: false,
        config: { targets: [target()] },
        identify: (req: any) => {
          identified.push({ ip: req.ip, session: req.session?.id, user: req.user });
          return { user: req.user };
        },
      });
      toClose.push(() => gw.close(200));
      const url = await start((app) => {
        app.set('trust proxy', true);
        app.use(compression());
        app.use(cors({ origin: 'https://app.example', exposedHeaders: ['x-llmux-trace-id'] }));
        app.use(helmet());
        app.use(cookieParser());
        app.use(session());
        app.use(ex.json());
        const llmRouter = ex.Router();
        llmRouter.get('/status', (_req: any, res: any) => res.json({ status: 'ok' }));
        llmRouter.use((req: any, res: any, next: () => void) => {
          if (req.method !== 'HEAD' && req.headers['x-app-key'] !== 'app-secret') return res.status(401).json({ error: { message: 'app key required', type: 'auth' } });
          req.user = 'alice';
          next();
        });
        app.use('/llm', llmRouter);
        app.use(gw);
        app.use((_req: any, res: any) => res.status(404).json({ host: 'not found' }));
      });

      expect(await (await fetch(`${url}/llm/status`)).json()).toEqual({ status: 'ok' });
      const refused = await sdkFor(`${url}/llm/v1`).models.list().catch((e) => e);
      expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);

      const sdk = sdkFor(`${url}/llm/v1`, { 'x-app-key': 'app-secret', origin: 'https://app.example', 'x-forwarded-for': '203.0.113.7', cookie: 'sid=s1' });
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM, chunkDelayMs: 10 }, RATE_LIMITED);
      const { data, response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).withResponse();
      expect(data.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
      expect(response.headers.get('content-encoding')).toBe('gzip');
      expect(response.headers.get('vary')).toMatch(/Origin/);
      expect(response.headers.get('vary')).toMatch(/Accept-Encoding/);
      expect(response.headers.get('set-cookie')).toContain('sid=s1');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await streamText(sdk)).toBe(STREAM_TEXT);
      const limited = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).catch((e) => e);
      expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
      expect(limited.error).toMatchObject({ message: 'slow down', code: 'rate_limit_exceeded' });
      expect(identified[0]).toEqual({ ip: '203.0.113.7', session: 's1', user: 'alice' });

      // A raw stream through compression: not compressed (no-transform), ends with [DONE], cost as a trailer.
      upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
      const raw = await request(`${url}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip', 'x-app-key': 'app-secret' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: hi, stream: true }),
      });
      expect(raw.headers['content-encoding']).toBeUndefined();
      expect((await raw.body.text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(Number(raw.trailers['x-llmux-cost'])).toBeGreaterThan(0);

      // HEAD as GET without a body; a CORS preflight answered by cors().
      const head = await fetch(`${url}/llm/v1/models`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      const preflight = await fetch(`${url}/llm/v1/chat/completions`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
      // Trailing slash and paths outside the gateway.
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      expect((await postJson(`${url}/llm/v1/chat/completions/`, { model: 'gpt-4o-mini', messages: hi }, { 'x-app-key': 'app-secret' })).status).toBe(200);
      expect(await (await fetch(`${url}/elsewhere`)).json()).toEqual({ host: 'not found' });
    });

    // BUG: mounted with app.use('/llm', gw), Express hands /LLM/… to the gateway (its mounts ignore case, as the NestJS adapter does too) but gatewayPath compares req.baseUrl with basePath case-sensitively and passes it on to Express's 404 page
    it('mounted with app.use("/llm", gw): a request Express routes to it with another case (/LLM/v1/…) is served, as under the NestJS adapter', async () => {
      const gw = gatewayMiddleware({ logger: false, config: { targets: [target()] } });
      toClose.push(() => gw.close(200));
      const reached: string[] = [];
      const url = await start((app) => {
        app.use('/llm', (req: any, _res: unknown, next: () => void) => {
          reached.push(req.baseUrl);
          next();
        });
        app.use('/llm', gw);
      });
      upstream.route('/v1/chat/completions', { json: COMPLETION });
      const chat = await postJson(`${url}/LLM/v1/chat/completions`, { model: 'gpt-4o-mini', messages: hi });
      expect(reached).toEqual(['/LLM']);
      expect(chat.status).toBe(200);
      expect((await chat.json()).object).toBe('chat.completion');
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Koa
// ---------------------------------------------------------------------------------------------

/** @koa/cors: Vary: Origin, the allow-origin on answers, preflights answered 204 without going on. */
const koaCors = (exposeHeaders: string) => async (ctx: any, next: () => Promise<void>) => {
  ctx.vary('Origin');
  const origin = ctx.get('Origin');
  if (!origin) return next();
  if (ctx.method !== 'OPTIONS') {
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Expose-Headers', exposeHeaders);
    return next();
  }
  if (!ctx.get('Access-Control-Request-Method')) return next();
  ctx.set('Access-Control-Allow-Origin', origin);
  ctx.set('Access-Control-Allow-Methods', 'GET,HEAD,PUT,POST,DELETE,PATCH');
  ctx.set('Access-Control-Allow-Headers', ctx.get('Access-Control-Request-Headers'));
  ctx.status = 204;
};

const KOAS = { koa3: Koa as any, koa2: Koa2 as any };

for (const [name, KoaClass] of Object.entries(KOAS)) {
  it(`${name}: @koa/cors, koa-helmet, koa-compress, a router-style auth guard and a ctx.respond = false catch-all after the gateway`, async () => {
    const { default: compress } = await import('koa-compress');
    const app = new KoaClass();
    app.silent = true;
    app.use(koaCors('x-llmux-trace-id'));
    app.use(async (ctx: any, next: () => Promise<void>) => {
      ctx.set(helmetHeaders);
      await next();
    });
    app.use(compress({ threshold: 0 }));
    // What @koa/router's `router.use('/llm', auth)` does: only requests under /llm, without stripping it.
    app.use(async (ctx: any, next: () => Promise<void>) => {
      if (!ctx.path.startsWith('/llm/') || ctx.method === 'OPTIONS' || ctx.method === 'HEAD') return next();
      if (ctx.get('x-app-key') !== 'app-secret') ctx.throw(401, 'app key required');
      ctx.state.user = 'alice';
      await next();
    });
    const seen: unknown[] = [];
    const gw = koaGatewayMiddleware({ logger: false, config: { targets: [target()] }, identify: (ctx: any) => (seen.push(ctx.state.user), { user: ctx.state.user }) });
    toClose.push(() => gw.close(200));
    app.use(gw);
    // A framework handing the rest to its own handler (Next.js custom server, a proxy): Koa's response is off.
    app.use(async (ctx: any) => {
      ctx.respond = false;
      ctx.res.writeHead(200, { 'content-type': 'text/plain' });
      ctx.res.end('rendered by the framework');
    });
    const server = app.listen(0, '127.0.0.1') as Server;
    toClose.push(() => closeServer(server));
    const url = await listenOn(server);

    const refused = await sdkFor(`${url}/llm/v1`).models.list().catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    const sdk = sdkFor(`${url}/llm/v1`, { 'x-app-key': 'app-secret', origin: 'https://app.example' });
    upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM, chunkDelayMs: 10 }, RATE_LIMITED);
    const { data, response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).withResponse();
    expect(data.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(await streamText(sdk)).toBe(STREAM_TEXT);
    const limited = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).catch((e) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited.error).toMatchObject({ message: 'slow down', code: 'rate_limit_exceeded' });
    expect(seen).toEqual(['alice', 'alice', 'alice']);

    const preflight = await fetch(`${url}/llm/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    const head = await fetch(`${url}/llm/v1/models`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    expect(await (await fetch(`${url}/about`)).text()).toBe('rendered by the framework');
  });
}
