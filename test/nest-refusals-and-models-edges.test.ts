/**
 * Edges of (A) NestJS: Nest's own body parser refusing a gateway request, answered by the gateway
 * (packages/nestjs/src/parser-refusals.ts) — prefixes with parameters and exclusions, case, an outer
 * Express app, basePath '/', guards — and (B) GET /v1/models/{id}. Tests marked "Regression" failed
 * before the fix: the mount is now read off the router as registered (not learned from URLs), only
 * paths the gateway serves are claimed, and the core answers a refusal before any route handler runs.
 */
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import OpenAI from 'openai';
import { Body, Catch, Controller, HttpCode, Post, RequestMethod, VersioningType, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayModule } from '@llmux/nestjs';
import { appFactories, type TestApp } from './helpers/apps.js';
import { moduleClass, nestHarness } from './helpers/nest.js';

const BROKEN = '{"model": "mock-1", messages: ]';
const GOOD = JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] });
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const codeOf = async (res: Response) => ((await res.json()) as { error?: { code?: string } }).error?.code;
const mock = () => ({ targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }] });

/** A host controller with POST /echo (Nest's own route) and GET /llmx (a path that starts like the mount). */
function hostController() {
  class Host {
    echo(body: unknown) {
      return { body: body ?? null };
    }
    llmx(body: unknown) {
      return { body: body ?? null };
    }
  }
  Controller()(Host);
  for (const [method, path] of [
    ['echo', 'echo'],
    ['llmx', 'llmx'],
  ] as const) {
    const d = Object.getOwnPropertyDescriptor(Host.prototype, method)!;
    Post(path)(Host.prototype, method, d);
    HttpCode(200)(Host.prototype, method, d);
    Body()(Host.prototype, method, 0);
  }
  return Host;
}

const { boot } = nestHarness({ abortOnError: false });
const withRawBody = nestHarness({ abortOnError: false, rawBody: true });

