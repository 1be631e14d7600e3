import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';

/**
 * QA of issue 5 (caching) from a production user's and an attacker's side: tenants, client configs,
 * limits, nested configs, replays through the Anthropic SDK, and what a hit costs in time.
 */
const CHAT = '/v1/chat/completions';
const TEXT = fixtureJson('openai/chat-completions.text.json');
const TEXT_STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const SERVER_KEY = 'sk-server-secret-never-to-leave-5555';

let upstream: MockUpstream;
let other: MockUpstream;
beforeAll(async () => {
  [upstream, other] = await Promise.all([startMockUpstream(), startMockUpstream()]);
});
afterAll(async () => {
  await Promise.all([upstream.close(), other.close()]);
});
beforeEach(() => {
  for (const u of [upstream, other]) {
    u.reset();
    u.route('/v1/embeddings', topicEmbeddings);
  }
});

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function start(options: AppOptions): Promise<TestApp> {
  const app = await appFactories.express5!(options);
  apps.push(app);
  return app;
}

const chatCalls = (u: MockUpstream = upstream) => u.requests.filter((r) => r.path.startsWith(CHAT)).length;
const answer = (content: string) => ({ json: { ...TEXT, choices: [{ ...TEXT.choices[0], message: { role: 'assistant', content } }] } });
const target = (extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: 'sk-test-upstream', custom_host: `${upstream.url}/v1`, ...extra });

