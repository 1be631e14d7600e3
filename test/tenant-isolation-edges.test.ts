/**
 * Adversarial review: multi-tenant isolation. A SaaS host app mounts llmux with `identify` (its own
 * auth → user/team/tenant) and/or gateway keys; tenants must never share cache entries, budgets, rate
 * limits, records or keys unless the config says so (`shared: true`).
 */
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayConfig } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { createClient } from 'redis';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';

const CHAT = '/v1/chat/completions';
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const ANTHROPIC = fixtureJson('anthropic/messages.text.json');
const ADMIN = 'llmux-admin-key-0011223344556677';
const KEY_A = 'llmux-tenant-a-key-0123456789abcdef';
const KEY_B = 'llmux-tenant-b-key-fedcba9876543210';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());

/** A Redis key prefix of its own per test; everything under this run's prefixes is deleted at the end (never FLUSHALL: Redis is shared). */
const RUN = `llmux-tenant-isolation-${process.pid}-${Date.now().toString(36)}`;
const redisPrefix = () => `${RUN}-${Math.random().toString(36).slice(2)}:`;
afterAll(async () => {
  const client = createClient({ url: 'redis://127.0.0.1:6379' });
  await client.connect();
  for await (const batch of client.scanIterator({ MATCH: `${RUN}-*`, COUNT: 1000 })) {
    const keys = batch as unknown as string[];
    if (keys.length) await client.del(keys);
  }
  await client.close();
});

/** Every answer carries the upstream call's sequence number and the prompt, so a hit from another tenant's call shows. */
function script(): void {
  upstream.reset();
  upstream.route(CHAT, (req) => {
    const who = String(req.json?.messages?.at(-1)?.content ?? '');
    const completion = { ...COMPLETION, id: `chatcmpl-${upstream.requests.length}`, choices: [{ ...COMPLETION.choices[0], message: { role: 'assistant', content: `answer #${upstream.requests.length} to ${who}` } }] };
    return req.json?.stream ? { chunks: STREAM } : { json: completion };
  });
  upstream.route('/v1/embeddings', topicEmbeddings);
  upstream.route('/v1/messages', { json: ANTHROPIC });
}
beforeEach(script);

const apps: TestApp[] = [];
const gateways: Gateway[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await Promise.all(gateways.splice(0).map((g) => g.close(500)));
});

const target = (extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: 'sk-upstream-test', custom_host: `${upstream.url}/v1`, ...extra });
const withConfig = (extra: Record<string, unknown> = {}): GatewayConfig => ({ targets: [target()], ...extra }) as GatewayConfig;

/** The host app's own auth: a session header it trusts, mapped to the tenant by `identify`. */
const appIdentify = (req: any) => {
  const h = req.headers ?? req.req?.headers;
  const tenant = h['x-app-session-tenant'];
  const user = h['x-app-session-user'];
  return { ...(tenant ? { tenant: String(tenant) } : {}), ...(user ? { user: decodeURIComponent(String(user)) } : {}) };
};

async function start(kind: 'express5' | 'koa3', options: AppOptions): Promise<TestApp> {
  const app = await appFactories[kind]!({ env: {}, identify: appIdentify, ...options } as AppOptions);
  apps.push(app);
  return app;
}

const openaiFor = (app: TestApp, headers: Record<string, string> = {}, apiKey = 'unused') =>
  new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey, maxRetries: 0, defaultHeaders: headers });
const asTenant = (app: TestApp, tenant: string, extra: Record<string, string> = {}) => openaiFor(app, { 'x-app-session-tenant': tenant, ...extra });
const chatCalls = () => upstream.requests.filter((r) => r.path.startsWith(CHAT)).length;
const embedCalls = () => upstream.requests.filter((r) => r.path.startsWith('/v1/embeddings')).length;
const ask = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }], ...extra });

async function chatWithHeaders(client: OpenAI, content: string, extra: Record<string, unknown> = {}) {
  const { data, response } = await client.chat.completions.create(ask(content, extra) as never).withResponse();
  return { data: data as any, cache: response.headers.get('x-llmux-cache') };
}

