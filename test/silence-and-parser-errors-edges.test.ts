/**
 * Edges of the mid-stream silence limit (other ingresses and framings, close(), custom transports,
 * what a cut stream leaves behind) and of `llm.errors` (wherever the app mounts the gateway and its
 * error handler). Tests marked "Regression" failed before the fix their comment describes.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, openAICompatible, type GatewayConfig, type Provider } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { eventStream, framesOf } from './helpers/bedrock-frames.js';
import { fixtureText, splitSse } from './helpers/fixtures.js';
import { sleep, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const CHAT = '/v1/chat/completions';
const openaiEvents = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const anthropicEvents = splitSse(fixtureText('anthropic/messages.text.stream.sse'));

let up: MockUpstream;
const apps: TestApp[] = [];
const records: Array<Record<string, any>> = [];

beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await up.close();
});
beforeEach(() => {
  up.reset();
  records.length = 0;
});


async function start(config: GatewayConfig, extra: Record<string, unknown> = {}): Promise<TestApp> {
  const app = await appFactories.express5!({ env: {}, config, onLog: (r: unknown) => void records.push(r as never), ...extra } as never);
  apps.push(app);
  return app;
}

describe('silence limit: other ingresses and framings', () => {
  it('/v1/messages to an Anthropic target that stalls: the Anthropic SDK raises, the upstream connection is closed', async () => {
    const app = await start({ request_timeout: 300, targets: [{ provider: 'anthropic', api_key: 'sk-ant-up', custom_host: `${up.url}/v1` }] });
    up.enqueue('/v1/messages', { chunks: anthropicEvents, stallAfter: 4 });
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client', maxRetries: 0 });
    const stream = await client.messages.create({ model: 'claude-review-model', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let error: unknown;
    const types: string[] = [];
    try {
      for await (const ev of stream) types.push(ev.type);
    } catch (e) {
      error = e;
    }
    expect(types).toContain('content_block_delta');
    expect(String(error)).toMatch(/sent nothing for 300 ms/);
    expect(await until(() => up.aborted === 1)).toBe(true);
    expect(await until(() => records.length === 1)).toBe(true);
    expect(records[0]).toMatchObject({ error: { code: 'upstream_timeout' } });
  });

  it('Bedrock event-stream framing that stalls after its first frames is cut and closed', async () => {
    const app = await start({ request_timeout: 300, targets: [{ provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: up.url }] });
    const reply = eventStream(framesOf('bedrock/converse-stream.text.eventstream.bin'));
    up.enqueue('*', { ...reply, stallAfter: 3 });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    let error: unknown;
    try {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    } catch (e) {
      error = e;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(String(error)).toMatch(/sent nothing for 300 ms/);
    expect(await until(() => up.aborted === 1)).toBe(true);
  });
});

describe('silence limit and close()', () => {
  it('close() past its deadline cuts a silent stream with gateway_closing and closes the upstream socket', async () => {
    const gateway = createGateway({ config: { request_timeout: 5000, targets: [{ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1` }] }, logger: false, metrics: false, env: {} } as never);
    up.enqueue(CHAT, { chunks: openaiEvents, stallAfter: 4 });
    const res = await gateway.handle({
      method: 'POST',
      path: CHAT,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const body = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    const decoder = new TextDecoder();
    let raw = '';
    raw += decoder.decode((await body.next()).value);
    const reading = (async () => {
      for (let r = await body.next(); !r.done; r = await body.next()) raw += decoder.decode(r.value);
    })();
    const began = Date.now();
    await gateway.close(200);
    await reading;
    expect(Date.now() - began).toBeLessThan(2500);
    expect(raw).toMatch(/"code":"gateway_closing"/);
    expect(await until(() => up.aborted === 1)).toBe(true);
  });
});

/** A provider whose own transport answers a stream that sends `sent` events, then goes quiet. */
function quietTransportProvider(sent: string[], honourSignalInBody: boolean): Provider & { aborted: () => boolean } {
  let abortedSeen = false;
  const base = openAICompatible({ id: 'quiet', baseURL: 'http://quiet.invalid/v1' });
  return {
    ...base,
    aborted: () => abortedSeen,
    async transport(_req, signal) {
      signal.addEventListener('abort', () => (abortedSeen = true), { once: true });
      const enc = new TextEncoder();
      async function* body() {
        for (const s of sent) yield enc.encode(s);
        // An SDK stream or socket wrapper that was opened with the signal but whose reads do not watch it.
        await new Promise<void>((resolve, reject) => {
          if (honourSignalInBody) signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          setTimeout(resolve, 10_000).unref();
        });
      }
      return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: body(), dump: async () => undefined };
    },
  } as never;
}