function post(app: TestApp, content: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  return fetch(`${app.gatewayURL}${CHAT}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content }], ...extra }),
  });
}

async function result(res: Response) {
  const body = await res.json();
  return { http: res.status, cache: res.headers.get('x-llmux-cache'), content: body.choices?.[0]?.message?.content as string | undefined, body };
}

/** Tenants by header, as a host app's `identify` would give them. */
const identify = ((req: { headers: Record<string, unknown> }) => ({ tenant: req.headers['x-tenant'] as string | undefined })) as never;

describe('a client config cannot reach the server key or an internal host through the semantic cache', () => {
  const semanticConfig = (embedding: Record<string, unknown>) =>
    JSON.stringify({ cache: { mode: 'semantic', embedding }, targets: [{ provider: 'openai', api_key: 'sk-client-own', custom_host: `${upstream.url}/v1` }] });

  it('the embedding target of a client config never carries the server key to the host the client chose', async () => {
    const app = await start({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], env: { OPENAI_API_KEY: SERVER_KEY }, providers: { openai: { apiKey: SERVER_KEY } } });
    upstream.route(CHAT, answer('ok'));
    const res = await post(app, 'What is Python?', { 'x-portkey-config': semanticConfig({ provider: 'openai', custom_host: `${other.url}/v1` }) });
    expect(res.status).toBe(200);
    const sent = [...upstream.requests, ...other.requests];
    expect(sent.length).toBeGreaterThan(0);
    for (const r of sent) expect(JSON.stringify(r.headers)).not.toContain(SERVER_KEY);
  });

  it('the embedding target of a client config passes the SSRF guard', async () => {
    const app = await start({ allowRequestConfig: true, allowedHosts: [`127.0.0.1:${new URL(upstream.url).port}`] });
    upstream.route(CHAT, answer('ok'));
    const res = await post(app, 'What is Python?', { 'x-portkey-config': semanticConfig({ provider: 'openai', api_key: 'k', custom_host: `${other.url}/v1` }) });
    expect(res.status).toBe(403);
    expect((await res.json()).error.param).toContain('embedding.custom_host');
    expect(other.requests).toHaveLength(0);
    expect(chatCalls()).toBe(0);
  });

  it('a client config’s first target is guarded before the semantic step embeds through it', async () => {
    const app = await start({ allowRequestConfig: true });
    const config = JSON.stringify({ cache: { mode: 'semantic' }, targets: [{ provider: 'openai', api_key: 'k', custom_host: `${other.url}/v1` }] });
    const res = await post(app, 'What is Python?', { 'x-portkey-config': config });
    expect(res.status).toBe(403);
    expect(other.requests).toHaveLength(0);
  });

  it('a server-configured embedding target keeps working for request-level configs without a cache', async () => {
    const app = await start({
      allowRequestConfig: true,
      allowedHosts: ['127.0.0.1'],
      config: { cache: { mode: 'semantic', embedding: { provider: 'openai', api_key: 'sk-embed', custom_host: `${other.url}/v1` } }, targets: [target()] } as GatewayConfig,
    });
    upstream.route(CHAT, answer('ok'));
    const clientConfig = { 'x-portkey-config': JSON.stringify({ targets: [target()] }) };
    expect((await result(await post(app, 'What is Python?', clientConfig))).cache).toBe('MISS');
    expect((await result(await post(app, 'Tell me about Python', clientConfig))).cache).toBe('SEMANTIC_HIT');
    expect(other.requests.filter((r) => r.path === '/v1/embeddings').map((r) => r.headers.authorization)).toEqual(['Bearer sk-embed', 'Bearer sk-embed']);
  });
});

describe('the key covers request headers the upstream call reads', () => {
  it('forward_headers values separate entries', async () => {
    const app = await start({ config: { cache: { mode: 'simple', shared: true }, targets: [target({ forward_headers: ['x-house-style'] })] } as GatewayConfig });
    upstream.route(CHAT, (req: RecordedRequest) => answer(`style ${String(req.headers['x-house-style'] ?? 'none')}`));
    expect(await result(await post(app, 'Write a slogan', { 'x-house-style': 'pirate' }))).toMatchObject({ cache: 'MISS', content: 'style pirate' });
    expect(await result(await post(app, 'Write a slogan'))).toMatchObject({ cache: 'MISS', content: 'style none' });
    expect(await result(await post(app, 'Write a slogan', { 'x-house-style': 'pirate' }))).toMatchObject({ cache: 'HIT', content: 'style pirate' });
    expect(chatCalls()).toBe(2);
  });

  it('anthropic-beta flags separate entries for an Anthropic target', async () => {
    const app = await start({ config: { cache: { mode: 'simple' }, targets: [{ provider: 'anthropic', api_key: 'sk-ant', custom_host: `${upstream.url}/v1` }] } as GatewayConfig });
    upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    const ask = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hello' }] };
    await client.messages.create(ask);
    const beta = await client.messages.create(ask, { headers: { 'anthropic-beta': 'context-1m-2025-08-07' } }).withResponse();
    expect(beta.response.headers.get('x-llmux-cache')).toBe('MISS');
    const again = await client.messages.create(ask).withResponse();
    expect(again.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(upstream.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(2);
  });
});

describe('tenants cannot reach each other’s entries', () => {
  it('a tenant’s force-refresh, or a client config asking for a shared cache, never changes what another tenant is served', async () => {
    const app = await start({
      identify,
      allowRequestConfig: true,
      allowedHosts: ['127.0.0.1'],
      config: { cache: { mode: 'simple' }, targets: [target()] } as GatewayConfig,
    });
    upstream.enqueue(CHAT, answer('for B'), answer('for A, refreshed'), answer('for A, shared'), answer('for C'));
    const B = { 'x-tenant': 'b' };
    const A = { 'x-tenant': 'a' };
    expect(await result(await post(app, 'Capital of France?', B))).toMatchObject({ cache: 'MISS', content: 'for B' });
    expect(await result(await post(app, 'Capital of France?', { ...A, 'x-llmux-cache-force-refresh': 'true' }))).toMatchObject({ cache: 'REFRESH' });
    const sharedByA = { ...A, 'x-portkey-config': JSON.stringify({ cache: { mode: 'simple', shared: true }, targets: [target()] }) };
    expect(await result(await post(app, 'Capital of France?', sharedByA))).toMatchObject({ cache: 'MISS', content: 'for A, shared' });
    expect(await result(await post(app, 'Capital of France?', B))).toMatchObject({ cache: 'HIT', content: 'for B' });
    expect(await result(await post(app, 'Capital of France?', { 'x-tenant': 'c' }))).toMatchObject({ cache: 'MISS', content: 'for C' });
  });

  it('semantic hits stay inside the caller’s scope too', async () => {
    const app = await start({ identify, config: { cache: { mode: 'semantic' }, targets: [target()] } as GatewayConfig });
    upstream.route(CHAT, answer('python'));
    expect((await result(await post(app, 'What is Python?', { 'x-tenant': 'a' }))).cache).toBe('MISS');
    expect((await result(await post(app, 'Tell me about Python', { 'x-tenant': 'a' }))).cache).toBe('SEMANTIC_HIT');
    expect((await result(await post(app, 'Tell me about Python', { 'x-tenant': 'b' }))).cache).toBe('MISS');
  });
});

describe('cache hits and limits', () => {
  it('a hit still counts against the request rate limit, at zero cost', async () => {
    const app = await start({ config: { cache: { mode: 'simple' }, rate_limit: { requests_per_minute: 2 }, targets: [target()] } as GatewayConfig });
    upstream.route(CHAT, answer('ok'));
    const first = await post(app, 'Hi');
    const hit = await post(app, 'Hi');
    expect(hit.headers.get('x-llmux-cache')).toBe('HIT');
    expect(hit.headers.get('x-llmux-cost')).toBe('0');
    expect(hit.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(first.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    const refused = await post(app, 'Hi');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(chatCalls()).toBe(1);
  });
});

describe('which cache a nested config uses (docs/caching.md)', () => {
  const fallback = (targets: Array<Record<string, unknown>>, top: Record<string, unknown> = {}) => ({ strategy: { mode: 'fallback' }, targets, ...top }) as GatewayConfig;
  const twice = async (app: TestApp) => [(await post(app, 'Hi')).headers.get('x-llmux-cache'), (await post(app, 'Hi')).headers.get('x-llmux-cache')];

  it('a cache only on a later fallback target does not apply', async () => {
    upstream.route(CHAT, answer('ok'));
    const app = await start({ config: fallback([target(), target({ cache: { mode: 'simple' } })]) });
    expect(await twice(app)).toEqual(['DISABLED', 'DISABLED']);
    expect(chatCalls()).toBe(2);
  });

  it('a cache on a nested strategy in first position applies, and its children inherit it', async () => {
    upstream.route(CHAT, answer('ok'));
    const app = await start({ config: fallback([{ cache: { mode: 'simple' }, strategy: { mode: 'fallback' }, targets: [target(), target()] }, target()]) });
    expect(await twice(app)).toEqual(['MISS', 'HIT']);
  });

  it('the top-level cache wins over a target’s, including mode "disabled"', async () => {
    upstream.route(CHAT, answer('ok'));
    const app = await start({ config: fallback([target({ cache: { mode: 'simple' } })], { cache: { mode: 'disabled' } }) });
    expect(await twice(app)).toEqual(['DISABLED', 'DISABLED']);
  });

  it('max_age on the applying target is honoured', async () => {
    let clock = Date.parse('2026-03-01T00:00:00Z');
    upstream.route(CHAT, answer('ok'));
    const app = await start({ config: fallback([target({ cache: { mode: 'simple', max_age: 10 } }), target()]), cache: { now: () => clock } });
    expect(await twice(app)).toEqual(['MISS', 'HIT']);
    clock += 11_000;
    expect((await post(app, 'Hi')).headers.get('x-llmux-cache')).toBe('MISS');
  });
});

describe('what is never stored', () => {
  it('a stream the client left mid-way is not stored', async () => {
    const app = await start({ config: { cache: { mode: 'simple' }, targets: [target()] } as GatewayConfig });
    upstream.enqueue(CHAT, { chunks: TEXT_STREAM, chunkDelayMs: 40 }, { chunks: TEXT_STREAM });
    const res = await post(app, 'capital?', {}, { stream: true });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await until(() => upstream.aborted === 1);
    const again = await post(app, 'capital?', {}, { stream: true });
    expect(again.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await again.text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect((await post(app, 'capital?', {}, { stream: true })).headers.get('x-llmux-cache')).toBe('HIT');
  });

  it('a 200 whose stream carried an error event is not stored', async () => {
    const app = await start({ config: { cache: { mode: 'simple' }, targets: [target()] } as GatewayConfig });
    upstream.enqueue(CHAT, { chunks: [...TEXT_STREAM.slice(0, 4), 'data: {"error":{"message":"server error mid-stream","type":"server_error"}}\n\n'], chunkDelayMs: 10 });
    upstream.enqueue(CHAT, { chunks: TEXT_STREAM });
    const broken = await (await post(app, 'capital?', {}, { stream: true })).text();
    expect(broken).not.toContain('[DONE]');
    expect((await post(app, 'capital?', {}, { stream: true })).headers.get('x-llmux-cache')).toBe('MISS');
  });
});

describe('replays through the Anthropic SDK', () => {
  it('a cached stream on /v1/messages replays as Anthropic events the SDK assembles to the same message', async () => {
    const app = await start({ config: { cache: { mode: 'simple' }, targets: [target()] } as GatewayConfig });
    upstream.enqueue(CHAT, { chunks: TEXT_STREAM });
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    const ask = { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user' as const, content: 'capital?' }] };
    const live = await client.messages.stream(ask).finalMessage();
    const replayStream = client.messages.stream(ask);
    const replay = await replayStream.finalMessage();
    expect((await replayStream.withResponse()).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(replay.content).toEqual(live.content);
    expect(replay.stop_reason).toBe(live.stop_reason);
    expect(replay.usage.output_tokens).toBe(live.usage.output_tokens);
    const asMessage = await client.messages.create(ask).withResponse();
    expect(asMessage.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(asMessage.data.content).toEqual(live.content);
    expect(chatCalls()).toBe(1);
  });
});

describe('the seed’s semantic-cache config through the portkey-ai SDK', () => {
  it('answers "Tell me about Python" from the entry of "What is Python?"', async () => {
    const app = await start({ allowRequestConfig: true, providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-server-openai' } } });
    upstream.route(CHAT, answer('Python is a programming language.'));
    const client = new Portkey({
      baseURL: `${app.gatewayURL}/v1`,
      apiKey: 'unused',
      config: { cache: { mode: 'semantic', max_age: 3600 }, targets: [{ provider: 'openai' }] },
      maxRetries: 0,
    });
    const ask = (content: string) => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }) as Promise<any>;
    const first = await ask('What is Python?');
    const similar = await ask('Tell me about Python');
    const unrelated = await ask('How is the weather?');
    // Portkey's spelling of a miss in semantic mode.
    expect([first, similar, unrelated].map((r) => r.getHeaders()['cache-status'])).toEqual(['SEMANTIC MISS', 'SEMANTIC HIT', 'SEMANTIC MISS']);
    expect(similar.choices[0].message.content).toBe('Python is a programming language.');
    expect(chatCalls()).toBe(2);
  });
});

describe('exact-hit latency (measured, not asserted)', () => {
  it('reports the time of a repeated request answered from the cache', async () => {
    const app = await start({ config: { cache: { mode: 'simple' }, targets: [target()] } as GatewayConfig });
    upstream.route(CHAT, { ...answer('ok'), delayMs: 200 });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ask = () => client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Invent a holiday' }] }).withResponse();
    await ask();
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      const res = await ask();
      times.push(performance.now() - t);
      expect(res.response.headers.get('x-llmux-cache')).toBe('HIT');
    }
    times.sort((a, b) => a - b);
    console.info(`exact cache hit through express5 + openai SDK: p50 ${times[25]!.toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms (upstream miss takes ≥ 200 ms)`);
    expect(chatCalls()).toBe(1);
  });
});

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