describe.each(['express5', 'koa3'] as const)('cache isolation between tenants through %s', (kind) => {
  it('exact: tenant B never gets tenant A\'s answer; A hits its own', async () => {
    const app = await start(kind, { config: withConfig({ cache: { mode: 'simple' } }) });
    const a = asTenant(app, 'acme');
    const b = asTenant(app, 'globex');
    const first = await chatWithHeaders(a, 'What is our Q3 revenue?');
    expect(first.cache).toBe('MISS');
    const other = await chatWithHeaders(b, 'What is our Q3 revenue?');
    expect(other.cache).toBe('MISS');
    expect(chatCalls()).toBe(2);
    const again = await chatWithHeaders(a, 'What is our Q3 revenue?');
    expect(again.cache).toBe('HIT');
    expect(again.data.choices[0].message.content).toBe(first.data.choices[0].message.content);
  });

  it('stream ⇄ non-stream: a stored stream of tenant A answers neither a stream nor a completion of tenant B', async () => {
    const app = await start(kind, { config: withConfig({ cache: { mode: 'simple' } }) });
    const a = asTenant(app, 'acme');
    const b = asTenant(app, 'globex');
    let text = '';
    for await (const chunk of await a.chat.completions.create({ ...ask('Summarise ticket 42'), stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect((await chatWithHeaders(b, 'Summarise ticket 42')).cache).toBe('MISS');
    const { response } = await b.chat.completions.create({ ...ask('Summarise ticket 42'), stream: true }).withResponse();
    // B's own completion (stored just above) may answer B's stream; never A's stream.
    expect(response.headers.get('x-llmux-cache')).toBe('HIT');
    expect((await chatWithHeaders(a, 'Summarise ticket 42')).cache).toBe('HIT');
    expect(chatCalls()).toBe(2);
  });

  it('semantic: a similar prompt of tenant B is not served tenant A\'s entry; A\'s own similar prompt is', async () => {
    const app = await start(kind, { config: withConfig({ cache: { mode: 'semantic', threshold: 0.9 } }) });
    const a = asTenant(app, 'acme');
    const b = asTenant(app, 'globex');
    expect((await chatWithHeaders(a, 'What is Python?')).cache).toBe('MISS');
    expect((await chatWithHeaders(b, 'Tell me about Python')).cache).toBe('MISS');
    expect((await chatWithHeaders(a, 'Tell me about Python please')).cache).toBe('SEMANTIC_HIT');
    expect(chatCalls()).toBe(2);
  });

  it('embeddings: tenant B\'s identical input calls the provider rather than reading tenant A\'s vectors', async () => {
    const app = await start(kind, { config: withConfig({ cache: { mode: 'simple' } }) });
    const a = asTenant(app, 'acme');
    const b = asTenant(app, 'globex');
    const body = { model: 'text-embedding-3-small', input: 'acme internal roadmap', encoding_format: 'float' as const };
    expect((await a.embeddings.create(body).withResponse()).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await b.embeddings.create(body).withResponse()).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await a.embeddings.create(body).withResponse()).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(embedCalls()).toBe(2);
  });

  it('headers cannot impersonate another tenant: metadata (llmux and Portkey), trace id, user-like and namespace headers', async () => {
    const app = await start(kind, { config: withConfig({ cache: { mode: 'simple' } }) });
    const a = asTenant(app, 'acme', { 'x-llmux-trace-id': 'trace-acme-1' });
    expect((await chatWithHeaders(a, 'Payroll for May')).cache).toBe('MISS');
    const spoofs: Record<string, string>[] = [
      { 'x-llmux-metadata': JSON.stringify({ tenant: 'acme', user: 'ceo', team: 'acme', key: 'acme' }) },
      { 'x-portkey-metadata': JSON.stringify({ tenant: 'acme', _user: 'ceo' }) },
      { 'x-llmux-trace-id': 'trace-acme-1', 'x-portkey-trace-id': 'trace-acme-1' },
      { 'x-llmux-user': 'ceo', 'x-llmux-tenant': 'acme', 'x-portkey-user': 'ceo', 'x-tenant-id': 'acme' },
      { 'x-llmux-cache-namespace': 'acme', 'x-portkey-cache-namespace': 'acme' },
    ];
    for (const [i, spoof] of spoofs.entries()) {
      // A tenant of its own per attempt: each attempt's answer is then stored for that tenant alone.
      const res = await chatWithHeaders(asTenant(app, `globex-${i}`, spoof), 'Payroll for May');
      expect(res.cache, JSON.stringify(spoof)).not.toMatch(/HIT/);
      expect(res.data.choices[0].message.content).not.toContain('answer #1 ');
    }
  });

  it('`shared: true` pools entries across tenants (the explicit opt-in)', async () => {
    const app = await start(kind, { config: withConfig({ cache: { mode: 'simple', shared: true } }) });
    expect((await chatWithHeaders(asTenant(app, 'acme'), 'Public FAQ: opening hours?')).cache).toBe('MISS');
    expect((await chatWithHeaders(asTenant(app, 'globex'), 'Public FAQ: opening hours?')).cache).toBe('HIT');
    expect(chatCalls()).toBe(1);
  });

  it('portkey-ai SDK with gateway keys: two keys never share entries; Portkey metadata cannot cross them', async () => {
    const app = await start(kind, {
      identify: undefined,
      config: withConfig({ cache: { mode: 'simple' } }),
      auth: { keys: [{ key: KEY_A, name: 'tenant-a', metadata: { tenant: 'acme' } }, { key: KEY_B, name: 'tenant-b', metadata: { tenant: 'globex' } }] },
    } as AppOptions);
    const pk = (key: string, metadata?: Record<string, string>) => new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: key, maxRetries: 0, ...(metadata ? { metadata } : {}) } as never);
    const first = (await pk(KEY_A).chat.completions.create(ask('Board minutes') as never)) as any;
    expect(first.getHeaders()['cache-status']).toMatch(/MISS/);
    const other = (await pk(KEY_B, { tenant: 'acme', _user: 'tenant-a' }).chat.completions.create(ask('Board minutes') as never)) as any;
    expect(other.getHeaders()['cache-status']).not.toMatch(/HIT/);
    expect(other.choices[0].message.content).not.toBe(first.choices[0].message.content);
    const again = (await pk(KEY_A).chat.completions.create(ask('Board minutes') as never)) as any;
    expect(again.getHeaders()['cache-status']).toBe('HIT');
    expect(chatCalls()).toBe(2);
  });
});

