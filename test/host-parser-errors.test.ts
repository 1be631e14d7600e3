/**
 * Express apps that mount the gateway behind `express.json()`: with `app.use(llm.errors)` after it, a
 * body the host's parser refuses on a gateway route gets the gateway's own error (OpenAI shape, or
 * Anthropic's on /v1/messages) with a trace id and a log record, not Express's HTML error page; the
 * app's own routes keep the app's error handling.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { gatewayMiddleware } from '@llmux/express';
import { appFactories } from './helpers/apps.js';

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function hostApp(factory: typeof express5, records: Array<Record<string, any>>) {
  const app = factory();
  app.use(factory.json()); // its default limit: 100 kB
  const llm = gatewayMiddleware({ config: { targets: [{ provider: 'mock' }] }, logger: false, onLog: (r) => void records.push(r as never) });
  app.use(llm);
  app.use(llm.errors);
  app.post('/echo', (req, res) => void res.json(req.body));
  // The app's own error handler, after the gateway's: it must still see the app's own errors.
  app.use((err: { status?: number }, _req: unknown, res: express5.Response, _next: unknown) => void res.status(err.status ?? 500).json({ appHandled: true }));
  const server = app.listen(0, '127.0.0.1') as Server;
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const post = (url: string, body: string, type = 'application/json') => fetch(url, { method: 'POST', headers: { 'content-type': type }, body });

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as unknown as typeof express5],
])('%s behind express.json() with llm.errors', (_name, factory) => {
  it('malformed JSON: a 400 in the OpenAI shape naming the body, with a trace id and a log record', async () => {
    const records: Array<Record<string, any>> = [];
    const url = await hostApp(factory, records);
    const res = await post(`${url}/llm/v1/chat/completions`, '{"model": "gpt-4o-mini", messages: ]');
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.headers.get('x-llmux-trace-id')).toBeTruthy();
    const { error } = (await res.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: 'body', source: 'gateway' });
    expect(error.message).toMatch(/request body is not valid JSON/);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 400, error: { code: 'invalid_json' } });
  });

  it("a chat over the parser's limit: the openai SDK raises a 413 that says what to change", async () => {
    const url = await hostApp(factory, []);
    const client = new OpenAI({ baseURL: `${url}/llm/v1`, apiKey: 'unused', maxRetries: 0 });
    const long = 'word '.repeat(40_000); // ~200 kB
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: long }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(413);
    expect(err.error).toMatchObject({ code: 'payload_too_large', param: 'body' });
    expect(err.message).toMatch(/body parser limit of 102400 bytes; raise its limit, or mount llmux ahead of the parser/);
  });

  it('on /v1/messages the refusal comes in Anthropic’s shape, which @anthropic-ai/sdk raises as a typed error', async () => {
    const url = await hostApp(factory, []);
    const client = new Anthropic({ baseURL: `${url}/llm`, apiKey: 'unused', maxRetries: 0 });
    const err = await client.messages
      .create({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'word '.repeat(40_000) }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.status).toBe(413);
    expect(err.error).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.stringMatching(/body parser limit/) } });
  });

  it("an unknown charset is a 415; the app's own routes keep the app's error handler", async () => {
    const url = await hostApp(factory, []);
    const refused = await post(`${url}/llm/v1/chat/completions`, '{}', 'application/json; charset=klingon');
    expect(refused.status).toBe(415);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('unsupported_media_type');
    const own = await post(`${url}/echo`, '{"broken": ');
    expect(own.status).toBe(400);
    expect(await own.json()).toEqual({ appHandled: true });
    // A good request still goes through the gateway.
    const ok = await post(`${url}/llm/v1/chat/completions`, JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(ok.status).toBe(200);
  });
});

describe.each([
  ['nestjs', '/llm'],
  ['nestjs-prefixed', '/api/llm'],
] as const)('%s: Nest’s own body parser refusing a gateway request', (name, mount) => {
  it('malformed JSON and a body over Nest’s 100 kB limit get the gateway’s errors; the app’s own route keeps Nest’s', async () => {
    const records: Array<Record<string, any>> = [];
    const app = await appFactories[name]!({ config: { targets: [{ provider: 'mock' }] }, logger: false, onLog: (r) => void records.push(r as never) } as never);
    try {
      expect(app.gatewayURL).toBe(`${app.url}${mount}`);
      const bad = await post(`${app.gatewayURL}/v1/chat/completions`, '{"model": "gpt-4o-mini", messages: ]');
      expect(bad.status).toBe(400);
      expect(bad.headers.get('x-llmux-trace-id')).toBeTruthy();
      expect(await bad.json()).toMatchObject({ error: { code: 'invalid_json', param: 'body', type: 'invalid_request_error' } });
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'word '.repeat(40_000) }] }).catch((e) => e);
      expect(err.status).toBe(413);
      expect(err.error).toMatchObject({ code: 'payload_too_large' });
      expect(records.map((r) => r.status)).toEqual([400, 413]);
      // Nest's own route: Nest's own error shape, untouched.
      const own = await post(`${app.url}/echo`, '{"broken": ');
      expect(own.status).toBe(400);
      expect(await own.json()).toMatchObject({ statusCode: 400 });
      // And a good request still goes through.
      const ok = await post(`${app.gatewayURL}/v1/chat/completions`, JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] }));
      expect(ok.status).toBe(200);
      // Learned mounts take over once a request was served: still the gateway's error.
      const again = await post(`${app.gatewayURL}/v1/chat/completions`, '{');
      expect(((await again.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    } finally {
      await app.close();
    }
  });
});

describe('a refused body never reaches a route the app guards', () => {
  // Regression: a route that reads no body (GET /v1/models) was served to a request whose body the
  // parser refused — so the app's own auth middleware, mounted after the parser, never ran for it.
  it("Express: auth after express.json() — a GET with a broken JSON body gets the refusal, not the model list", async () => {
    const app = express5();
    app.use(express5.json());
    app.use((req, res, next) => (req.headers.authorization === 'Bearer app-user' ? next() : void res.status(401).json({ app: 'login first' })));
    const llm = gatewayMiddleware({ config: { targets: [{ provider: 'openai', api_key: 'sk-x', override_params: { model: 'gpt-4o-mini' } }] }, logger: false });
    app.use(llm);
    app.use(llm.errors);
    const server = app.listen(0, '127.0.0.1') as Server;
    servers.push(server);
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${url}/llm/v1/models`)).status).toBe(401); // the app's auth answers a plain GET
    const refused = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      // fetch() sends no body with GET; a raw request does.
      import('node:http').then(({ request }) => {
        const req = request(`${url}/llm/v1/models`, { method: 'GET', headers: { 'content-type': 'application/json', 'content-length': '1' } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end('{');
      }, reject);
    });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'invalid_json' } });
    expect(refused.body).not.toContain('gpt-4o-mini');
  });
});
