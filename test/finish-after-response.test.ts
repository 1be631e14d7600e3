import { request } from 'undici';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, createMemoryStore, type RequestLogRecord } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { startRedisProxy, type RedisProxy } from './helpers/redis-proxy.js';
import { until } from './helpers/until.js';

/** $1 per output token, free input: one output token costs $1. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const completion = {
  id: 'chatcmpl-after',
  object: 'chat.completion',
  created: 1,
  model: 'budget-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 7, completion_tokens: 1, total_tokens: 8 },
};
const chunk = (delta: object, extra: object = {}) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
const usageChunk = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } })}\n\n`;
const stream = [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello' }), chunk({ content: ' world' }), usageChunk, 'data: [DONE]\n\n'];
const body = { model: 'budget-model', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] };

/** Settles with the value, or with 'pending' if it has not within `ms`. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

let upstream: MockUpstream;
let proxy: RedisProxy;
const apps: TestApp[] = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
  proxy = await startRedisProxy();
});
afterAll(async () => {
  await upstream.close();
  await proxy.close();
});
afterEach(async () => {
  proxy.release();
  await Promise.all(apps.splice(0).map((a) => a.close()));
  upstream.reset();
});

/** An Express app whose gateway keeps budgets, limits and the cache on Redis behind the holding proxy. */
async function appOnRedis(options: AppOptions, records: RequestLogRecord[]): Promise<TestApp> {
  const app = await appFactories.express5!({
    pricing,
    adminKey: 'admin',
    // Held replies must not time out: the tests hold them on purpose.
    store: createRedisStore({ url: proxy.url, prefix: `llmux-test:${crypto.randomUUID()}:`, commandTimeout: 10_000 }),
    cache: { timeoutMs: 10_000 },
    onLog: (r) => void records.push(r),
    config: {
      targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }],
      budget: { max_cost_per_day: 100 },
      rate_limit: { requests_per_minute: 100 },
      cache: { mode: 'simple', max_age: 60 },
    },
    ...options,
  });
  apps.push(app);
  return app;
}

async function usageOf(app: TestApp): Promise<{ budgets: Array<{ spent: number; reserved: number }> }> {
  const res = await fetch(`${app.gatewayURL}/usage`, { headers: { authorization: 'Bearer admin' } });
  return res.json() as never;
}