describe('two instances on one Redis store (Express and Koa)', () => {
  it("tenant scopes hold across instances: B never reads A's exact or semantic entries or uses A's window; A reads its own from the other instance", async () => {
    const prefix = redisPrefix();
    const config = withConfig({ cache: { mode: 'semantic', threshold: 0.9 }, rate_limit: { requests_per_minute: 2, scope: 'metadata.tenant' } });
    const one = await start('express5', { config, store: createRedisStore({ prefix }) });
    const two = await start('koa3', { config, store: createRedisStore({ prefix }) });
    expect((await chatWithHeaders(asTenant(one, 'acme'), 'What is Python?')).cache).toBe('MISS');
    expect((await chatWithHeaders(asTenant(two, 'globex'), 'What is Python?')).cache).toBe('MISS');
    expect((await chatWithHeaders(asTenant(two, 'globex-2'), 'Tell me about Python')).cache).toBe('MISS');
    expect((await chatWithHeaders(asTenant(two, 'acme'), 'Tell me about Python')).cache).toBe('SEMANTIC_HIT');
    // A's window (2 a minute) is full on both instances; B's and globex-2's windows are their own.
    expect((await asTenant(one, 'acme').chat.completions.create(ask('What is Python?')).catch((e) => e)).status).toBe(429);
    expect((await chatWithHeaders(asTenant(one, 'globex'), 'What is Python?')).cache).toBe('HIT');
    expect(chatCalls()).toBe(3);
  });
});