describe('silence limit with a provider that has its own transport', () => {
  it('a transport whose body honours the signal is cut after the silence limit', async () => {
    const provider = quietTransportProvider(openaiEvents.slice(0, 4), true);
    const gateway = createGateway({ config: { request_timeout: 300, targets: [{ provider: 'quiet', api_key: 'k' }] }, customProviders: [provider], logger: false, metrics: false, env: {} } as never);
    try {
      const res = await gateway.handle({ method: 'POST', path: CHAT, headers: {}, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'Hi' }] }) });
      let raw = '';
      const dec = new TextDecoder();
      for await (const b of res.body as AsyncIterable<Uint8Array>) raw += dec.decode(b);
      expect(raw).toMatch(/sent nothing for 300 ms/);
    } finally {
      await gateway.close(200);
    }
  });

  // Regression: the limit fired (the transport's signal aborted) but a body that ignores its signal was
  // still awaited; reads from a custom transport now give up when the attempt's signal aborts.
  it('a transport whose body does not watch the signal still gets its stream cut after the silence limit', async () => {
    const provider = quietTransportProvider(openaiEvents.slice(0, 4), false);
    const gateway = createGateway({ config: { request_timeout: 300, targets: [{ provider: 'quiet', api_key: 'k' }] }, customProviders: [provider], logger: false, metrics: false, env: {} } as never);
    try {
      const res = await gateway.handle({ method: 'POST', path: CHAT, headers: {}, body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'Hi' }] }) });
      let raw = '';
      const dec = new TextDecoder();
      const done = (async () => {
        for await (const b of res.body as AsyncIterable<Uint8Array>) raw += dec.decode(b);
        return 'ended';
      })();
      const outcome = await Promise.race([done, sleep(1500).then(() => 'still open')]);
      expect(provider.aborted()).toBe(true); // the limit fired
      expect(outcome).toBe('ended');
      expect(raw).toMatch(/sent nothing for 300 ms/);
    } finally {
      await gateway.close(100);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// llm.errors (Express)

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import { gatewayMiddleware } from '@llmux/express';
import { until } from './helpers/until.js';

const servers: Server[] = [];
const middlewares: Array<{ close(ms?: number): Promise<void> }> = [];
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  for (const m of middlewares) await m.close(200);
});

type Mount = (app: any, llm: ReturnType<typeof gatewayMiddleware>, factory: typeof express5) => void;

