/**
 * QA for issue 6 (cost, budgets, limits, Redis): the cases a production operator hits that the
 * feature tests leave open — cached tokens priced end to end for OpenAI, Anthropic and Gemini (JSON
 * and streams), `scope: "key"` budgets under gateway keys, concurrent streams over several instances,
 * a dead Redis with the cache on, absurd `max_tokens`, and the headers every refusal still carries.
 */
import { createServer } from 'node:net';
import { calcPrice, extractUsage, findProvider } from '@pydantic/genai-prices';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let up: MockUpstream;
const gateways: Gateway[] = [];
const apps: TestApp[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close(500)));
  await Promise.all(apps.splice(0).map((a) => a.close()));
  up.reset();
});

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ env: {}, ...options });
  gateways.push(g);
  return g;
}

/** What the price database itself says a provider's own response body costs. */
function databasePrice(providerId: string, body: unknown, flavor?: string): number {
  const { usage, model } = extractUsage(findProvider({ providerId })!, body, flavor);
  return calcPrice(usage, model!, { providerId })!.total_price;
}

async function drain(body: unknown): Promise<string> {
  let text = '';
  for await (const part of body as AsyncIterable<Uint8Array>) text += new TextDecoder().decode(part);
  return text;
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: {},
  body: { model, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...extra },
});

describe('cached tokens are priced at their own rates, end to end', () => {
  it('OpenAI: prompt_tokens_details.cached_tokens (JSON answer)', async () => {
    const body = fixtureJson('openai/chat-completions.text.json');
    body.usage = { ...body.usage, prompt_tokens: 5000, total_tokens: 5000 + body.usage.completion_tokens, prompt_tokens_details: { cached_tokens: 4096, audio_tokens: 0 } };
    up.route('/v1/chat/completions', { json: body });
    const g = gateway({ config: { targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }] } });
    const res = await g.handle(chat('gpt-4.1-nano'));
    expect(res.status).toBe(200);
    const expected = databasePrice('openai', body, 'chat');
    expect(Number(res.headers['x-llmux-cost'])).toBeCloseTo(expected, 12);
    // The discount is real: the same tokens uncached cost more.
    expect(expected).toBeLessThan(calcPrice({ input_tokens: 5000, output_tokens: body.usage.completion_tokens }, body.model, { providerId: 'openai' })!.total_price);
  });

  it('OpenAI: cached tokens in the usage chunk of a stream (trailer)', async () => {
    const events = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')).map((e) =>
      e.replace(/"prompt_tokens":78,"completion_tokens":9,"total_tokens":87,"prompt_tokens_details":\{"cached_tokens":0/, '"prompt_tokens":3000,"completion_tokens":9,"total_tokens":3009,"prompt_tokens_details":{"cached_tokens":2048'),
    );
    expect(events.join('')).toContain('"cached_tokens":2048');
    up.route('/v1/chat/completions', { chunks: events });
    const g = gateway({ config: { targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }] } });
    const res = await g.handle(chat('gpt-4o-mini', { stream: true }));
    await drain(res.body);
    const expected = calcPrice({ input_tokens: 3000, cache_read_tokens: 2048, output_tokens: 9 }, 'gpt-4o-mini-2024-07-18', { providerId: 'openai' })!.total_price;
    expect(Number(res.trailers?.()['x-llmux-cost'])).toBeCloseTo(expected, 12);
  });

  it('Anthropic: cache reads and writes in a stream (message_start / message_delta usage)', async () => {
    const raw = fixtureText('anthropic/messages.text.stream.sse')
      .replaceAll('"cache_creation_input_tokens":0', '"cache_creation_input_tokens":1200')
      .replaceAll('"cache_read_input_tokens":0', '"cache_read_input_tokens":3000');
    up.route('/v1/messages', { chunks: splitSse(raw) });
    const g = gateway({ config: { targets: [{ provider: 'anthropic', api_key: 'sk-ant-x', custom_host: `${up.url}/v1` }] } });
    const res = await g.handle(chat('claude-sonnet-4-5', { stream: true, stream_options: { include_usage: true } }));
    const text = await drain(res.body);
    const expected = databasePrice('anthropic', {
      model: 'claude-sonnet-4-5-20250929',
      usage: { input_tokens: 20, cache_creation_input_tokens: 1200, cache_read_input_tokens: 3000, output_tokens: 5 },
    });
    expect(Number(res.trailers?.()['x-llmux-cost'])).toBeCloseTo(expected, 12);
    // The client asked for usage: it sees the cached split and the cost in the last chunk.
    const usage = text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)))
      .find((c) => c.usage)?.usage;
    expect(usage).toMatchObject({ prompt_tokens: 4220, prompt_tokens_details: { cached_tokens: 3000 } });
    expect(usage.cost).toBeCloseTo(expected, 9);
  });

  it('Gemini: cachedContentTokenCount (JSON answer)', async () => {
    const body = fixtureJson('gemini/generateContent.text.json');
    body.usageMetadata = { ...body.usageMetadata, promptTokenCount: 9000, cachedContentTokenCount: 6000, totalTokenCount: 9000 + 28 + 244 };
    up.route('*', { json: body });
    const g = gateway({ config: { targets: [{ provider: 'google', api_key: 'AIza-test', custom_host: `${up.url}/v1beta` }] } });
    const res = await g.handle(chat('gemini-3-pro-preview'));
    expect(res.status).toBe(200);
    const expected = databasePrice('google', body);
    expect(Number(res.headers['x-llmux-cost'])).toBeCloseTo(expected, 12);
    expect(expected).toBeLessThan(calcPrice({ input_tokens: 9000, output_tokens: 28 + 244 }, 'gemini-3-pro-preview', { providerId: 'google' })!.total_price);
  });
});

