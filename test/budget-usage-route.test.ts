import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
  upstream.route('/v1/chat/completions', {
    json: { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } },
  });
});
afterAll(() => upstream.close());

const gateways: Gateway[] = [];
afterAll(() => Promise.all(gateways.map((g) => g.close())));
function gateway(extra: Partial<GatewayOptions> = {}): Gateway {
  const g = createGateway({
    pricing: { m: { input: 1_000_000, output: 1_000_000 } },
    env: {},
    config: {
      targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }],
      budget: [{ max_cost_per_day: 100, scope: 'user' }, { max_cost_per_month: 1000, max_tokens_per_day: 500 }],
      rate_limit: { requests_per_minute: 10, scope: 'user' },
    },
    ...extra,
  });
  gateways.push(g);
  return g;
}
const chat = (user: string) => ({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: { model: 'm', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] }, user });
const usage = (g: Gateway, headers: Record<string, string>, query = '') => g.handle({ method: 'GET', path: `/usage${query}`, headers });

describe('GET <mount>/usage', () => {
  it('does not exist without an admin key configured', async () => {
    const res = await usage(gateway(), { authorization: 'Bearer anything' });
    expect(res.status).toBe(404);
  });

  it('needs the admin key, as a bearer token or x-llmux-admin-key', async () => {
    const g = gateway({ adminKey: 'secret-admin' });
    expect((await usage(g, {})).status).toBe(401);
    expect((await usage(g, { authorization: 'Bearer secret-admiN' })).status).toBe(401);
    expect((await usage(g, { authorization: 'Bearer secret-admin' })).status).toBe(200);
    expect((await usage(g, { 'x-llmux-admin-key': 'secret-admin' })).status).toBe(200);
    const fromEnv = gateway({ env: { LLMUX_ADMIN_KEY: 'env-key' } });
    expect((await usage(fromEnv, { authorization: 'Bearer env-key' })).status).toBe(200);
  });

  it('shows spend, in-flight reservations and what remains per scope, and the rate-limit state', async () => {
    const g = gateway({ adminKey: 'k' });
    for (const user of ['ann', 'ann', 'bob']) {
      const { user: who, ...req } = chat(user);
      expect((await g.handle(req, { user: who })).status).toBe(200);
    }
    const res = await usage(g, { 'x-llmux-admin-key': 'k' });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const report = res.body as any;
    expect(report).toMatchObject({ object: 'llmux.usage', store: 'memory', generated_at: expect.any(String) });
    // Each request: 4 + 2 tokens at $1 per token.
    expect(report.budgets).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ budget: 0, scope: 'user', scope_value: 'ann', period: 'day', limit: 100, spent: 12, reserved: 0, remaining: 88 }),
        expect.objectContaining({ budget: 0, scope: 'user', scope_value: 'bob', spent: 6, remaining: 94 }),
        expect.objectContaining({ budget: 1, scope: 'gateway', metric: 'cost', period: 'month', limit: 1000, spent: 18 }),
        expect.objectContaining({ budget: 1, scope: 'gateway', metric: 'tokens', unit: 'tokens', limit: 500, spent: 18, remaining: 482 }),
      ]),
    );
    expect(report.budgets).toHaveLength(4);
    expect(report.rate_limits).toEqual(
      expect.arrayContaining([
        { rate_limit: 0, scope: 'user', scope_value: 'ann', metric: 'requests', window_seconds: 60, limit: 10, used: 2, remaining: 8 },
        { rate_limit: 0, scope: 'user', scope_value: 'bob', metric: 'requests', window_seconds: 60, limit: 10, used: 1, remaining: 9 },
      ]),
    );
    const bob = (await usage(g, { 'x-llmux-admin-key': 'k' }, '?scope=user&value=bob')).body as any;
    expect(bob.budgets).toHaveLength(1);
    expect(bob.rate_limits).toHaveLength(1);
  });
});