describe('A. NestJS: the gateway answers Nest’s body parser refusals on its routes', () => {
  // Regression.
  it('a parameterised global prefix (t/:tenant): a tenant not served before gets Nest’s error, not the gateway’s', async () => {
    const url = await boot(moduleClass({ imports: [GatewayModule.forRoot({ config: mock(), logger: false })] }), (a) => a.setGlobalPrefix('t/:tenant'));
    // Tenant acme is served once: its mount is learned, and its refusals get the gateway's 400.
    expect((await post(`${url}/t/acme/llm/v1/chat/completions`, GOOD)).status).toBe(200);
    expect(await codeOf(await post(`${url}/t/acme/llm/v1/chat/completions`, BROKEN))).toBe('invalid_json');
    // Tenant globex's route is the same gateway route, but its refusal is Nest's `{ statusCode, message }`
    // (as is every tenant's before the first request was served: the guess gives up on a ':' prefix).
    const other = await post(`${url}/t/globex/llm/v1/chat/completions`, BROKEN);
    expect(other.status).toBe(400);
    expect(await codeOf(other)).toBe('invalid_json');
  });

  // Regression.
  it('learned mounts replace the guess and are compared by case: 16 odd-cased GETs switch the feature off for good', async () => {
    const app = await appFactories['nestjs-prefixed']!({ config: mock(), logger: false } as never);
    try {
      // Express routes without regard to case, so each of these is served (200) and learned as a mount.
      const cased = (n: number) => [...'apillm'].map((c, j) => ((n >> j) & 1 ? c.toUpperCase() : c)).join('');
      const variants = Array.from({ length: 16 }, (_, i) => cased(i + 1)).map((w) => `/${w.slice(0, 3)}/${w.slice(3)}`);
      expect(new Set(variants).size).toBe(16);
      for (const v of variants) expect((await fetch(`${app.url}${v}/v1/models`)).status).toBe(200);
      expect((await post(`${app.gatewayURL}/v1/chat/completions`, GOOD)).status).toBe(200); // the real mount: over the cap of 16
      const res = await post(`${app.gatewayURL}/v1/chat/completions`, BROKEN);
      expect(res.status).toBe(400);
      expect(await codeOf(res)).toBe('invalid_json');
    } finally {
      await app.close();
    }
  });

  // Regression.
  it('global prefix whose `exclude` covers the gateway: the first refusals (nothing served yet) get Nest’s error', async () => {
    const url = await boot(moduleClass({ imports: [GatewayModule.forRoot({ config: mock(), logger: false })], controllers: [hostController()] }), (a) =>
      a.setGlobalPrefix('api', { exclude: [{ path: 'llm/{*path}', method: RequestMethod.ALL }] }),
    );
    // The gateway is served at /llm (the prefix excluded), where the guess (/api/llm) does not look.
    const res = await post(`${url}/llm/v1/chat/completions`, BROKEN);
    const first = { status: res.status, code: await codeOf(res) };
    const served = (await post(`${url}/llm/v1/chat/completions`, GOOD)).status;
    const later = await codeOf(await post(`${url}/llm/v1/chat/completions`, BROKEN));
    expect({ served, later }).toEqual({ served: 200, later: 'invalid_json' }); // once learned, right
    expect(first).toEqual({ status: 400, code: 'invalid_json' }); // before: Nest's `{ statusCode, message }`
  });

  // Regression.
  it('basePath "/": Nest’s own routes’ parser errors are taken by the gateway (a gateway 404 for POST /echo)', async () => {
    const url = await boot(moduleClass({ imports: [GatewayModule.forRoot({ basePath: '/', config: mock(), logger: false })], controllers: [hostController()] }));
    expect((await post(`${url}/v1/chat/completions`, GOOD)).status).toBe(200);
    const own = await post(`${url}/echo`, '{"broken": ');
    const body = (await own.json()) as Record<string, unknown>;
    expect({ status: own.status, body }).toMatchObject({ status: 400, body: { statusCode: 400 } });
  });

  // Regression.
  it('a Nest app mounted inside an outer Express app (app.use("/backend", nestExpress)): refusals keep Nest’s error', async () => {
    const inner = express();
    const AppModule = moduleClass({ imports: [GatewayModule.forRoot({ config: mock(), logger: false, shutdownDeadlineMs: 200 })] });
    const nest = await NestFactory.create(AppModule as never, new ExpressAdapter(inner), { logger: false, abortOnError: false });
    await nest.init(); // no listen: the outer app serves
    const outer = express();
    outer.use('/backend', inner);
    const server = outer.listen(0, '127.0.0.1') as Server;
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/backend`;
    try {
      expect((await post(`${url}/llm/v1/chat/completions`, GOOD)).status).toBe(200);
      const res = await post(`${url}/llm/v1/chat/completions`, BROKEN);
      expect(res.status).toBe(400);
      expect(await codeOf(res)).toBe('invalid_json');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await nest.close();
    }
  });

  // Regression.
  it('a refused body on a GET route skips the host’s guards and is answered (the model list) — a guard bypass', async () => {
    const denyAll = { canActivate: () => false };
    const url = await boot(moduleClass({ imports: [GatewayModule.forRoot({ config: mock(), logger: false })], providers: [{ provide: APP_GUARD, useValue: denyAll }] }));
    // The guard protects the gateway: a normal request is refused with Nest's 403.
    expect((await fetch(`${url}/llm/v1/models`)).status).toBe(403);
    // The same request with a malformed JSON body never reaches the guard, and the gateway serves it.
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${url}/llm/v1/models`, { method: 'GET', headers: { 'content-type': 'application/json', 'content-length': '1' } }, (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c) => (text += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end('{');
    });
    expect(answer.text).not.toContain('mock-1');
    expect(answer.status).not.toBe(200);
  });

  it('checked fine: global exception filter, rawBody, useBodyParser limit, a host route /llmx, HEAD/OPTIONS — host errors stay the host’s', async () => {
    class AllFilter implements ExceptionFilter {
      catch(exception: any, host: ArgumentsHost) {
        const res = host.switchToHttp().getResponse();
        res.status(exception?.getStatus?.() ?? 500).json({ filtered: true });
      }
    }
    Catch()(AllFilter);
    const url = await withRawBody.boot(moduleClass({ imports: [GatewayModule.forRoot({ config: mock(), logger: false })], controllers: [hostController()] }), (a: any) => {
      a.useGlobalFilters(new AllFilter());
      a.useBodyParser('json', { limit: '1kb' });
    });
    const bad = await post(`${url}/llm/v1/chat/completions`, BROKEN);
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { error: Record<string, unknown> };
    expect(badBody.error).toMatchObject({ code: 'invalid_json', param: 'body' });
    expect(JSON.stringify(badBody)).not.toMatch(/\bat \S+:\d+:\d+|node_modules/); // no stack trace
    const big = await post(`${url}/llm/v1/chat/completions`, JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
    expect(big.status).toBe(413);
    expect(await codeOf(big)).toBe('payload_too_large');
    const charset = await post(`${url}/llm/v1/chat/completions`, GOOD, { 'content-type': 'application/json; charset=klingon' });
    expect(charset.status).toBe(415);
    // The host's own routes, and a path that merely starts like the mount, still reach the host's filter.
    for (const path of ['/echo', '/llmx']) {
      const own = await post(`${url}${path}`, '{"broken": ');
      expect({ path, status: own.status, body: await own.json() }).toEqual({ path, status: 400, body: { filtered: true } });
    }
    // OPTIONS with a broken body on the gateway's route: the gateway's answer, no crash.
    const options = await fetch(`${url}/llm/v1/chat/completions`, { method: 'OPTIONS', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(options.status).toBeLessThan(500);
  });

  it('checked fine: URI versioning, GatewayModule inside a feature module, two Nest apps in one process each answer their own refusals', async () => {
    const Feature = moduleClass({ imports: [GatewayModule.forRoot({ basePath: '/ai', config: mock(), logger: false, shutdownDeadlineMs: 200 })] });
    const first = await NestFactory.create(moduleClass({ imports: [Feature], controllers: [hostController()] }) as never, { logger: false, abortOnError: false });
    first.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
    await first.listen(0, '127.0.0.1');
    const second = await NestFactory.create(moduleClass({ imports: [GatewayModule.forRoot({ config: mock(), logger: false, shutdownDeadlineMs: 200 })] }) as never, {
      logger: false,
      abortOnError: false,
    });
    second.setGlobalPrefix('v2');
    await second.listen(0, '127.0.0.1');
    const at = (app: typeof first) => `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
    try {
      expect(await codeOf(await post(`${at(first)}/ai/v1/chat/completions`, BROKEN))).toBe('invalid_json');
      expect((await post(`${at(first)}/v1/echo`, '{"b": ')).status).toBe(400);
      expect(await codeOf(await post(`${at(second)}/v2/llm/v1/chat/completions`, BROKEN))).toBe('invalid_json');
      expect((await post(`${at(second)}/v2/llm/v1/chat/completions`, GOOD)).status).toBe(200);
      expect((await post(`${at(first)}/ai/v1/chat/completions`, GOOD)).status).toBe(200);
      // Learned mounts are per gateway: each app still answers its own refusals.
      expect(await codeOf(await post(`${at(first)}/ai/v1/chat/completions`, BROKEN))).toBe('invalid_json');
      expect(await codeOf(await post(`${at(second)}/v2/llm/v1/chat/completions`, BROKEN))).toBe('invalid_json');
      // The other app's mount is not claimed.
      expect(await codeOf(await post(`${at(second)}/ai/v1/chat/completions`, BROKEN))).toBeUndefined();
    } finally {
      for (const app of [first, second]) {
        (app.getHttpServer() as Server).closeAllConnections();
        await app.close();
      }
    }
  });

  it('checked fine: bodyParser: false — the gateway reads the body itself and answers the same 400', async () => {
    const app = await appFactories.nestjs!({ bodyParser: false, config: mock(), logger: false } as never);
    try {
      expect(await codeOf(await post(`${app.gatewayURL}/v1/chat/completions`, BROKEN))).toBe('invalid_json');
    } finally {
      await app.close();
    }
  });
});

/** GET with a raw path (fetch would normalise `..` and `//`). */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: `${u.pathname}${path}`, method: 'GET', headers }, (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c) => (text += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const modelsConfig = {
  model_aliases: { fast: 'gpt-4o-mini' },
  strategy: { mode: 'fallback' },
  targets: [
    { provider: 'openai', api_key: 'sk-a-secret', override_params: { model: 'gpt-4o-mini' } },
    { provider: 'together', api_key: 'sk-b-secret', override_params: { model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo' } },
  ],
};
const LLAMA = 'meta-llama/Llama-3.3-70B-Instruct-Turbo';

let modelApp: TestApp | undefined;
afterEach(async () => {
  await modelApp?.close();
  modelApp = undefined;
});

describe.each(['express4', 'koa2', 'nestjs-prefixed'])('B. %s: GET /v1/models/{id} edges', (name) => {
  it('checked fine: slashes literal and encoded, query, trailing slash, dot segments, long ids, no keys in the answer', async () => {
    modelApp = await appFactories[name]!({ config: modelsConfig, logger: false } as never);
    const base = `${modelApp.gatewayURL}/v1/models/`;
    for (const path of [LLAMA, encodeURIComponent(LLAMA), `${LLAMA}?x=1`, `${LLAMA}/`, `gpt-4o-mini/?a=b`]) {
      const res = await rawGet(base, path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.text).not.toMatch(/sk-[ab]-secret/);
    }
    for (const path of ['..', '../chat/completions', '%2e%2e%2fchat%2fcompletions', `${'a'.repeat(6000)}`, '%252F', 'GPT-4O-MINI']) {
      const res = await rawGet(base, path);
      expect({ path: path.slice(0, 40), status: res.status }).toEqual({ path: path.slice(0, 40), status: 404 });
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'model_not_found' } });
    }
    // Broken percent-encoding: the gateway's 404 — except under Nest, whose Express 5 router refuses
    // to decode the wildcard param first (Nest's own 400 `Failed to decode param`, any gateway path).
    expect((await rawGet(base, 'gpt-4o-mini%2')).status).toBe(name.startsWith('nestjs') ? 400 : 404);
    // `/v1/models/` is the list (trailing slash).
    expect(JSON.parse((await rawGet(base, '')).text)).toMatchObject({ object: 'list' });
  });
});

describe('B. GET /v1/models/{id}: configs and keys', () => {
  it('checked fine: a config header without allowRequestConfig is a 403 (as for the list); with it, the client’s config is the list', async () => {
    modelApp = await appFactories.express5!({ config: modelsConfig, logger: false } as never);
    const header = { 'x-llmux-config': JSON.stringify({ targets: [{ provider: 'openai', api_key: 'sk-c', override_params: { model: 'gpt-4.1' } }] }) };
    for (const path of ['', '/gpt-4o-mini']) expect((await fetch(`${modelApp.gatewayURL}/v1/models${path}`, { headers: header })).status).toBe(403);
    await modelApp.close();
    modelApp = await appFactories.express5!({ config: modelsConfig, logger: false, allowRequestConfig: true } as never);
    expect((await fetch(`${modelApp.gatewayURL}/v1/models/gpt-4.1`, { headers: header })).status).toBe(200);
    expect((await fetch(`${modelApp.gatewayURL}/v1/models/gpt-4o-mini`, { headers: header })).status).toBe(404);
  });

  it('a key whose `models` excludes a model neither lists nor retrieves it (as OpenAI does for a project key), and cannot chat with it', async () => {
    const key = 'gk-only-mini-0123456789';
    modelApp = await appFactories.express5!({ config: modelsConfig, logger: false, auth: { keys: [{ key, name: 'mini', models: ['gpt-4o-mini'] }] } } as never);
    const client = new OpenAI({ baseURL: `${modelApp.gatewayURL}/v1`, apiKey: key, maxRetries: 0 });
    const listed = (await client.models.list()).data.map((m) => m.id);
    expect(listed).toContain('gpt-4o-mini');
    expect(listed).not.toContain(LLAMA);
    expect((await client.models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
    expect(await client.models.retrieve(LLAMA).catch((e) => e)).toBeInstanceOf(OpenAI.NotFoundError);
    const chat = await client.chat.completions.create({ model: LLAMA, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(chat.status).toBe(403);
  });
});