describe.each(['express5', 'koa3'] as const)('client configs (allowRequestConfig) through %s', (kind) => {
  it("a tenant's own config header cannot opt into another tenant's entries or out of its limits", async () => {
    const app = await start(kind, {
      allowRequestConfig: true,
      allowedHosts: ['127.0.0.1'],
      config: withConfig({ cache: { mode: 'simple' }, rate_limit: { requests_per_minute: 2, scope: 'metadata.tenant' } }),
    });
    expect((await chatWithHeaders(asTenant(app, 'acme'), 'Merger terms')).cache).toBe('MISS');
    // globex sends the server's own target with `shared: true` and a generous limit of its own.
    const own = { targets: [target()], cache: { mode: 'simple', shared: true }, rate_limit: { requests_per_minute: 1000 } };
    const b = asTenant(app, 'globex', { 'x-portkey-config': JSON.stringify(own), 'x-portkey-metadata': JSON.stringify({ tenant: 'acme' }) });
    const first = await chatWithHeaders(b, 'Merger terms');
    expect(first.cache).not.toMatch(/HIT/);
    expect(first.data.choices[0].message.content).not.toContain('answer #1 ');
    await chatWithHeaders(b, 'Merger terms 2');
    const third = await b.chat.completions.create(ask('Merger terms 3')).catch((e) => e);
    expect(third.status).toBe(429);
    expect(third.error).toMatchObject({ scope_value: 'globex' });
  });
});

describe.each(['express5', 'koa3'] as const)('budgets and rate limits per tenant through %s', (kind) => {
  it('a tenant-scoped rate limit: A exhausting its window never blocks B, and B cannot land in A\'s bucket by metadata', async () => {
    const app = await start(kind, { config: withConfig({ rate_limit: { requests_per_minute: 1, scope: 'metadata.tenant' } }) });
    expect((await chatWithHeaders(asTenant(app, 'acme'), 'one')).data.choices).toHaveLength(1);
    const limited = await asTenant(app, 'acme').chat.completions.create(ask('two')).catch((e) => e);
    expect(limited.status).toBe(429);
    expect(limited.error).toMatchObject({ scope: 'metadata.tenant', scope_value: 'acme' });
    // B claims to be acme in its metadata: the app's identity wins, B's own bucket is used (and free).
    const spoofing = asTenant(app, 'globex', { 'x-llmux-metadata': JSON.stringify({ tenant: 'acme' }), 'x-portkey-metadata': JSON.stringify({ tenant: 'acme' }) });
    expect((await chatWithHeaders(spoofing, 'three')).data.choices).toHaveLength(1);
    const bLimited = await spoofing.chat.completions.create(ask('four')).catch((e) => e);
    expect(bLimited.status).toBe(429);
    expect(bLimited.error).toMatchObject({ scope_value: 'globex' });
  });

  it('a tenant-scoped budget: A spending to its limit (402) leaves B\'s budget untouched, and B cannot spend from A\'s', async () => {
    const app = await start(kind, {
      pricing: { 'gpt-4o-mini': { input: 1000, output: 1000 } },
      config: withConfig({ budget: { max_cost_per_day: 0.05, scope: 'metadata.tenant' } }),
    });
    // The first answer settles at the fixture's usage (379 tokens, ~$0.38 at this price): over A's limit at once.
    const a = asTenant(app, 'acme');
    let refused: any;
    for (let i = 0; i < 10 && !refused; i++) refused = await a.chat.completions.create(ask('x', { max_tokens: 10 })).then(() => undefined, (e) => e);
    expect(refused?.status).toBe(402);
    expect(refused.error).toMatchObject({ scope: 'metadata.tenant', scope_value: 'acme' });
    const b = asTenant(app, 'globex', { 'x-llmux-metadata': JSON.stringify({ tenant: 'acme' }) });
    expect((await chatWithHeaders(b, 'x', { max_tokens: 10 })).data.choices).toHaveLength(1);
  });
});

