import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { chatRequest, targetAt } from './helpers/observe.js';
import { fixtureJson } from './helpers/fixtures.js';

const KEY_A = 'llmux-team-a-0123456789abcdef';
const KEY_B = 'llmux-team-b-fedcba9876543210';
const KEY_HASHED = 'llmux-hashed-key-aabbccddeeff00';
const ADMIN = 'llmux-admin-9988776655443322';

let up: MockUpstream;
const gateways: Gateway[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
  up.route('/ok/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
  up.route('/ok/v1/embeddings', { json: fixtureJson('openai/embeddings.float-trimmed.json') });
  up.route('/anthropic/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => up.reset());
beforeEach(() => {
  up.route('/ok/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
  up.route('/ok/v1/embeddings', { json: fixtureJson('openai/embeddings.float-trimmed.json') });
  up.route('/anthropic/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
});

const auth: GatewayOptions['auth'] = {
  keys: [
    { key: KEY_A, name: 'team-a', metadata: { team: 'alpha' } },
    { key: KEY_B, name: 'team-b', models: ['gpt-4o-mini', 'claude-*', 'fast'] },
    { hash: `sha256:${createHash('sha256').update(KEY_HASHED).digest('hex')}`, name: 'hashed' },
  ],
  adminKeys: [ADMIN],
};

function gateway(options: Partial<GatewayOptions> = {}): Gateway {
  const g = createGateway({ env: {}, config: { targets: [targetAt(up, 'ok')], model_aliases: { fast: 'gpt-4o-mini' } }, auth, ...options });
  gateways.push(g);
  return g;
}

const asKey = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

describe('gateway keys on the core', () => {
  it('refuses a missing or unknown key with 401 in the OpenAI shape', async () => {
    const g = gateway();
    const missing = await g.handle(chatRequest());
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.body).toEqual({
      error: { message: expect.stringContaining('missing gateway key'), type: 'authentication_error', code: 'unauthorized', param: 'authorization', source: 'gateway' },
    });
    const wrong = await g.handle(chatRequest({}, asKey(`${KEY_A}x`)));
    expect(wrong.status).toBe(401);
    expect((wrong.body as any).error.message).toBe('invalid gateway key');
    expect(up.requests).toHaveLength(0);
  });

  it('accepts the key as a bearer token, x-llmux-api-key, x-portkey-api-key, or a stored SHA-256', async () => {
    const g = gateway();
    for (const headers of [asKey(KEY_A), { 'x-llmux-api-key': KEY_A }, { 'x-portkey-api-key': KEY_A }, asKey(KEY_HASHED)]) {
      expect((await g.handle(chatRequest({}, headers))).status).toBe(200);
    }
    expect(recentRequests(g).records.map((r) => r.identity?.key)).toEqual(['hashed', 'team-a', 'team-a', 'team-a']);
  });

  it("takes Anthropic's x-api-key on /v1/messages only", async () => {
    const g = gateway();
    const messages = { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] };
    expect((await g.handle({ method: 'POST', path: '/v1/messages', headers: { 'x-api-key': KEY_A }, body: messages })).status).toBe(200);
    expect((await g.handle(chatRequest({}, { 'x-api-key': KEY_A }))).status).toBe(401);
  });

  it('never forwards the gateway key upstream: each target sends its own', async () => {
    const g = gateway();
    await g.handle(chatRequest({}, { ...asKey(KEY_A), 'x-llmux-api-key': KEY_A }));
    expect(up.requests[0]!.headers.authorization).toBe('Bearer sk-planted-9f8e7d6c5b4a39281706');
    expect(JSON.stringify(up.requests[0]!.headers)).not.toContain(KEY_A);
  });

  it('with a client provider header allowed, the Authorization is still the gateway key, never a provider key', async () => {
    const g = gateway({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'] });
    const res = await g.handle(chatRequest({}, { ...asKey(KEY_A), 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${up.url}/ok/v1` }));
    expect(res.status).toBe(200);
    // The client's host gets no server credential, and the gateway key is not taken for a provider key.
    expect(up.requests[0]!.headers.authorization).toBeUndefined();
  });

  it("refuses a model outside the key's list with 403 naming it; patterns and aliases match", async () => {
    const g = gateway();
    const res = await g.handle(chatRequest({ model: 'gpt-4o' }, asKey(KEY_B)));
    expect(res.status).toBe(403);
    expect((res.body as any).error).toMatchObject({ code: 'forbidden', param: 'model', message: expect.stringContaining('model "gpt-4o" is not allowed for gateway key "team-b"') });
    for (const model of ['gpt-4o-mini', 'claude-3-5-haiku', 'fast']) expect((await g.handle(chatRequest({ model }, asKey(KEY_B)))).status).toBe(200);
    expect((await g.handle(chatRequest({ model: 'gpt-4o' }, asKey(KEY_A)))).status).toBe(200);
    const embed = await g.handle({ method: 'POST', path: '/v1/embeddings', headers: asKey(KEY_B), body: { model: 'text-embedding-3-small', input: 'x' } });
    expect(embed.status).toBe(403);
    expect(up.requests.filter((r) => r.path.includes('embeddings'))).toHaveLength(0);
  });

  it("enforces a key's own budget and rate limit, scoped to that key only", async () => {
    const g = gateway({
      auth: {
        keys: [
          { key: KEY_A, name: 'team-a', rate_limit: { requests_per_minute: 2 } },
          { key: KEY_B, name: 'team-b', budget: { max_cost_per_day: 0.0000001 } },
          { key: KEY_HASHED, name: 'free' },
        ],
      },
    });
    expect((await g.handle(chatRequest({}, asKey(KEY_A)))).status).toBe(200);
    expect((await g.handle(chatRequest({}, asKey(KEY_A)))).status).toBe(200);
    const limited = await g.handle(chatRequest({}, asKey(KEY_A)));
    expect(limited.status).toBe(429);
    expect((limited.body as any).error).toMatchObject({ scope: 'key', scope_value: 'team-a' });
    const broke = await g.handle(chatRequest({ max_tokens: 50 }, asKey(KEY_B)));
    expect(broke.status).toBe(402);
    expect((broke.body as any).error).toMatchObject({ code: 'budget_exceeded', scope: 'key', scope_value: 'team-b' });
    for (let i = 0; i < 4; i++) expect((await g.handle(chatRequest({}, asKey(KEY_HASHED)))).status).toBe(200);
  });

  it("adds the key's metadata to the identity (for team budgets), the app's identify winning", async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')], rate_limit: { requests_per_minute: 1, scope: 'team' } } });
    expect((await g.handle(chatRequest({}, asKey(KEY_A)))).status).toBe(200);
    const second = await g.handle(chatRequest({}, asKey(KEY_A)));
    expect((second.body as any).error).toMatchObject({ scope: 'team', scope_value: 'alpha' });
    expect((await g.handle(chatRequest({}, asKey(KEY_A)), { team: 'beta', key: 'spoofed' })).status).toBe(200);
    expect(recentRequests(g).records[0]!.identity).toEqual({ team: 'beta', key: 'team-a' });
  });

  it('needs a key for GET /v1/models too', async () => {
    const g = gateway();
    expect((await g.handle({ method: 'GET', path: '/v1/models', headers: {} })).status).toBe(401);
    expect((await g.handle({ method: 'GET', path: '/v1/models', headers: asKey(KEY_A) })).status).toBe(200);
  });

  it('guards /usage and /metrics with the admin keys; a gateway key is not one', async () => {
    const g = gateway({ adminKey: 'llmux-option-admin-key-12345' });
    for (const path of ['/usage', '/metrics']) {
      expect((await g.handle({ method: 'GET', path, headers: {} })).status).toBe(401);
      expect((await g.handle({ method: 'GET', path, headers: asKey(KEY_A) })).status).toBe(401);
      expect((await g.handle({ method: 'GET', path, headers: asKey(ADMIN) })).status).toBe(200);
      expect((await g.handle({ method: 'GET', path, headers: { 'x-llmux-admin-key': 'llmux-option-admin-key-12345' } })).status).toBe(200);
    }
    // With keys but no admin key at all, the admin routes do not exist.
    const noAdmin = gateway({ auth: { keys: [{ key: KEY_A, name: 'a' }] } });
    expect((await noAdmin.handle({ method: 'GET', path: '/metrics', headers: asKey(KEY_A) })).status).toBe(404);
    expect((await noAdmin.handle({ method: 'GET', path: '/usage', headers: asKey(KEY_A) })).status).toBe(404);
  });

  it('refuses a bad auth option at start-up, naming the field', () => {
    const bad: Array<[GatewayOptions['auth'], RegExp]> = [
      [{ keys: [{ key: KEY_A, name: 'x' }, { key: KEY_B, name: 'x' }] }, /auth\.keys\[1\]\.name "x" is used by another key/],
      [{ keys: [{ key: KEY_A, name: 'x' }, { key: KEY_A, name: 'y' }] }, /auth\.keys\[1\] is the same key as options\.auth\.keys\[0\]/],
      [{ keys: [{ key: KEY_A, hash: 'a'.repeat(64), name: 'x' }] }, /auth\.keys\[0\]\.key: give either key or hash/],
      [{ keys: [{ key: 'short', name: 'x' }] }, /auth\.keys\[0\]\.key: a gateway key needs at least 16 characters/],
      [{ keys: [{ hash: 'nothex', name: 'x' }] }, /auth\.keys\[0\]\.hash/],
      [{ keys: [{ key: KEY_A, name: 'x', budget: { max_cost_per_day: 1, scope: 'user' } }] }, /auth\.keys\[0\]\.budget.*scoped to the key/],
    ];
    for (const [option, message] of bad) expect(() => createGateway({ env: {}, auth: option })).toThrow(message);
  });
});

describe('gateway keys with real SDK clients', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await appFactories.express5!({
      env: {},
      config: {
        strategy: { mode: 'conditional', conditions: [{ query: { 'params.model': { $regex: '^claude' } }, then: 'anthropic' }], default: 'openai' },
        targets: [
          { name: 'openai', ...targetAt(up, 'ok') },
          { name: 'anthropic', provider: 'anthropic', api_key: 'sk-ant-upstream-000000', custom_host: `${up.url}/anthropic/v1` },
        ],
      },
      auth,
    });
  });
  afterAll(() => app.close());

  it('openai SDK: its apiKey is the gateway key', async () => {
    const ok = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: KEY_A, maxRetries: 0 });
    const res = await ok.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.choices[0]!.message.content).toBeTruthy();
    const wrong = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'not-a-key-at-all-000', maxRetries: 0 });
    const error = await wrong.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    const forbidden = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: KEY_B, maxRetries: 0 });
    const denied = await forbidden.chat.completions.create({ model: 'o3', messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(denied.message).toContain('"o3"');
  });

  it('@anthropic-ai/sdk: its apiKey (x-api-key) is the gateway key on /v1/messages', async () => {
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: KEY_A, maxRetries: 0 });
    const msg = await client.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] });
    expect(msg.type).toBe('message');
    expect(up.requests.at(-1)!.headers['x-api-key']).toBe('sk-ant-upstream-000000');
    const wrong = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'not-a-key-at-all-000', maxRetries: 0 });
    const error = await wrong.messages.create({ model: 'claude-3-5-haiku-latest', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
  });

  it('portkey-ai SDK: its apiKey (x-portkey-api-key) is the gateway key', async () => {
    const client = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: KEY_A, maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.choices[0]!.message.content).toBeTruthy();
    const wrong = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'not-a-key-at-all-000', maxRetries: 0 });
    const error = await wrong.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e);
    expect(error.status).toBe(401);
  });
});

describe.each(Object.keys(appFactories))('gateway keys through %s', (name) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await appFactories[name]!({ env: {}, config: { targets: [targetAt(up, 'ok')] }, auth });
  });
  afterAll(() => app.close());

  it('refuses without a key and answers with one', async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${app.gatewayURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
      });
    const refused = await post({});
    expect(refused.status).toBe(401);
    expect((await refused.json()).error.code).toBe('unauthorized');
    expect((await post(asKey(KEY_A))).status).toBe(200);
    expect((await post({ 'x-llmux-api-key': KEY_HASHED })).status).toBe(200);
    // The host app's own routes are untouched by gateway keys.
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
  });
});
