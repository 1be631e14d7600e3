/**
 * The NestJS module inside real applications: forRoot / forRootAsync (a ConfigService-like provider,
 * inject tokens, imports, useClass/useExisting), global prefix and URI versioning, the real
 * ValidationPipe (whitelist, forbidNonWhitelisted, transform) and ClassSerializerInterceptor as global
 * enhancers, global guards, catch-all exception filters, CORS and its preflight, compression middleware
 * in front of streams, client disconnects, two GatewayModules in one app, and GatewayService used from
 * host controllers. Driven with the official `openai` SDK against the Nest app; upstreams are mocks on
 * 127.0.0.1 replaying recorded OpenAI fixtures.
 *
 * `class-validator` / `class-transformer` are not installed here: ValidationPipe and
 * ClassSerializerInterceptor take a `validatorPackage` / `transformerPackage`, given below as a minimal
 * implementation of the calls those two make (whitelist strips or refuses the fields a DTO does not list).
 *
 * Fastify: `@nestjs/platform-fastify` is not installed here and the README names platform-express only.
 * Checked by hand (11.2.8 installed outside the repo, sharing this @nestjs/core): NestFactory.create with a
 * FastifyAdapter is refused at boot by GatewayModule's constructor ("serves its route on
 * @nestjs/platform-express; this app runs on "fastify""), as served-paths.ts intends.
 */
import { compression } from './helpers/compression.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import {
  Body,
  Catch,
  ClassSerializerInterceptor,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  HttpException,
  Inject,
  Injectable,
  Module,
  Post,
  Req,
  Sse,
  ValidationPipe,
  VersioningType,
  type ArgumentsHost,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, BaseExceptionFilter, HttpAdapterHost, NestFactory, Reflector } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { lastValueFrom, map, take, tap, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestLogRecord } from '@llmux/core';
import { Gateway, GatewayModule, GatewayService } from '@llmux/nestjs';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { sleep, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const toClose: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const STREAM_TEXT = 'The capital of the UK is London.';
const EMBEDDINGS = fixtureJson('openai/embeddings.float.json');
const RATE_LIMITED = { status: 429, json: { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded', param: null } } };
const hi = [{ role: 'user' as const, content: 'Hi' }];
const target = (key = 'sk-server') => ({ provider: 'openai', api_key: key, custom_host: `${upstream.url}/v1` });
const sdkFor = (baseURL: string, headers: Record<string, string> = {}) => new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, defaultHeaders: headers });
const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function streamText(sdk: OpenAI): Promise<string> {
  let text = '';
  for await (const c of await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true })) text += c.choices[0]?.delta.content ?? '';
  return text;
}

async function bootNest(root: unknown, setup: (app: NestExpressApplication) => void = () => undefined, options: Record<string, unknown> = {}) {
  const app = await NestFactory.create<NestExpressApplication>(root as never, { logger: false, ...options });
  setup(app);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  toClose.push(async () => {
    server.closeAllConnections();
    await app.close();
  });
  return { app, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Applies Nest decorators without decorator syntax (test files are not compiled with it). */
function decorate(target: any, method: string, ...decorators: Array<(t: any, k: string, d: PropertyDescriptor) => void>) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method)!;
  for (const d of decorators) d(target.prototype, method, descriptor);
}
function moduleClass(metadata: Parameters<typeof Module>[0]) {
  const cls = class {};
  Module(metadata)(cls);
  return cls;
}

// ---------------------------------------------------------------------------------------------
// A class-validator / class-transformer stand-in: DTOs list their fields in `static fields`.
// ---------------------------------------------------------------------------------------------
const validatorPackage = {
  validate(entity: any, options: { whitelist?: boolean; forbidNonWhitelisted?: boolean } = {}) {
    const fields: string[] | undefined = entity?.constructor?.fields;
    const errors: any[] = [];
    if (!fields || !options.whitelist) return Promise.resolve(errors);
    for (const key of Object.keys(entity)) {
      if (fields.includes(key)) continue;
      if (options.forbidNonWhitelisted) errors.push({ property: key, constraints: { whitelistValidation: `property ${key} should not exist` }, children: [] });
      else delete entity[key];
    }
    return Promise.resolve(errors);
  },
  getMetadataStorage: () => ({ getTargetValidationMetadatas: () => [], groupByPropertyName: () => ({}) }),
};
const transformerPackage = {
  plainToInstance: (cls: new () => object, plain: object) => Object.assign(new cls(), plain),
  plainToClass: (cls: new () => object, plain: object) => Object.assign(new cls(), plain),
  classToPlain: (obj: object) => ({ ...obj, serialized: true }),
  instanceToPlain: (obj: object) => ({ ...obj, serialized: true }),
};

