import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const completion = {
  id: 'chatcmpl-rl',
  object: 'chat.completion',
  created: 1,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 },
};
const body = { model: 'gpt-4o-mini', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] };

let upstream: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  upstream.reset();
});

async function instances(count: number, options: AppOptions): Promise<TestApp[]> {
  const prefix = `llmux-test:${crypto.randomUUID()}:`;
  const started = await Promise.all(
    Array.from({ length: count }, () =>
      appFactories.express5!({
        ...options,
        store: createRedisStore({ prefix }),
        config: { targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }], ...(options.config as object) },
      }),
    ),
  );
  apps.push(...started);
  return started;
}

const post = (app: TestApp, headers: Record<string, string> = {}, payload: unknown = body) =>
  fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(payload) });

describe('rate limits shared through Redis', () => {
  it('lets exactly 5 of 30 concurrent requests through a 5/min limit over 2 instances', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const gateways = await instances(2, { config: { rate_limit: { requests_per_minute: 5 } } });
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => post(gateways[i % 2]!)));
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(5);
    expect(limited).toHaveLength(25);
    expect(upstream.requests).toHaveLength(5);
    // What is left after each admitted request: 4, 3, 2, 1, 0 — each exactly once.
    expect(ok.map((r) => r.headers.get('x-ratelimit-remaining-requests')).sort()).toEqual(['0', '1', '2', '3', '4']);
    for (const r of ok) {
      expect(r.headers.get('x-ratelimit-limit-requests')).toBe('5');
      expect(r.headers.get('x-ratelimit-reset-requests')).toMatch(/^(\d+s|1m0s|\d+ms)$/);
    }
    await Promise.all(responses.map((r) => r.arrayBuffer()));
  });

  it('answers 429 with Retry-After and the x-ratelimit headers', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const [gateway] = await instances(1, { config: { rate_limit: { requests_per_minute: 2 } } });
    await post(gateway!);
    await post(gateway!);
    const res = await post(gateway!);
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Number(res.headers.get('retry-after-ms'))).toBeGreaterThan(58_000);
    expect(res.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(res.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(res.headers.get('x-ratelimit-reset-requests')).toMatch(/^(59s|1m0s)$/);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringMatching(/^rate limit reached: 2 requests per minute for the gateway; retry in (59s|1m0s)$/),
        type: 'rate_limit_error',
        code: 'rate_limited',
        param: null,
        source: 'gateway',
        limit: 2,
        used: 2,
        metric: 'requests',
        window_seconds: 60,
        scope: 'gateway',
      },
    });
  });

  it('the OpenAI SDK sees a RateLimitError', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const [gateway] = await instances(1, { config: { rate_limit: { requests_per_minute: 1 } } });
    const client = new OpenAI({ baseURL: `${gateway!.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    await client.chat.completions.create(body as never);
    await expect(client.chat.completions.create(body as never)).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('keeps per-user limits apart across instances', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const [a, b] = await instances(2, {
      config: { rate_limit: { requests_per_minute: 2, scope: 'user' } },
      identify: (req: any) => ({ user: req.headers['x-user'] }),
    });
    const as = async (user: string, app: TestApp) => (await post(app, { 'x-user': user })).status;
    expect([await as('alice', a!), await as('alice', b!), await as('alice', a!)]).toEqual([200, 200, 429]);
    expect([await as('bob', b!), await as('bob', a!), await as('bob', b!)]).toEqual([200, 200, 429]);
  });

  it('scopes by a metadata field', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const [gateway] = await instances(1, { config: { rate_limit: { requests_per_minute: 1, scope: 'metadata.tenant' } } });
    const tenant = (t: string) => ({ 'x-llmux-metadata': JSON.stringify({ tenant: t }) });
    expect((await post(gateway!, tenant('acme'))).status).toBe(200);
    expect((await post(gateway!, tenant('acme'))).status).toBe(429);
    expect((await post(gateway!, tenant('globex'))).status).toBe(200);
  });

  it('limits tokens per minute with the real usage once known', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    // The bound for this body is 10 input (2 bytes + 8 per message) + 1 output = 11 tokens; real usage is 10.
    const [gateway] = await instances(1, { config: { rate_limit: { tokens_per_minute: 25 } } });
    const first = await post(gateway!);
    expect(first.headers.get('x-ratelimit-limit-tokens')).toBe('25');
    expect(first.headers.get('x-ratelimit-remaining-tokens')).toBe('14');
    expect((await post(gateway!)).headers.get('x-ratelimit-remaining-tokens')).toBe('4');
    const refused = await post(gateway!);
    expect(refused.status).toBe(429);
    expect((await refused.json()).error).toMatchObject({ metric: 'tokens', limit: 25, used: 20 });
  });

  it('refuses a request that could never fit the token limit', async () => {
    const [gateway] = await instances(1, { config: { rate_limit: { tokens_per_minute: 100 } } });
    const res = await post(gateway!, {}, { ...body, max_tokens: 1000 });
    expect(res.status).toBe(429);
    expect((await res.json()).error.message).toMatch(/^request too large: it may use 1010 tokens but the gateway is limited to 100 tokens per minute$/);
    expect(upstream.requests).toHaveLength(0);
  });

  it('keeps counting after Redis lost its scripts (a restart, SCRIPT FLUSH): loads them again, counts intact', async () => {
    upstream.route('/v1/chat/completions', { json: completion });
    const [gateway] = await instances(1, { config: { rate_limit: { requests_per_minute: 3 } } });
    const first = await post(gateway!);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('2');
    const admin = createClient();
    await admin.connect();
    try {
      await admin.scriptFlush();
    } finally {
      await admin.quit();
    }
    const afterFlush = await post(gateway!);
    expect(afterFlush.status).toBe(200);
    expect(afterFlush.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect((await post(gateway!)).status).toBe(200);
    expect((await post(gateway!)).status).toBe(429);
    expect(upstream.requests).toHaveLength(3);
  });
});
