import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/** $1 per output token and free input: a request with max_tokens 1 reserves exactly what it then costs. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const completion = (tokens = 1) => ({
  id: 'chatcmpl-budget',
  object: 'chat.completion',
  created: 1,
  model: 'budget-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 7, completion_tokens: tokens, total_tokens: 7 + tokens },
});
const body = { model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] };

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

const randomPrefix = () => `llmux-test:${crypto.randomUUID()}:`;

/** `count` gateway instances sharing one Redis prefix, each with its own connection, as separate processes would. */
async function instances(count: number, prefix: string, options: AppOptions): Promise<TestApp[]> {
  const started = await Promise.all(
    Array.from({ length: count }, () =>
      appFactories.express5!({
        pricing,
        ...options,
        store: createRedisStore({ prefix }),
        config: { targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }], ...(options.config as object) },
      }),
    ),
  );
  apps.push(...started);
  return started;
}

const post = (app: TestApp, payload: unknown = body, headers: Record<string, string> = {}) =>
  fetch(`${app.gatewayURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });

describe('budgets shared through Redis', () => {
  it('lets through at most the budget out of 200 concurrent requests over 3 instances, and the upstream sees no more', async () => {
    upstream.route('/v1/chat/completions', { json: completion(), delayMs: 20 });
    const gateways = await instances(3, randomPrefix(), { config: { budget: { max_cost_per_day: 10 } }, adminKey: 'admin' });
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => post(gateways[i % 3]!)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 402)).toHaveLength(190);
    expect(upstream.requests).toHaveLength(10);
    await Promise.all(responses.map((r) => r.arrayBuffer()));
    const usage = await (await fetch(`${gateways[1]!.gatewayURL}/usage`, { headers: { authorization: 'Bearer admin' } })).json();
    expect(usage.budgets).toEqual([expect.objectContaining({ scope: 'gateway', metric: 'cost', limit: 10, spent: 10, reserved: 0, remaining: 0 })]);
    // Spent money stays spent: a later request is refused too.
    expect((await post(gateways[2]!)).status).toBe(402);
  });

  it('answers 402 in the OpenAI shape with the limit, the spend and the reset time; SDKs do not retry it', async () => {
    upstream.route('/v1/chat/completions', { json: completion() });
    const [gateway] = await instances(1, randomPrefix(), {
      config: { budget: { max_cost_per_day: 2, scope: 'user' } },
      identify: (req: any) => ({ user: req.headers['x-user'] }),
    });
    const client = new OpenAI({ baseURL: `${gateway!.gatewayURL}/v1`, apiKey: 'unused', defaultHeaders: { 'x-user': 'alice' } });
    await client.chat.completions.create(body as never);
    await client.chat.completions.create(body as never);
    const refused = await client.chat.completions.create(body as never).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    const error = refused as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(402);
    expect(upstream.requests).toHaveLength(2);

    const res = await post(gateway!, body, { 'x-user': 'alice' });
    expect(res.status).toBe(402);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(res.headers.get('x-llmux-cost')).toBe('0');
    const tomorrow = new Date();
    tomorrow.setUTCHours(24, 0, 0, 0);
    expect(await res.json()).toEqual({
      error: {
        message: expect.stringContaining('budget exceeded: user "alice" has spent $2 of $2 per day'),
        type: 'budget_exceeded',
        code: 'budget_exceeded',
        param: null,
        source: 'gateway',
        limit: 2,
        spent: 2,
        reserved: 0,
        requested: 1,
        remaining: 0,
        unit: 'usd',
        period: 'day',
        timezone: 'UTC',
        window: new Date(tomorrow.getTime() - 1).toISOString().slice(0, 10),
        resets_at: tomorrow.toISOString(),
        scope: 'user',
        scope_value: 'alice',
      },
    });
  });

  it('keeps per-user budgets apart, and a gateway budget over all of them', async () => {
    upstream.route('/v1/chat/completions', { json: completion() });
    const [a, b] = await instances(2, randomPrefix(), {
      config: { budget: [{ max_cost_per_day: 2, scope: 'user' }, { max_cost_per_month: 5 }] },
      identify: (req: any) => ({ user: req.headers['x-user'] }),
    });
    const as = (user: string, app: TestApp) => post(app, body, { 'x-user': user }).then((r) => r.status);
    expect([await as('alice', a!), await as('alice', b!), await as('alice', a!)]).toEqual([200, 200, 402]);
    expect([await as('bob', b!), await as('bob', a!)]).toEqual([200, 200]);
    // Four dollars spent in total; the gateway's $5 month leaves room for exactly one more, for anyone.
    expect(await as('carol', a!)).toBe(200);
    const res = await post(b!, body, { 'x-user': 'dave' });
    expect(res.status).toBe(402);
    expect((await res.json()).error).toMatchObject({ scope: 'gateway', period: 'month', limit: 5, spent: 5 });
  });

  it('counts token budgets with the real usage', async () => {
    upstream.route('/v1/chat/completions', { json: completion(1) });
    const [gateway] = await instances(1, randomPrefix(), { config: { budget: { max_tokens_per_day: 20 } } });
    // Reserves the input bound plus max_tokens; settles at 8 tokens each.
    expect((await post(gateway!)).status).toBe(200);
    expect((await post(gateway!)).status).toBe(200);
    const res = await post(gateway!);
    expect(res.status).toBe(402);
    expect((await res.json()).error).toMatchObject({ unit: 'tokens', spent: 16, limit: 20 });
  });

  it('releases the reservation when the upstream fails, so failures cost nothing', async () => {
    upstream.enqueue('/v1/chat/completions', { status: 500, json: { error: { message: 'boom' } } });
    upstream.route('/v1/chat/completions', { json: completion() });
    const [gateway] = await instances(1, randomPrefix(), { config: { budget: { max_cost_per_day: 1 } } });
    expect((await post(gateway!)).status).toBe(500);
    expect((await post(gateway!)).status).toBe(200);
    expect((await post(gateway!)).status).toBe(402);
  });
});