class NoteDto {
  static fields = ['text'];
  text?: string;
}

class Notes {
  create(note: NoteDto) {
    return { instance: note instanceof NoteDto, text: note.text };
  }
}
Controller('notes')(Notes);
decorate(Notes, 'create', Post(), HttpCode(200));
Body()(Notes.prototype, 'create', 0);
Reflect.defineMetadata('design:paramtypes', [NoteDto], Notes.prototype, 'create');

// ---------------------------------------------------------------------------------------------

describe('forRoot / forRootAsync in real module graphs', () => {
  it('forRootAsync with a ConfigService from an imported ConfigModule, string and optional inject tokens, isGlobal: the SDK and a feature service both use it', async () => {
    class ConfigService {
      private readonly values: Record<string, unknown> = { llm: { targets: [target('sk-from-config')] }, 'llm.deadline': 300 };
      get<T>(key: string): T {
        return this.values[key] as T;
      }
    }
    Injectable()(ConfigService);
    const ConfigModule = moduleClass({ providers: [ConfigService, { provide: 'LLM_PREFIX', useValue: 'cfg' }], exports: [ConfigService, 'LLM_PREFIX'] });
    class Summaries {
      constructor(readonly llm: GatewayService) {}
    }
    Inject(GatewayService)(Summaries, undefined as never, 0);
    Injectable()(Summaries);
    const Feature = moduleClass({ providers: [Summaries], exports: [Summaries] });
    const logs: RequestLogRecord[] = [];
    const root = moduleClass({
      imports: [
        GatewayModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService, 'LLM_PREFIX', { token: 'MISSING', optional: true }],
          useFactory: async (config: ConfigService, prefix: string, missing: unknown) => {
            await sleep(5);
            return {
              logger: false,
              config: config.get<object>('llm'),
              shutdownDeadlineMs: config.get<number>('llm.deadline'),
              onLog: (r: RequestLogRecord) => void logs.push({ ...r, metadata: { prefix, missing: String(missing) } } as RequestLogRecord),
            };
          },
          basePath: '/ai',
          isGlobal: true,
        }),
        Feature,
      ],
    });
    const { app, url } = await bootNest(root);
    upstream.route('/v1/chat/completions', { json: COMPLETION });
    const completion = await sdkFor(`${url}/ai/v1`).chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
    expect(completion.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
    expect(upstream.requests[0]!.headers.authorization).toBe('Bearer sk-from-config');
    const viaService = await app.get(Summaries).llm.chat({ model: 'gpt-4o-mini', messages: hi });
    expect(viaService.id).toBe(completion.id);
    expect(await until(() => logs.length >= 2)).toBe(true);
    expect((logs[0] as any).metadata).toEqual({ prefix: 'cfg', missing: 'undefined' });
    expect(app.get(GatewayService).gateway).toBe(app.get(Gateway));
  });

  it('forRootAsync with useClass and useExisting option factories', async () => {
    class LlmOptions {
      createGatewayOptions() {
        return { logger: false as const, config: { targets: [target('sk-use-class')] } };
      }
    }
    Injectable()(LlmOptions);
    const OptionsModule = moduleClass({ providers: [LlmOptions], exports: [LlmOptions] });
    const { url } = await bootNest(
      moduleClass({
        imports: [
          GatewayModule.forRootAsync({ useClass: LlmOptions }),
          GatewayModule.forRootAsync({ imports: [OptionsModule], useExisting: LlmOptions, basePath: '/llm2' }),
        ],
      }),
    );
    upstream.route('/v1/chat/completions', { json: COMPLETION });
    for (const base of ['/llm', '/llm2']) {
      const c = await sdkFor(`${url}${base}/v1`).chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
      expect(c.id).toBe(COMPLETION.id);
    }
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-use-class', 'Bearer sk-use-class']);
  });
});

