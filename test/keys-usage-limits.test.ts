/**
 * Gateway keys, the admin usage view and the rate-limit headers: key metadata under identify, a
 * restricted key against a client's aliases, keys' own limits in /usage, the enforced limit, the
 * longest Retry-After, x-ratelimit-* on 402s and upstream errors, the admin 401. Each failed before its fix.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { chatRequest, targetAt } from './helpers/observe.js';
import { fixtureJson } from './helpers/fixtures.js';

const KEY_A = 'llmux-team-a-0123456789abcdef';
const KEY_B = 'llmux-team-b-fedcba9876543210';
const ADMIN = 'llmux-admin-9988776655443322';

let up: MockUpstream;
const gateways: Gateway[] = [];
const routes = () => {
  up.route('/ok/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
  up.route('/ok/v1/embeddings', { json: fixtureJson('openai/embeddings.float-trimmed.json') });
};
beforeAll(async () => {
  up = await startMockUpstream();
  routes();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => {
  up.reset();
  routes();
});

function gateway(options: Partial<GatewayOptions> = {}): Gateway {
  const g = createGateway({
    env: {},
    config: { targets: [targetAt(up, 'ok')] },
    pricing: { 'gpt-4o-mini': { input: 1, output: 1 } },
    auth: { keys: [{ key: KEY_A, name: 'team-a', metadata: { team: 'alpha' } }, { key: KEY_B, name: 'team-b', models: ['gpt-4o-mini'] }], adminKeys: [ADMIN] },
    ...options,
  });
  gateways.push(g);
  return g;
}
const asKey = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
const usage = (g: Gateway, query = '') => g.handle({ method: 'GET', path: `/usage${query}`, headers: { 'x-llmux-admin-key': ADMIN } });

describe('gateway keys', () => {
  // auth/authenticate.ts doc + GatewayKeyConfig.metadata: "its metadata fills identity fields the app's
  // identify left empty". DESIGN's own identify example returns `team: req.user?.org`, i.e. `team: undefined`.
  it("key metadata fills an identity field that identify returned as undefined", async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')], rate_limit: { requests_per_minute: 1, scope: 'team' } } });
    expect((await g.handle(chatRequest({}, asKey(KEY_A)), { user: 'u1', team: undefined })).status).toBe(200);
    const second = await g.handle(chatRequest({}, asKey(KEY_A)), { user: 'u1', team: undefined });
    expect(second.status).toBe(429);
    expect((second.body as any).error).toMatchObject({ scope: 'team', scope_value: 'alpha' });
  });

  // GatewayKeyConfig.models: "Models or aliases this key may request ... Another model is refused with 403."
  // With allowRequestConfig, a client config's own model_aliases must not turn an allowed name into a forbidden model
  // served with the server's provider key.
  it('a client-sent model_aliases cannot route a restricted key to a model outside its list', async () => {
    const g = gateway({
      allowRequestConfig: true,
      providers: { openai: { baseURL: `${up.url}/ok/v1`, apiKey: 'sk-server-0123456789' } } as any,
    });
    const cfg = JSON.stringify({ model_aliases: { 'gpt-4o-mini': 'gpt-4o' }, targets: [{ provider: 'openai' }] });
    const res = await g.handle(chatRequest({ model: 'gpt-4o-mini' }, asKey(KEY_B, { 'x-llmux-config': cfg })));
    const sent = up.requests.map((r) => (r.json as any)?.model);
    expect(sent).not.toContain('gpt-4o');
    expect(res.status).toBe(403);
  });
});

describe('usage view', () => {
  // docs/budgets-and-limits.md "Usage view": "returns spend, in-flight reservations and what remains per
  // budget and scope"; README's auth example gives a key its own budget (`budget: { max_cost_per_day: 5 }`).
  it("lists a gateway key's own budget and rate limit with scope key and the key's name", async () => {
    const g = gateway({
      auth: { keys: [{ key: KEY_A, name: 'team-a', budget: { max_cost_per_day: 5 }, rate_limit: { requests_per_minute: 7 } }], adminKeys: [ADMIN] },
    });
    expect((await g.handle(chatRequest({}, asKey(KEY_A)))).status).toBe(200);
    const report = (await usage(g)).body as any;
    expect(report.budgets).toContainEqual(expect.objectContaining({ scope: 'key', scope_value: 'team-a', limit: 5 }));
    expect(report.rate_limits).toContainEqual(expect.objectContaining({ scope: 'key', scope_value: 'team-a', limit: 7, used: 1, remaining: 6 }));
  });

  // The usage view must report the limit actually enforced: a key's own (lower) budget on the same
  // counter as a config `scope: "key"` budget is what admission uses (claims.ts: "the lower limit wins").
  it('reports the enforced (lowest) limit when a key rate limit and a config key-scoped rate limit share a window', async () => {
    const g = gateway({
      config: { targets: [targetAt(up, 'ok')], rate_limit: { requests_per_minute: 100, scope: 'key' } },
      auth: { keys: [{ key: KEY_A, name: 'team-a', rate_limit: { requests_per_minute: 1 } }], adminKeys: [ADMIN] },
    });
    expect((await g.handle(chatRequest({}, asKey(KEY_A)))).status).toBe(200);
    expect((await g.handle(chatRequest({}, asKey(KEY_A)))).status).toBe(429);
    const rows = ((await usage(g)).body as any).rate_limits.filter((r: any) => r.scope_value === 'team-a');
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r).toMatchObject({ limit: 1, used: 1, remaining: 0 });
  });
});

describe('rate-limit headers', () => {
  // DESIGN: "rate limited is 429 with Retry-After"; Retry-After tells the client when a retry can succeed.
  // With a per-minute and a per-day limit both exhausted, retrying after 60 s is refused again for a day.
  it('Retry-After on a 429 is the longest wait among all full windows', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')], rate_limit: [{ requests_per_minute: 1 }, { requests_per_day: 1 }] } });
    expect((await g.handle(chatRequest({}, asKey(KEY_A)))).status).toBe(200);
    const res = await g.handle(chatRequest({}, asKey(KEY_A)));
    expect(res.status).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(86_000);
  });

  // DESIGN "Headers": "Rate-limited and budgeted scopes add x-ratelimit-limit-requests, x-ratelimit-remaining-requests
  // and Retry-After". A 402 of a rate-limited scope (its window was checked and passed) drops the x-ratelimit-* headers.
  it('a 402 in a rate-limited scope carries x-ratelimit-limit-requests / -remaining-requests', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')], rate_limit: { requests_per_minute: 5 }, budget: { max_cost_per_day: 0.000001 } } });
    const res = await g.handle(chatRequest({}, asKey(KEY_A)));
    expect(res.status).toBe(402);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.headers['x-ratelimit-limit-requests']).toBe('5');
    expect(res.headers['x-ratelimit-remaining-requests']).toBe('5');
  });

  // docs/budgets-and-limits.md: "Admitted responses carry OpenAI's headers for the tightest limit"; the request
  // below was admitted (it used one of the 5 requests of the minute) but the provider's error drops the headers.
  it('an admitted request answered by an upstream error still carries the x-ratelimit-* headers', async () => {
    up.route('/down/v1/chat/completions', { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } });
    const g = gateway({ config: { targets: [targetAt(up, 'down')], rate_limit: { requests_per_minute: 5 } } });
    const res = await g.handle(chatRequest({}, asKey(KEY_A)));
    expect(res.status).toBeGreaterThanOrEqual(500);
    expect(up.requests).toHaveLength(1);
    expect(res.headers['x-ratelimit-limit-requests']).toBe('5');
    expect(res.headers['x-ratelimit-remaining-requests']).toBe('4');
  });
});

describe('admin usage view 401', () => {
  // RFC 9110 §11.6.1 / §15.5.2: a 401 response MUST carry WWW-Authenticate; the gateway-key 401 does
  // (authenticate.ts WWW_AUTHENTICATE) but the admin key's 401 on <mount>/usage does not.
  it('a wrong admin key on /usage is 401 with www-authenticate and no usage data', async () => {
    const g = gateway({ adminKey: 'llmux-option-admin-key-12345' });
    const res = await g.handle({ method: 'GET', path: '/usage', headers: { authorization: 'Bearer wrong' } });
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain('budgets');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });
});