describe('x-llmux-cost is always a plain decimal', () => {
  it('for tiny costs (no exponent), for refusals and for unpriced models (absent, with a status)', async () => {
    const reply = (model: string) => ({ ...fixtureJson('openai/chat-completions.text.json'), model, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    up.route('/v1/chat/completions', (req) => ({ json: reply(req.json.model) }));
    const g = gateway({
      pricing: { tiny: { input: 0.0005, output: 0.0005 } },
      config: { targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }], rate_limit: { requests_per_minute: 2 } },
    });
    const tiny = await g.handle(chat('tiny'));
    expect(tiny.headers['x-llmux-cost']).toBe('0.000000001');
    const unpriced = await g.handle(chat('unknown-model-xyz'));
    expect(unpriced.headers['x-llmux-cost']).toBeUndefined();
    expect(unpriced.headers['x-llmux-cost-status']).toBe('unpriced');
    const refused = await g.handle(chat('tiny'));
    expect(refused.status).toBe(429);
    expect(refused.headers['x-llmux-cost']).toBe('0');
    for (const r of [tiny, refused]) expect(r.headers['x-llmux-cost']).toMatch(/^\d+(\.\d+)?$/);
  });
});

describe('refusals are still traced and logged', () => {
  it('a 429 and a 402 carry x-llmux-trace-id (the client’s own when sent) and each leaves a record', async () => {
    up.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const target = { provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` };
    const limitedGateway = gateway({ config: { targets: [target], rate_limit: { requests_per_minute: 1, scope: 'user' } } });
    const ok = await limitedGateway.handle({ ...chat('gpt-4.1-nano'), headers: { 'x-llmux-trace-id': 'qa-first' } }, { user: 'u1' });
    expect(ok.status).toBe(200);
    const limited = await limitedGateway.handle({ ...chat('gpt-4.1-nano'), headers: { 'x-llmux-trace-id': 'qa-limited' } }, { user: 'u1' });
    expect(limited.status).toBe(429);
    const anonymous = await limitedGateway.handle(chat('gpt-4.1-nano'), { user: 'u1' });
    expect(anonymous.status).toBe(429);
    expect(ok.headers['x-llmux-trace-id']).toBe('qa-first');
    expect(limited.headers['x-llmux-trace-id']).toBe('qa-limited');
    expect(anonymous.headers['x-llmux-trace-id']).toMatch(/^[\w-]{8,}$/);
    expect(anonymous.headers['x-portkey-trace-id']).toBe(anonymous.headers['x-llmux-trace-id']);
    expect(recentRequests(limitedGateway).records.map((r) => [r.trace_id, r.status])).toEqual([
      [anonymous.headers['x-llmux-trace-id'], 429],
      ['qa-limited', 429],
      ['qa-first', 200],
    ]);

    const budgeted = gateway({ config: { targets: [target], budget: { max_cost_per_day: 0.00000001, scope: 'team' } } });
    const broke = await budgeted.handle({ ...chat('gpt-4.1-nano'), headers: { 'x-portkey-trace-id': 'qa-broke' } }, { team: 't1' });
    expect(broke.status).toBe(402);
    expect(broke.headers['x-llmux-trace-id']).toBe('qa-broke');
    expect(recentRequests(budgeted).records).toEqual([expect.objectContaining({ trace_id: 'qa-broke', status: 402, limit: expect.objectContaining({ kind: 'budget', scope: 'team', scope_value: 't1' }) })]);
    expect(up.requests).toHaveLength(1);
  });
});

describe('scope "key" budgets and limits in the config, under gateway keys', () => {
  it('keep each gateway key’s spend apart, name the key (never its secret) in 402s and /usage', async () => {
    up.route('/v1/chat/completions', {
      json: { ...fixtureJson('openai/chat-completions.text.json'), model: 'budget-model', usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } },
    });
    const g = gateway({
      pricing: { 'budget-model': { input: 0, output: 1_000_000 } },
      adminKey: 'qa-admin-key-000000',
      auth: {
        keys: [
          { key: 'qa-secret-key-alpha-0001', name: 'alpha' },
          { key: 'qa-secret-key-beta-00002', name: 'beta' },
        ],
      },
      config: {
        targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }],
        budget: { max_cost_per_day: 2, scope: 'key' },
        rate_limit: { requests_per_minute: 3, scope: 'key' },
      },
    });
    const as = (key: string) => g.handle({ ...chat('budget-model', { max_tokens: 1 }), headers: { authorization: `Bearer ${key}` } });
    expect((await as('qa-secret-key-alpha-0001')).status).toBe(200);
    expect((await as('qa-secret-key-alpha-0001')).status).toBe(200);
    const refused = await as('qa-secret-key-alpha-0001');
    expect(refused.status).toBe(402);
    expect((refused.body as any).error).toMatchObject({ scope: 'key', scope_value: 'alpha', spent: 2, limit: 2 });
    // The other key has its own bucket.
    expect((await as('qa-secret-key-beta-00002')).status).toBe(200);
    const usage = await g.handle({ method: 'GET', path: '/usage', headers: { authorization: 'Bearer qa-admin-key-000000' } });
    const report = usage.body as any;
    expect(report.budgets).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ scope: 'key', scope_value: 'alpha', spent: 2, remaining: 0 }),
        expect.objectContaining({ scope: 'key', scope_value: 'beta', spent: 1, remaining: 1 }),
      ]),
    );
    // A request the budget refused was not admitted, so it took no rate-limit slot.
    expect(report.rate_limits).toEqual(expect.arrayContaining([expect.objectContaining({ scope: 'key', scope_value: 'alpha', used: 2 })]));
    const everything = JSON.stringify([refused, usage, recentRequests(g)]);
    expect(everything).not.toContain('qa-secret-key-alpha-0001');
    expect(everything).not.toContain('qa-secret-key-beta-00002');
    // A gateway key is not the admin key.
    expect((await g.handle({ method: 'GET', path: '/usage', headers: { authorization: 'Bearer qa-secret-key-alpha-0001' } })).status).toBe(401);
  });
});

describe('budgets through Redis under concurrent streams', () => {
  const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
  const events = [
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: null }] })}\n\n`,
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } })}\n\n`,
    'data: [DONE]\n\n',
  ];

  it('let through at most the budget of 90 concurrent streams over 3 instances, then settle every one', async () => {
    up.route('/v1/chat/completions', { chunks: events, chunkDelayMs: 5 });
    const prefix = `llmux-test:${crypto.randomUUID()}:`;
    const started = await Promise.all(
      Array.from({ length: 3 }, () =>
        appFactories.express5!({
          pricing,
          adminKey: 'admin',
          store: createRedisStore({ prefix }),
          config: { targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }], budget: { max_cost_per_day: 6 } },
        }),
      ),
    );
    apps.push(...started);
    const results = await Promise.all(
      Array.from({ length: 90 }, async (_, i) => {
        const res = await request(`${started[i % 3]!.gatewayURL}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'budget-model', max_tokens: 1, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
        });
        const text = await res.body.text();
        return { status: res.statusCode, text, trailers: res.trailers };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(6);
    expect(results.filter((r) => r.status === 402)).toHaveLength(84);
    expect(up.requests).toHaveLength(6);
    for (const r of ok) {
      expect(r.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(r.trailers['x-llmux-cost']).toBe('1');
    }
    const usage = await (await fetch(`${started[0]!.gatewayURL}/usage`, { headers: { authorization: 'Bearer admin' } })).json();
    expect(usage.budgets).toEqual([expect.objectContaining({ spent: 6, reserved: 0, remaining: 0 })]);
  });

  it('refuse an absurd max_tokens with a 402 or 400 naming it, never a 5xx, and count nothing', async () => {
    up.route('/v1/chat/completions', { json: { ...fixtureJson('openai/chat-completions.text.json'), model: 'budget-model', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } });
    const g = gateway({
      pricing,
      adminKey: 'admin',
      store: createRedisStore({ prefix: `llmux-test:${crypto.randomUUID()}:` }),
      config: {
        targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }],
        budget: { max_cost_per_day: 5, max_tokens_per_day: 1_000_000 },
        rate_limit: { tokens_per_minute: 1_000_000 },
      },
    });
    for (const max_tokens of [1e12, 1e20, Number.MAX_SAFE_INTEGER]) {
      const res = await g.handle(chat('budget-model', { max_tokens }));
      expect([400, 402, 429]).toContain(res.status);
      if (res.status === 400) expect((res.body as any).error.param).toBe('max_tokens');
    }
    expect(up.requests).toHaveLength(0);
    expect((await g.handle(chat('budget-model', { max_tokens: 1 }))).status).toBe(200);
    const usage = (await g.handle({ method: 'GET', path: '/usage', headers: { authorization: 'Bearer admin' } })).body as any;
    expect(usage.budgets).toEqual(expect.arrayContaining([expect.objectContaining({ metric: 'cost', spent: 1, reserved: 0 })]));
  });
});