describe('global prefix and URI versioning', () => {
  it('prefix "api" and URI versioning with defaultVersion: chat, stream, embeddings, models list and retrieve through the openai SDK; host routes are versioned', async () => {
    class Status {
      get() {
        return { ok: true };
      }
    }
    Controller({ path: 'status' })(Status);
    decorate(Status, 'get', Get());
    const { url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })], controllers: [Status] }), (app) => {
      app.setGlobalPrefix('api');
      app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
    });
    expect(await (await fetch(`${url}/api/v1/status`)).json()).toEqual({ ok: true });
    const sdk = sdkFor(`${url}/api/llm/v1`);
    upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM });
    upstream.enqueue('/v1/embeddings', { json: EMBEDDINGS });
    expect((await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi })).id).toBe(COMPLETION.id);
    expect(await streamText(sdk)).toBe(STREAM_TEXT);
    expect((await sdk.embeddings.create({ model: 'text-embedding-3-large', input: 'x' })).data).toHaveLength(1);
    const models = await sdk.models.list();
    expect(models.object).toBe('list');
    // The gateway's own /v1 is not taken for Nest's version segment.
    const missing = await fetch(`${url}/api/v1/llm/v1/models`);
    expect(missing.status).toBe(404);
    // Nest's parser refusing a body under the prefixed, versioned app: the gateway's OpenAI-shaped 400.
    const bad = await postJson(`${url}/api/llm/v1/chat/completions`, '{"model":');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({ code: 'invalid_json', param: 'body' });
  });

  it('prefix that ends in v1 ("api/v1") and a basePath with a trailing slash', async () => {
    const { url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ basePath: '/llm/', logger: false, config: { targets: [target()] } })] }), (app) =>
      app.setGlobalPrefix('api/v1'),
    );
    upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
    const c = await sdkFor(`${url}/api/v1/llm/v1`).chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
    expect(c.id).toBe(COMPLETION.id);
  });
});

describe('the real ValidationPipe and ClassSerializerInterceptor as global enhancers', () => {
  for (const how of ['useGlobalPipes', 'APP_PIPE'] as const) {
    it(`${how}: ValidationPipe({ whitelist, forbidNonWhitelisted, transform }) refuses extra DTO fields on host routes and leaves every gateway body untouched`, async () => {
      const pipe = () => new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, validatorPackage, transformerPackage } as any);
      const root = moduleClass({
        imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })],
        controllers: [Notes],
        providers: how === 'APP_PIPE' ? [{ provide: APP_PIPE, useFactory: pipe }] : [],
      });
      const { url } = await bootNest(root, (app) => {
        if (how === 'useGlobalPipes') app.useGlobalPipes(pipe());
      });
      expect(await (await postJson(`${url}/notes`, { text: 'x' })).json()).toEqual({ instance: true, text: 'x' });
      expect((await postJson(`${url}/notes`, { text: 'x', admin: true })).status).toBe(400);

      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      const body = {
        model: 'gpt-4o-mini',
        messages: hi,
        temperature: 0.2,
        response_format: { type: 'json_object' },
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }],
        metadata: { a: 'b' },
        some_vendor_param: 1,
      } as const;
      const c = await sdkFor(`${url}/llm/v1`).chat.completions.create(body as any);
      expect(c.id).toBe(COMPLETION.id);
      expect(upstream.requests[0]!.json).toMatchObject(body);
    });
  }

  it('ClassSerializerInterceptor and a timing interceptor globally: gateway JSON, streams and errors untouched, host DTOs serialized', async () => {
    class Timing implements NestInterceptor {
      intercept(ctx: ExecutionContext, next: CallHandler) {
        const res = ctx.switchToHttp().getResponse();
        const started = Date.now();
        return next.handle().pipe(tap(() => (res.headersSent ? undefined : res.setHeader('x-response-time', String(Date.now() - started)))));
      }
    }
    const root = moduleClass({
      imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })],
      controllers: [Notes],
      providers: [
        { provide: APP_INTERCEPTOR, useFactory: (r: Reflector) => new ClassSerializerInterceptor(r, { transformerPackage } as any), inject: [Reflector] },
        { provide: APP_INTERCEPTOR, useClass: Timing },
      ],
    });
    const { url } = await bootNest(root);
    expect(await (await postJson(`${url}/notes`, { text: 'x' })).json()).toEqual({ instance: false, text: 'x', serialized: true });
    const sdk = sdkFor(`${url}/llm/v1`);
    upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM }, { status: 429, json: { error: { message: 'slow', type: 'requests', code: 'rate_limit_exceeded', param: null } } });
    const c = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
    expect(c).toMatchObject({ id: COMPLETION.id });
    expect((c as any).serialized).toBeUndefined();
    expect(await streamText(sdk)).toBe(STREAM_TEXT);
    const limited = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).catch((e) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
  });
});