describe('finishAfterResponse: the answer does not wait for the store', () => {
  it('a non-stream answer arrives while Redis holds its settlement and cache write; the record, the spend and the cache entry follow', async () => {
    // The upstream is reached after admission: from then on Redis's replies are held.
    upstream.route('/v1/chat/completions', () => (proxy.hold(), { json: completion }));
    const records: RequestLogRecord[] = [];
    const app = await appOnRedis({ finishAfterResponse: true }, records);
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });

    const answered = await within(client.chat.completions.create(body as never).withResponse(), 3000);
    expect(answered).not.toBe('pending');
    const { data, response } = answered as Exclude<typeof answered, 'pending'>;
    expect(data.choices[0]!.message.content).toBe('ok');
    // What the response carries is computed before it leaves.
    expect(response.headers.get('x-llmux-cost')).toBe('1');
    expect(response.headers.get('x-llmux-cache')).toBe('MISS');
    // The record waits for the settlement, which waits for Redis.
    expect(records).toHaveLength(0);

    proxy.release();
    expect(await until(() => records.length === 1)).toBe(true);
    expect(records[0]).toMatchObject({ status: 200, cost_usd: 1, cache: { status: 'MISS' } });
    expect((await usageOf(app)).budgets).toEqual([expect.objectContaining({ spent: 1, reserved: 0 })]);
    // The cache write landed: the same question is answered from Redis.
    const again = await client.chat.completions.create(body as never).withResponse();
    expect(again.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(upstream.requests).toHaveLength(1);
  });

  it('by default (DESIGN.md\'s order) the same answer waits for its settlement, and its record is made before the client has it', async () => {
    upstream.route('/v1/chat/completions', () => (proxy.hold(), { json: completion }));
    const records: RequestLogRecord[] = [];
    const app = await appOnRedis({}, records);
    const sent = fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(await within(sent, 400)).toBe('pending');
    proxy.release();
    const res = await sent;
    expect(res.status).toBe(200);
    expect(records).toHaveLength(1);
    await res.arrayBuffer();
  });

  it('a stream ends with [DONE] and its cost trailer while the settlement is held, and close() waits for the settlement', async () => {
    upstream.route('/v1/chat/completions', () => (proxy.hold(), { chunks: stream }));
    const records: RequestLogRecord[] = [];
    const app = await appOnRedis({ finishAfterResponse: true }, records);
    const res = await within(
      request(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) }).then(async (r) => ({
        status: r.statusCode,
        text: await r.body.text(),
        trailers: r.trailers,
      })),
      3000,
    );
    expect(res).not.toBe('pending');
    const { status, text, trailers } = res as Exclude<typeof res, 'pending'>;
    expect(status).toBe(200);
    expect(text).toContain('Hello');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(trailers).toEqual({ 'x-llmux-cost': '2' });
    expect(records).toHaveLength(0);

    const closing = app.gateway.close(5000);
    expect(await within(closing, 300)).toBe('pending');
    proxy.release();
    await closing;
    expect(records).toEqual([expect.objectContaining({ status: 200, cost_usd: 2, stream: true })]);
  });

  it('with the in-memory store it answers, costs, settles, records and caches as without it', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const records: RequestLogRecord[] = [];
    const gateway = createGateway({
      pricing,
      adminKey: 'admin',
      finishAfterResponse: true,
      logger: false,
      onLog: (r) => void records.push(r),
      config: {
        targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }],
        budget: { max_cost_per_day: 100 },
        cache: { mode: 'simple', max_age: 60 },
      },
    });
    const ask = () => gateway.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body });
    const first = await ask();
    expect(first.status).toBe(200);
    expect(first.headers['x-llmux-cost']).toBe('1');
    expect((await ask()).headers['x-llmux-cache']).toBe('HIT');
    const usage = await gateway.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin' } });
    expect((usage.body as { budgets: unknown[] }).budgets).toEqual([expect.objectContaining({ spent: 1, reserved: 0 })]);
    upstream.route('/v1/embeddings', { json: { object: 'list', model: 'budget-model', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 1, total_tokens: 1 } } });
    const embed = () => gateway.handle({ method: 'POST', path: '/v1/embeddings', headers: { 'content-type': 'application/json' }, body: { model: 'budget-model', input: 'hi' } });
    const vectors = await embed();
    expect(vectors.status).toBe(200);
    expect((vectors.body as { data: Array<{ embedding: number[] }> }).data[0]!.embedding).toEqual([0.1, 0.2]);
    expect((await embed()).headers['x-llmux-cache']).toBe('HIT');
    await gateway.close(1000);
    expect(records.map((r) => `${r.route} ${r.cache?.status}`)).toEqual(['chat MISS', 'chat HIT', 'embeddings MISS', 'embeddings HIT']);
  });

  it('close() waits for a settlement still running after the answer left, and the record it makes', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const records: RequestLogRecord[] = [];
    // The memory store, its settlements held until released: a store slower than the answer.
    const store = createMemoryStore();
    let releaseSettle!: () => void;
    const settleHeld = new Promise<void>((r) => (releaseSettle = r));
    const settle = store.settle.bind(store);
    store.settle = (...args) => settleHeld.then(() => settle(...args));
    const gateway = createGateway({
      pricing,
      store,
      finishAfterResponse: true,
      logger: false,
      onLog: (r) => void records.push(r),
      config: { targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }], budget: { max_cost_per_day: 100 } },
    });
    const res = await gateway.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    const closing = gateway.close(5000);
    expect(await within(closing, 200)).toBe('pending');
    expect(records).toHaveLength(0);
    releaseSettle();
    await closing;
    expect(records).toEqual([expect.objectContaining({ status: 200, cost_usd: 1 })]);
  });

  it('refuses a finishAfterResponse that is not a boolean, naming it', () => {
    expect(() => createGateway({ finishAfterResponse: 'yes' as never, logger: false })).toThrow(/options\.finishAfterResponse/);
  });
});