describe.each(['express5', 'koa3'] as const)('gateway keys: limits and model lists on every route through %s', (kind) => {
  const keyed = (extra: Record<string, unknown> = {}) =>
    start(kind, {
      identify: undefined,
      config: withConfig({ model_aliases: { mini: 'gpt-4o-mini', big: 'gpt-4o' }, cache: { mode: 'simple', shared: true }, ...extra }),
      auth: {
        keys: [
          { key: KEY_A, name: 'tenant-a', models: ['gpt-4o-mini', 'mini', 'text-embedding-3-small', 'claude-3-5-haiku*'], rate_limit: { requests_per_minute: 4 } },
          { key: KEY_B, name: 'tenant-b' },
        ],
        adminKeys: [ADMIN],
      },
    } as AppOptions);

  it("one key's rate limit counts chat, embeddings and /v1/messages together (cache hits included), and never another key's", async () => {
    const app = await keyed();
    const oa = openaiFor(app, {}, KEY_A);
    const pk = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: KEY_A, maxRetries: 0 } as never);
    await oa.chat.completions.create(ask('one'));
    await pk.embeddings.create({ model: 'text-embedding-3-small', input: 'one', encoding_format: 'float' } as never);
    const messages = await fetch(`${app.gatewayURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY_A, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-3-5-haiku-latest', max_tokens: 10, messages: [{ role: 'user', content: 'one' }] }),
    });
    expect(messages.status).toBe(200);
    const hit = await chatWithHeaders(oa, 'one');
    expect(hit.cache).toBe('HIT');
    const fifth = await oa.chat.completions.create(ask('two')).catch((e) => e);
    expect(fifth.status).toBe(429);
    expect(fifth.error).toMatchObject({ scope: 'key', scope_value: 'tenant-a' });
    const embedLimited = await pk.embeddings.create({ model: 'text-embedding-3-small', input: 'two' } as never).catch((e: any) => e);
    expect(embedLimited.status).toBe(429);
    // Key B has no limit of its own and shares nothing with A's window.
    for (let i = 0; i < 5; i++) await openaiFor(app, {}, KEY_B).chat.completions.create(ask(`b${i}`));
  });

  it("a restricted key is refused models outside its list on chat, embeddings and /v1/messages, even where a shared cache entry exists", async () => {
    const app = await keyed();
    // Key B fills the shared cache with a gpt-4o answer and a large-model embedding.
    await openaiFor(app, {}, KEY_B).chat.completions.create(ask('secret plan', { model: 'gpt-4o' }));
    await openaiFor(app, {}, KEY_B).chat.completions.create(ask('secret plan', { model: 'big' }));
    await openaiFor(app, {}, KEY_B).embeddings.create({ model: 'text-embedding-3-large', input: 'secret plan' });
    const before = upstream.requests.length;
    const oa = openaiFor(app, {}, KEY_A);
    for (const model of ['gpt-4o', 'big', 'gpt-4o-2024-08-06']) {
      const refused = await oa.chat.completions.create(ask('secret plan', { model })).catch((e) => e);
      expect(refused.status, model).toBe(403);
    }
    expect((await oa.embeddings.create({ model: 'text-embedding-3-large', input: 'secret plan' }).catch((e) => e)).status).toBe(403);
    const messages = await fetch(`${app.gatewayURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': KEY_A, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'secret plan' }] }),
    });
    expect(messages.status).toBe(403);
    expect(await messages.json()).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(upstream.requests.length).toBe(before);
  });

  it("one key's budget is charged and enforced on chat, embeddings and /v1/messages alike, and never another key's", async () => {
    const app = await start(kind, {
      identify: undefined,
      pricing: { 'gpt-4o-mini': { input: 100, output: 100 }, 'text-embedding-3-small': { input: 100, output: 0 } },
      config: withConfig(),
      auth: { keys: [{ key: KEY_A, name: 'tenant-a', budget: { max_cost_per_day: 0.2 } }, { key: KEY_B, name: 'tenant-b', budget: { max_cost_per_day: 0.2 } }] },
    } as AppOptions);
    const oa = openaiFor(app, {}, KEY_A);
    const messages = (key: string) =>
      fetch(`${app.gatewayURL}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] }),
      });
    // A chat settles at the fixture's usage (379 tokens, ~$0.038 at these prices): A's spend goes up until every route refuses it.
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push(await oa.chat.completions.create(ask('hello', { max_tokens: 20 })).then(() => 200, (e) => e.status));
      statuses.push(await oa.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' }).then(() => 200, (e) => e.status));
      statuses.push((await messages(KEY_A)).status);
    }
    const bRes = await messages(KEY_B);
    expect(statuses.slice(-3)).toEqual([402, 402, 402]);
    expect(bRes.status).toBe(200);
    expect(await openaiFor(app, {}, KEY_B).embeddings.create({ model: 'text-embedding-3-small', input: 'hello' }).then(() => 200, (e) => e.status)).toBe(200);
  });

  it('/v1/models and /v1/models/{id} list only what the key may use (OpenAI and Anthropic shapes)', async () => {
    const app = await keyed();
    const restricted = openaiFor(app, {}, KEY_A);
    expect((await restricted.models.list()).data.map((m) => m.id)).toEqual(['mini']);
    expect((await restricted.models.retrieve('big').catch((e) => e)).status).toBe(404);
    expect((await restricted.models.retrieve('mini')).id).toBe('mini');
    const anthropicList = await fetch(`${app.gatewayURL}/v1/models`, { headers: { 'x-api-key': KEY_A, 'anthropic-version': '2023-06-01' } });
    expect(((await anthropicList.json()) as any).data.map((m: any) => m.id)).toEqual(['mini']);
    const anthropicOne = await fetch(`${app.gatewayURL}/v1/models/big`, { headers: { 'x-api-key': KEY_A, 'anthropic-version': '2023-06-01' } });
    expect(anthropicOne.status).toBe(404);
    expect((await openaiFor(app, {}, KEY_B).models.list()).data.map((m) => m.id).sort()).toEqual(['big', 'mini']);
    expect((await openaiFor(app).models.list().catch((e) => e)).status).toBe(401);
  });

  it("neither a gateway key nor the host's own session opens /usage, /metrics or the playground API", async () => {
    const app = await keyed({ budget: { max_cost_per_day: 5, scope: 'key' } });
    await openaiFor(app, {}, KEY_B).chat.completions.create(ask('spend'));
    for (const path of ['/usage', '/usage?scope=key&value=tenant-b', '/metrics', '/playground/api/usage', '/playground/api/requests', '/playground/api/info']) {
      for (const headers of [{ authorization: `Bearer ${KEY_A}` }, { 'x-llmux-api-key': KEY_A }, { 'x-portkey-api-key': KEY_A }, { 'x-llmux-admin-key': KEY_A }, { 'x-app-session-tenant': 'acme' }]) {
        const res = await fetch(`${app.gatewayURL}${path}`, { headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.text()).not.toContain('tenant-b');
      }
    }
    const pinned = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY_A}` },
      body: JSON.stringify(ask('x', { model: 'gpt-4o' })),
    });
    expect(pinned.status).toBe(401);
    const admin = await fetch(`${app.gatewayURL}/usage?scope=key`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(admin.status).toBe(200);
  });
});