describe('global guards and exception filters', () => {
  /** The docs' catch-all: extends BaseExceptionFilter, re-shapes everything into the app's envelope. */
  class AllExceptions extends BaseExceptionFilter {
    override catch(exception: unknown, host: ArgumentsHost) {
      const res = host.switchToHttp().getResponse();
      const status = exception instanceof HttpException ? exception.getStatus() : 500;
      if (res.headersSent) return void res.end();
      res.status(status).json({ success: false, statusCode: status, path: host.switchToHttp().getRequest().url });
    }
  }
  Catch()(AllExceptions);

  it('a catch-all filter (APP_FILTER) and an API-key guard: every gateway error keeps the OpenAI shape and status', async () => {
    class KeyGuard {
      canActivate(ctx: ExecutionContext) {
        if (ctx.switchToHttp().getRequest().headers['x-app-key'] !== 'k') throw new ForbiddenException();
        return true;
      }
    }
    const root = moduleClass({
      imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })],
      providers: [
        { provide: APP_FILTER, useFactory: (h: HttpAdapterHost) => new AllExceptions(h.httpAdapter), inject: [HttpAdapterHost] },
        { provide: APP_GUARD, useClass: KeyGuard },
      ],
    });
    const { url } = await bootNest(root);
    const base = `${url}/llm/v1`;
    const h = { 'x-app-key': 'k' };
    const expectOpenAIError = async (res: Response, status: number) => {
      expect(res.status).toBe(status);
      const body = await res.json();
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error).toHaveProperty('message');
      expect(body.error).toHaveProperty('type');
      return body.error;
    };
    await expectOpenAIError(await postJson(`${base}/chat/completions`, { messages: hi }, h), 400);
    await expectOpenAIError(await postJson(`${base}/chat/completions`, '{"model":', h), 400);
    await expectOpenAIError(await postJson(`${base}/chat/completions`, { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(200_000) }] }, h), 413);
    await expectOpenAIError(await postJson(`${base}/nothing`, {}, h), 404);
    await expectOpenAIError(await fetch(`${base}/chat/completions`, { headers: h }), 405);
    upstream.enqueue('/v1/chat/completions', { status: 500, json: { error: { message: 'boom', type: 'server_error', code: null, param: null } } });
    upstream.enqueue('/v1/chat/completions', RATE_LIMITED);
    const provider = await expectOpenAIError(await postJson(`${base}/chat/completions`, { model: 'gpt-4o-mini', messages: hi }, h), 500);
    expect(provider).toMatchObject({ message: 'boom', source: 'provider' });
    const limited = await expectOpenAIError(await postJson(`${base}/chat/completions`, { model: 'gpt-4o-mini', messages: hi }, h), 429);
    expect(limited.message).toBe('slow down');
    // the guard keeps the host's shape (documented: guards apply as to any route)
    expect((await postJson(`${base}/chat/completions`, { model: 'gpt-4o-mini', messages: hi })).status).toBe(403);
  });
});