async function hostApp(factory: typeof express5, basePath: string | undefined, mount: Mount): Promise<string> {
  const app = factory();
  app.use(factory.json());
  const llm = gatewayMiddleware({ config: { targets: [{ provider: 'mock' }] }, logger: false, ...(basePath ? { basePath } : {}) });
  middlewares.push(llm);
  mount(app, llm, factory);
  app.post('/echo', (req: any, res: any) => void res.json(req.body));
  app.use((err: { status?: number }, _req: unknown, res: any, _next: unknown) => void res.status(err.status ?? 500).json({ appHandled: true }));
  const server = app.listen(0, '127.0.0.1') as Server;
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const postJson = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
const BROKEN = '{"model": "mock-1", messages: ]';

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as unknown as typeof express5],
])('%s: llm.errors and where the gateway is mounted', (_name, factory) => {
  it("app.use('/llm', llm) + app.use(llm.errors): the refusal is the gateway's 400", async () => {
    const url = await hostApp(factory, undefined, (app, llm) => {
      app.use('/llm', llm);
      app.use(llm.errors);
    });
    const res = await postJson(`${url}/llm/v1/chat/completions`, BROKEN);
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_json');
  });

  it("README's form app.use('/ai', gatewayMiddleware({ basePath: '/ai' })) + app.use(llm.errors) works", async () => {
    const url = await hostApp(factory, '/ai', (app, llm) => {
      app.use('/ai', llm);
      app.use(llm.errors);
    });
    const res = await postJson(`${url}/ai/v1/chat/completions`, BROKEN);
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_json');
    const own = await postJson(`${url}/echo`, '{"broken": ');
    expect(await own.json()).toEqual({ appHandled: true });
  });

  it("gateway in a Router mounted at /api: app.use('/api', llm.errors) (same mount as the router) answers", async () => {
    const url = await hostApp(factory, undefined, (app, llm, f) => {
      const r = (f as any).Router();
      r.use(llm);
      app.use('/api', r);
      app.use('/api', llm.errors);
    });
    const res = await postJson(`${url}/api/llm/v1/chat/completions`, BROKEN);
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('invalid_json');
  });

  // Regression (fixed by remembering where the gateway is mounted): an error raised by a root-level express.json() never enters a sub-router (Express skips
  // routers for errors), so llm.errors can only run at the root — where it does not know the /api prefix.
  it("gateway in a Router mounted at /api (serving /api/llm/*) + app.use(llm.errors) at the root: the refusal is the gateway's 400", async () => {
    const url = await hostApp(factory, undefined, (app, llm, f) => {
      const r = (f as any).Router();
      r.use(llm);
      app.use('/api', r);
      app.use(llm.errors);
    });
    const ok = await postJson(`${url}/api/llm/v1/chat/completions`, JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(ok.status).toBe(200); // the gateway does serve this path
    const res = await postJson(`${url}/api/llm/v1/chat/completions`, BROKEN);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  // Regression: the gateway serves /api/llm/* (its mount ends with basePath, which gatewayPath accepts), but
  // the root-level error handler the README shows does not recognise the same URL.
  it("app.use('/api/llm', llm) + app.use(llm.errors): the gateway's route gets the gateway's error, not the host's", async () => {
    const url = await hostApp(factory, undefined, (app, llm) => {
      app.use('/api/llm', llm);
      app.use(llm.errors);
    });
    const ok = await postJson(`${url}/api/llm/v1/chat/completions`, JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(ok.status).toBe(200); // the gateway does serve this path
    const res = await postJson(`${url}/api/llm/v1/chat/completions`, BROKEN);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_json' } });
  });

  // Regression: with basePath '/', gatewayPath() claims every URL, so the root-level llm.errors takes the
  // host's own routes' parser errors and answers them as gateway requests (a gateway 404 for /echo).
  it("app.use('/ai', gatewayMiddleware({ basePath: '/' })) + app.use(llm.errors): the host's /echo keeps the host's error handler", async () => {
    const url = await hostApp(factory, '/', (app, llm) => {
      app.use('/ai', llm);
      app.use(llm.errors);
    });
    const ok = await postJson(`${url}/ai/v1/chat/completions`, JSON.stringify({ model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] }));
    expect(ok.status).toBe(200);
    const own = await postJson(`${url}/echo`, '{"broken": ');
    const text = await own.text();
    expect({ status: own.status, text }).toEqual({ status: 400, text: JSON.stringify({ appHandled: true }) });
  });

  it('an error that is not a parser refusal on a gateway route goes on to the host handler; so does one after headers were sent', async () => {
    const url = await hostApp(factory, undefined, (app, llm) => {
      app.post('/llm/v1/boom', (_req: any, _res: any, next: any) => next(Object.assign(new Error('db down sk-secret'), { status: 503 })));
      app.post('/llm/v1/sent', (_req: any, res: any, next: any) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        next(Object.assign(new Error('late'), { type: 'entity.parse.failed', status: 400 }));
      });
      app.use(llm);
      app.use(llm.errors);
    });
    const boom = await postJson(`${url}/llm/v1/boom`, '{}');
    expect(boom.status).toBe(503);
    expect(await boom.json()).toEqual({ appHandled: true });
    const sent = await fetch(`${url}/llm/v1/sent`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      .then((r) => r.text())
      .catch((e) => `error: ${e}`);
    expect(sent).not.toMatch(/invalid_json/);
  });
});

describe('silence limit: what a cut stream leaves behind', () => {
  it('a cut stream is recorded as stream_cut (status 502 as docs/observability.md says, the cause upstream_timeout, no usage: the budget keeps the reservation)', async () => {
    const app = await start({ request_timeout: 300, budget: { max_cost_per_day: 5 }, targets: [{ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1` }] });
    up.enqueue(CHAT, { chunks: openaiEvents, stallAfter: 4 });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true, max_tokens: 100 });
    const error = await (async () => {
      for await (const _ of stream);
    })().catch((e) => e);
    expect(String(error)).toMatch(/sent nothing for 300 ms/);
    expect(await until(() => records.length === 1)).toBe(true);
    expect(records[0]).toMatchObject({ outcome: 'stream_cut', status: 502, cost_status: 'no_usage', error: { code: 'upstream_timeout' } });
    expect(await until(() => up.aborted === 1)).toBe(true);
  });

  it('a client that leaves while the upstream is silent is recorded as client_closed and the upstream is closed', async () => {
    const app = await start({ request_timeout: 2000, targets: [{ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1` }] });
    up.enqueue(CHAT, { chunks: openaiEvents, stallAfter: 4 });
    const ac = new AbortController();
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    await sleep(100);
    ac.abort();
    expect(await until(() => up.aborted === 1)).toBe(true);
    expect(await until(() => records.length === 1)).toBe(true);
    expect(records[0]).toMatchObject({ outcome: 'client_closed', status: 499 });
  });
});