describe('when Redis is down', () => {
  async function deadRedisURL(): Promise<string> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    return `redis://127.0.0.1:${port}`;
  }

  it('the cache fails open (answers, uncached) while a budget on the same store fails closed, both fast', async () => {
    up.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const url = await deadRedisURL();
    const target = { provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` };
    const cacheOnly = gateway({ store: createRedisStore({ url, connectTimeout: 300 }), config: { targets: [target], cache: { mode: 'simple' }, circuit_breaker: {} } });
    const started = Date.now();
    const first = await cacheOnly.handle(chat('gpt-4.1-nano'));
    const second = await cacheOnly.handle(chat('gpt-4.1-nano'));
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.headers['x-llmux-cache']).not.toBe('HIT');
    expect(up.requests).toHaveLength(2);

    const budgeted = gateway({ store: createRedisStore({ url, connectTimeout: 300 }), config: { targets: [target], cache: { mode: 'simple' }, budget: { max_cost_per_day: 5 } } });
    const refused = await Promise.all([budgeted.handle(chat('gpt-4.1-nano')), budgeted.handle(chat('gpt-4.1-nano', { stream: true }))]);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect((r.body as any).error.code).toBe('store_unavailable');
    }
    expect(up.requests).toHaveLength(2);
    // A guard against hanging, not a timing assertion: every wait is bounded by connectTimeout.
    expect(Date.now() - started).toBeLessThan(8000);
  });
});

describe('calendar windows and daily limits, end to end', () => {
  const reply = { ...fixtureJson('openai/chat-completions.text.json'), model: 'budget-model', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };

  it('a budget in a timezone resets at local midnight, an hourly one at the next hour', async () => {
    up.route('/v1/chat/completions', { json: reply });
    const g = gateway({
      pricing: { 'budget-model': { input: 0, output: 1_000_000 } },
      config: {
        targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }],
        budget: [{ max_cost_per_day: 1, timezone: 'Asia/Kolkata', scope: 'user' }, { max_cost_per_hour: 1, scope: 'team' }],
      },
    });
    expect((await g.handle(chat('budget-model', { max_tokens: 1 }), { user: 'u', team: 'a' })).status).toBe(200);
    const daily = await g.handle(chat('budget-model', { max_tokens: 1 }), { user: 'u', team: 'b' });
    expect(daily.status).toBe(402);
    const d = (daily.body as any).error;
    expect(d).toMatchObject({ period: 'day', timezone: 'Asia/Kolkata', scope: 'user' });
    // Local midnight in Kolkata is 18:30 UTC, at most a day away.
    expect(d.resets_at).toMatch(/T18:30:00\.000Z$/);
    const wait = Date.parse(d.resets_at) - Date.now();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(86_400_000);
    expect(Number(daily.headers['retry-after'])).toBeCloseTo(wait / 1000, -1);

    const hourly = await g.handle(chat('budget-model', { max_tokens: 1 }), { user: 'v', team: 'a' });
    expect(hourly.status).toBe(402);
    const h = (hourly.body as any).error;
    expect(h).toMatchObject({ period: 'hour', timezone: 'UTC', scope: 'team', scope_value: 'a' });
    expect(h.resets_at).toMatch(/T\d\d:00:00\.000Z$/);
    expect(Date.parse(h.resets_at) - Date.now()).toBeLessThanOrEqual(3_600_000);
  });

  it('refuses an unknown timezone in the config, naming it', () => {
    expect(() =>
      createGateway({ env: {}, config: { targets: [{ provider: 'mock' }], budget: { max_cost_per_day: 1, timezone: 'Mars/Olympus_Mons' } } }),
    ).toThrow(/timezone/);
  });

  it('requests_per_day counts over a sliding day, beside a per-minute limit, with the tighter one in the headers', async () => {
    up.route('/v1/chat/completions', { json: reply });
    const g = gateway({
      config: { targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }], rate_limit: [{ requests_per_minute: 10 }, { requests_per_day: 2 }] },
    });
    const first = await g.handle(chat('gpt-4.1-nano'));
    expect(first.headers['x-ratelimit-limit-requests']).toBe('2');
    expect(first.headers['x-ratelimit-remaining-requests']).toBe('1');
    expect((await g.handle(chat('gpt-4.1-nano'))).headers['x-ratelimit-remaining-requests']).toBe('0');
    const refused = await g.handle(chat('gpt-4.1-nano'));
    expect(refused.status).toBe(429);
    expect((refused.body as any).error).toMatchObject({ window_seconds: 86_400, limit: 2, used: 2 });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(86_000);
    expect(up.requests).toHaveLength(2);
  });
});

describe.each(Object.keys(appFactories))('the cost of a stream through %s', (name) => {
  it('arrives as the x-llmux-cost trailer, and a JSON answer carries it as a header', async () => {
    up.route('/v1/chat/completions', (req) =>
      req.json.stream ? { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) } : { json: fixtureJson('openai/chat-completions.text.json') },
    );
    const app = await appFactories[name]!({ env: {}, config: { targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }] } });
    apps.push(app);
    const post = (stream: boolean) =>
      request(`${app.gatewayURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'x' }] }),
      });
    const streamed = await post(true);
    expect(await streamed.body.text()).toContain('data: [DONE]');
    const expected = calcPrice({ input_tokens: 78, output_tokens: 9 }, 'gpt-4o-mini-2024-07-18', { providerId: 'openai' })!.total_price;
    expect(Number(streamed.trailers['x-llmux-cost'])).toBeCloseTo(expected, 12);
    const json = await post(false);
    await json.body.json();
    expect(String(json.headers['x-llmux-cost'])).toMatch(/^\d+\.\d+$/);
  });
});