describe('CORS', () => {
  it('app.enableCors with credentials: preflight for the SDK headers, then the answer carries the CORS headers and exposes the gateway headers', async () => {
    const { url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })] }), (app) =>
      app.enableCors({ origin: ['https://app.example'], credentials: true, exposedHeaders: ['x-llmux-trace-id', 'x-llmux-cost'] }),
    );
    const preflight = await fetch(`${url}/llm/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-stainless-os,x-stainless-lang,x-stainless-retry-count',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-stainless-os');
    expect(upstream.requests).toHaveLength(0);
    upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM });
    const sdk = sdkFor(`${url}/llm/v1`, { origin: 'https://app.example' });
    const { response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).withResponse();
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-expose-headers')).toBe('x-llmux-trace-id,x-llmux-cost');
    expect(response.headers.get('vary')).toContain('Origin');
    const streamed = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true }).withResponse();
    expect(streamed.response.headers.get('access-control-allow-origin')).toBe('https://app.example');
    let text = '';
    for await (const c of streamed.data) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(STREAM_TEXT);
  });

  it('without enableCors: a preflight reaches the gateway, which refuses OPTIONS in the OpenAI shape with Allow (no CORS grant of its own)', async () => {
    const { url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })] }));
    const preflight = await fetch(`${url}/llm/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(405);
    expect(preflight.headers.get('allow')).toBe('POST');
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight.json()).error.code).toBe('method_not_allowed');
  });
});


describe('streams, compression and client disconnects under Nest', () => {
  it('compression middleware + a global async guard and interceptor: a stream arrives while the upstream is still sending, and a client that leaves mid-stream stops the upstream', async () => {
    class SlowGuard {
      async canActivate() {
        await sleep(5);
        return true;
      }
    }
    class Timing implements NestInterceptor {
      intercept(_ctx: ExecutionContext, next: CallHandler) {
        return next.handle().pipe(tap(() => undefined));
      }
    }
    const { url } = await bootNest(
      moduleClass({
        imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })],
        providers: [{ provide: APP_GUARD, useClass: SlowGuard }, { provide: APP_INTERCEPTOR, useClass: Timing }],
      }),
      (app) => app.use(compression()),
    );
    const sdk = sdkFor(`${url}/llm/v1`);
    // first content, then a stall: the client must see the first delta without waiting for the rest
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM, stallAfter: 3 });
    const stream = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true });
    let first = '';
    for await (const c of stream) {
      first += c.choices[0]?.delta.content ?? '';
      if (first) break;
    }
    expect(first.length).toBeGreaterThan(0);
    expect(await until(() => upstream.aborted === 1)).toBe(true);

    // a client that leaves while the gateway still holds the stream back (role chunk only, then silence)
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM, stallAfter: 1 });
    const early = new AbortController();
    const held = sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true }, { signal: early.signal }).catch((e) => e);
    await until(() => upstream.requests.length === 2);
    early.abort();
    expect(await held).toBeInstanceOf(Error);
    expect(await until(() => upstream.aborted === 2)).toBe(true);

    // a non-stream call the client gives up on
    upstream.enqueue('/v1/chat/completions', { json: COMPLETION, delayMs: 5000 });
    const ac = new AbortController();
    const pending = sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }, { signal: ac.signal }).catch((e) => e);
    await until(() => upstream.requests.length === 3);
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    expect(await until(() => upstream.aborted === 3)).toBe(true);

    // a JSON answer over 1 kB is gzipped and still read by the SDK
    const long = { ...COMPLETION, choices: [{ ...COMPLETION.choices[0], message: { role: 'assistant', content: 'y'.repeat(3000) } }] };
    upstream.enqueue('/v1/chat/completions', { json: long });
    const { data, response } = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).withResponse();
    expect(data.choices[0]!.message.content).toHaveLength(3000);
    expect(response.headers.get('content-encoding')).toBe('gzip');
  });

  it('CORS headers stay on the gateway’s answer to a body Nest’s parser refused', async () => {
    const { url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })] }), (app) =>
      app.enableCors({ origin: 'https://app.example', credentials: true }),
    );
    const bad = await postJson(`${url}/llm/v1/chat/completions`, '{"model":', { origin: 'https://app.example' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect((await bad.json()).error.code).toBeDefined();
  });
});