/** FNV-1a, 32 bits, as the gateway hashes long scope values (packages/core/src/fnv1a.ts). */
const fnv1a = (text: string) => {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
};
/** Two OIDC-style subject ids (issuer URL + user) found by a birthday search among ~380k users of one issuer. */
const ISSUER = 'https://login.example-sso.com/realms/customers/protocol/openid-connect/tenants/enterprise-accounts/organisation/';
const OIDC_USER_1 = `${ISSUER}user-162789`;
const OIDC_USER_2 = `${ISSUER}user-379192`;

describe.each(['memory', 'redis'] as const)('scope values with odd characters on the %s store', (storeKind) => {
  /** Express 5 + the openai SDK; `identify` maps the app's session user (URI-encoded in a header) to `user`. */
  async function limited(config: Record<string, unknown>) {
    const app = await start('express5', {
      config: withConfig(config),
      ...(storeKind === 'redis' ? { store: createRedisStore({ prefix: redisPrefix() }) } : {}),
    });
    const asUser = (user: string, extra: Record<string, string> = {}) => openaiFor(app, { 'x-app-session-user': encodeURIComponent(user), ...extra });
    const status = (client: OpenAI) => client.chat.completions.create(ask('hi')).then(() => 200, (e) => e.status as number);
    return { app, asUser, status };
  }

  it("':' '*' '{' '=' '%', unicode and very long users each get a bucket of their own", async () => {
    const { asUser, status } = await limited({ rate_limit: { requests_per_minute: 1, scope: 'user' } });
    const users = ['a:b', 'a%3Ab', 'a', 'a*', '{limits}', 'user=a', 'a=', 'é', 'e\u0301', '租户', '🙂', 'x'.repeat(500), `${'x'.repeat(500)}y`, 'A'];
    for (const user of users) expect(await status(asUser(user)), user).toBe(200);
    for (const user of users) expect(await status(asUser(user)), user).toBe(429);
  });

  // BUG: a value under 128 characters that ends in "~<fnv1a of another value>" lands in that long value's bucket (scope.ts encode: `~` is not escaped)
  it("a short user id cannot forge a long user id's shortened scope key", async () => {
    const victim = `${'v'.repeat(200)}@customer.example`;
    const forged = `${encodeURIComponent(victim).slice(0, 120)}~${fnv1a(victim).toString(36)}`;
    expect(forged.length).toBeLessThanOrEqual(128);
    const { asUser, status } = await limited({ rate_limit: { requests_per_minute: 1, scope: 'user' } });
    expect(await status(asUser(victim))).toBe(200);
    // The forger's first request is its own: it must not be counted in (or refused by) the victim's window.
    expect(await status(asUser(forged))).toBe(200);
  });

  // BUG: long scope values that share their first 120 encoded characters are told apart by a 32-bit FNV-1a only; two real-looking user ids collide
  it('two long user ids with a common prefix never share a rate-limit window', async () => {
    expect(fnv1a(OIDC_USER_1)).toBe(fnv1a(OIDC_USER_2));
    const { asUser, status } = await limited({ rate_limit: { requests_per_minute: 1, scope: 'user' } });
    expect(await status(asUser(OIDC_USER_1))).toBe(200);
    expect(await status(asUser(OIDC_USER_2))).toBe(200);
  });

  // BUG: a user whose id is "-" shares the bucket of every caller without an identity (scope.ts: ANONYMOUS = '-' and encode('-') = '-')
  it('a user named "-" is not the anonymous bucket', async () => {
    const { app, asUser, status } = await limited({ rate_limit: { requests_per_minute: 1, scope: 'user' } });
    expect(await status(openaiFor(app))).toBe(200);
    expect(await status(asUser('-'))).toBe(200);
  });

  // BUG: a lone surrogate in x-llmux-metadata makes encodeURIComponent throw in scope.ts: a 500 for bad input
  it('a metadata scope value with a lone surrogate is a client error or its own bucket, never a 500', async () => {
    const { app, status } = await limited({ rate_limit: { requests_per_minute: 5, scope: 'metadata.tenant' } });
    const result = await status(openaiFor(app, { 'x-llmux-metadata': '{"tenant":"acme\\ud800"}' }));
    expect([200, 400]).toContain(result);
    // The same through the Portkey header the portkey-ai SDK sends.
    const pk = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0, metadata: { tenant: 'globex\udfff' } } as never);
    const viaPortkey = await pk.chat.completions.create(ask('hi') as never).then(() => 200, (e: any) => e.status);
    expect([200, 400]).toContain(viaPortkey);
  });
});

describe('createGateway().handle for any Node server', () => {
  // BUG: GatewayOptions.identify is accepted and validated but never called by handle(): every tenant lands in one cache scope and one budget bucket
  it("the core `identify` option scopes the cache per user (a handle() without context uses it)", async () => {
    const gw = createGateway({
      env: {},
      config: withConfig({ cache: { mode: 'simple' } }),
      identify: (req: any) => ({ user: req.headers['x-app-session-user'] }),
    });
    gateways.push(gw);
    const request = (user: string) => ({ method: 'POST', path: CHAT, headers: { 'content-type': 'application/json', 'x-app-session-user': user }, body: ask('Salary of the CFO?') });
    const alice = await gw.handle(request('alice'));
    expect(alice.status).toBe(200);
    const bob = await gw.handle(request('bob'));
    expect(bob.status).toBe(200);
    // Bob is served Alice's cached answer.
    expect(bob.headers['x-llmux-cache']).toBe('MISS');
  });
});