describe('GatewayService from host controllers', () => {
  it('an @Sse route fed by GatewayService.stream: the events arrive, and a client that leaves stops the upstream', async () => {
    class Live {
      constructor(private readonly llm: GatewayService) {}
      live(req: any) {
        return this.llm.stream({ model: 'gpt-4o-mini', messages: hi }, { user: req.headers['x-user'] }).pipe(map((chunk) => ({ data: chunk })));
      }
    }
    Controller()(Live);
    Inject(GatewayService)(Live, undefined as never, 0);
    decorate(Live, 'live', Sse('live'));
    Req()(Live.prototype, 'live', 0);
    const { url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })], controllers: [Live] }));
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
    const text = await (await fetch(`${url}/live`)).text();
    expect(
      text
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '')
        .join(''),
    ).toBe(STREAM_TEXT);

    upstream.enqueue('/v1/chat/completions', { chunks: STREAM, stallAfter: 3 });
    const ac = new AbortController();
    const res = await fetch(`${url}/live`, { signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    expect(await until(() => upstream.aborted === 1)).toBe(true);
  });

  it('GatewayService.stream(...).pipe(take(n)) in a host route: the upstream is stopped once the host has enough', async () => {
    const { app } = await bootNest(
      moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()], budget: { max_cost_per_day: 10 } } })] }),
    );
    const llm = app.get(GatewayService);
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM, stallAfter: 5 });
    const chunks = await lastValueFrom(llm.stream({ model: 'gpt-4o-mini', messages: hi }).pipe(take(2), toArray()));
    expect(chunks).toHaveLength(2);
    expect(await until(() => upstream.aborted === 1)).toBe(true);
  });
});


describe('two GatewayModules in one app', () => {
  it('different basePaths and configs: each serves its own routes with its own keys and logs, a host provider in each module gets its own gateway, and app.close() closes both', async () => {
    const logsA: RequestLogRecord[] = [];
    const logsB: RequestLogRecord[] = [];
    class Holder {
      constructor(readonly llm: GatewayService) {}
    }
    Inject(GatewayService)(Holder, undefined as never, 0);
    Injectable()(Holder);
    class HolderB extends Holder {}
    Inject(GatewayService)(HolderB, undefined as never, 0);
    Injectable()(HolderB);
    const TeamModule = moduleClass({
      imports: [GatewayModule.forRoot({ basePath: '/team/llm', logger: false, onLog: (r) => void logsB.push(r), config: { targets: [target('sk-b')] } })],
      providers: [HolderB],
    });
    const { app, url } = await bootNest(
      moduleClass({
        imports: [GatewayModule.forRoot({ logger: false, onLog: (r) => void logsA.push(r), config: { targets: [target('sk-a')] } }), TeamModule],
        providers: [Holder],
      }),
    );
    upstream.route('/v1/chat/completions', { json: COMPLETION });
    await sdkFor(`${url}/llm/v1`).chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
    await sdkFor(`${url}/team/llm/v1`).chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
    await app.get(Holder).llm.chat({ model: 'gpt-4o-mini', messages: hi });
    await app.get(HolderB).llm.chat({ model: 'gpt-4o-mini', messages: hi });
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-a', 'Bearer sk-b', 'Bearer sk-a', 'Bearer sk-b']);
    expect(await until(() => logsA.length === 2 && logsB.length === 2)).toBe(true);
    // a bad request on the second route: its own 400 naming the field, in its own log
    const bad = await postJson(`${url}/team/llm/v1/chat/completions`, { messages: hi });
    expect((await bad.json()).error.param).toBe('model');
    expect(await until(() => logsB.length === 3)).toBe(true);
    expect(logsA).toHaveLength(2);
    const services = [app.get(Holder).llm, app.get(HolderB).llm];
    await toClose.pop()!();
    for (const s of services) await expect(s.chat({ model: 'gpt-4o-mini', messages: hi })).rejects.toThrow();
  });
});

describe('several GatewayModules, and paths Express cannot decode', () => {
  // Guards: nested basePaths are refused at boot, naming both, rather than leave the inner gateway unreachable.
  it('nested basePaths (/llm imported before /llm/internal): the inner gateway is reachable, or boot is refused naming the overlap', async () => {
    const outer = GatewayModule.forRoot({ logger: false, config: { targets: [target('sk-outer')] } });
    const inner = GatewayModule.forRoot({ basePath: '/llm/internal', logger: false, config: { targets: [target('sk-inner')] } });
    let url: string;
    try {
      ({ url } = await bootNest(moduleClass({ imports: [outer, inner] }), undefined, { abortOnError: false }));
    } catch (e) {
      expect(String(e)).toMatch(/basePath/);
      return;
    }
    upstream.route('/v1/chat/completions', { json: COMPLETION });
    const res = await postJson(`${url}/llm/internal/v1/chat/completions`, { model: 'gpt-4o-mini', messages: hi });
    expect(res.status).toBe(200);
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-inner']);
  });

  // Guards: a parser refusal is answered and logged by the GatewayModule whose route it was for, not one whose basePath ends it.
  it('two GatewayModules (/llm and /team/llm): a malformed body on /team/llm is answered and logged by the /team/llm gateway', async () => {
    const logsA: RequestLogRecord[] = [];
    const logsB: RequestLogRecord[] = [];
    const { url } = await bootNest(
      moduleClass({
        imports: [
          GatewayModule.forRoot({ logger: false, onLog: (r) => void logsA.push(r), config: { targets: [target('sk-a')] } }),
          GatewayModule.forRoot({ basePath: '/team/llm', logger: false, onLog: (r) => void logsB.push(r), config: { targets: [target('sk-b')] } }),
        ],
      }),
    );
    const bad = await postJson(`${url}/team/llm/v1/chat/completions`, '{"model":');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_json');
    const trace = bad.headers.get('x-llmux-trace-id');
    expect(await until(() => logsA.length + logsB.length === 1)).toBe(true);
    expect({ a: logsA.map((r) => r.trace_id), b: logsB.map((r) => r.trace_id) }).toEqual({ a: [], b: [trace] });
  });

  // Guards: a percent-escape Express's router cannot decode below /llm gets the gateway's OpenAI-shaped error, as on Express and Koa.
  it('a malformed percent-escape below /llm gets an OpenAI-shaped error, as on the Express and Koa adapters', async () => {
    const { url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()] } })] }));
    for (const path of ['/llm/v1/models/%E0%A4%A', '/llm/v1/chat/completions%ZZ']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      const body = await res.json();
      expect(typeof body.error, `${path}: ${JSON.stringify(body)}`).toBe('object');
      expect(body.error).toHaveProperty('type');
      expect(res.headers.get('x-llmux-trace-id')).toBeTruthy();
    }
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('GatewayService.stream and the cache', () => {
  // Guards: GatewayService.stream used to hand the host the very chunk objects the cache records and serialises at the end, so a host that rewrites chunks in place (rxjs map) changes what the cache later serves to every caller, HTTP clients included
  it('a host that rewrites GatewayService.stream chunks in place does not change what the cache later serves to openai SDK clients', async () => {
    const { app, url } = await bootNest(moduleClass({ imports: [GatewayModule.forRoot({ logger: false, config: { targets: [target()], cache: { mode: 'simple' } } })] }));
    const llm = app.get(GatewayService);
    upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
    // e.g. a host controller that shouts, redacts or decorates the text it relays over its own @Sse route
    const relayed = await lastValueFrom(
      llm.stream({ model: 'gpt-4o-mini', messages: hi }).pipe(
        map((chunk) => {
          const delta = chunk.choices[0]?.delta;
          if (delta?.content) delta.content = delta.content.toUpperCase();
          return chunk;
        }),
        toArray(),
      ),
    );
    expect(relayed.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(STREAM_TEXT.toUpperCase());

    const sdk = sdkFor(`${url}/llm/v1`);
    const streamed = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true }).withResponse();
    let text = '';
    for await (const c of streamed.data) text += c.choices[0]?.delta.content ?? '';
    const whole = await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).withResponse();
    expect(upstream.requests).toHaveLength(1);
    expect([streamed.response.headers.get('x-llmux-cache'), whole.response.headers.get('x-llmux-cache')]).toEqual(['HIT', 'HIT']);
    expect({ stream: text, json: whole.data.choices[0]!.message.content }).toEqual({ stream: STREAM_TEXT, json: STREAM_TEXT });
  });
});
