/**
 * Edges of the embeddings response cache: providers that translate and fan out, sizes, scopes, keys,
 * limits, adapters, SDKs and stores. Tests marked "Regression" failed before the fix they describe.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, createMemoryCache, type CacheStore, type Gateway, type GatewayConfig, type GatewayOptions } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { appFactories } from './helpers/apps.js';
import { cassette, fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let up: MockUpstream;
const gateways: Gateway[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => up.reset());

const FLOAT = fixtureJson('openai/embeddings.float.json');
const CHAT_ANSWER = fixtureJson('openai/chat-completions.text.json');
const EMBED = '/v1/embeddings';
const CHAT = '/v1/chat/completions';
const TITAN = '/model/amazon.titan-embed-text-v2%3A0/invoke';
const embedCalls = () => up.requests.filter((r) => r.path.startsWith(EMBED)).length;

const openaiTarget = () => ({ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1` });
const bedrockTarget = () => ({
  provider: 'bedrock',
  aws_access_key_id: 'AKIDEXAMPLE',
  aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  aws_region: 'us-east-1',
  custom_host: up.url,
});

function gateway(config: Record<string, unknown>, options: Partial<GatewayOptions> = {}): { g: Gateway; records: Array<Record<string, any>> } {
  const records: Array<Record<string, any>> = [];
  const g = createGateway({ env: {}, config: config as GatewayConfig, onLog: (r) => void records.push(r as never), ...options } as GatewayOptions);
  gateways.push(g);
  return { g, records };
}

const embedReq = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: EMBED,
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'text-embedding-3-small', input: 'The food was delicious', encoding_format: 'float', ...body },
});
const chatReq = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: CHAT,
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body },
});

/** A memory cache that lets a test read and plant raw values, as another writer to a shared store could. */
function spyStore(): CacheStore & { values: Map<string, string> } {
  const inner = createMemoryCache();
  const values = new Map<string, string>();
  return Object.assign(Object.create(inner) as CacheStore, {
    values,
    inProcess: true,
    async cacheGet(key: string) {
      return values.has(key) ? values.get(key) : inner.cacheGet(key);
    },
    async cacheSet(key: string, value: string, ttl: number) {
      values.set(key, value);
      return inner.cacheSet(key, value, ttl);
    },
    cacheDelete: inner.cacheDelete.bind(inner),
    cacheIndexAdd: inner.cacheIndexAdd.bind(inner),
    cacheIndexSearch: inner.cacheIndexSearch.bind(inner),
    cacheIndexDelete: inner.cacheIndexDelete.bind(inner),
  });
}

describe('headers and records', () => {
  it('MISS, HIT, REFRESH and DISABLED are stated in headers and records', async () => {
    const { g, records } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { pricing: { 'text-embedding-3-small': { input: 20, output: 0 } } });
    up.route(EMBED, { json: FLOAT });
    const miss = await g.handle(embedReq());
    const hit = await g.handle(embedReq());
    const refresh = await g.handle(embedReq({}, { 'x-portkey-cache-force-refresh': 'true' }));
    expect([miss, hit, refresh].map((r) => r.headers['x-llmux-cache'])).toEqual(['MISS', 'HIT', 'REFRESH']);
    expect(hit.body).toEqual(miss.body);
    expect(hit.headers['x-llmux-cost']).toBe('0');
    expect(hit.headers['x-llmux-provider']).toBe('openai');
    expect(hit.headers['x-llmux-target']).toBe('config.targets[0]');
    const cost = Number(miss.headers['x-llmux-cost']);
    expect(cost).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(records.map((r) => [r.cache.status, r.cost_usd, r.provider])).toEqual([
      ['MISS', cost, 'openai'],
      ['HIT', 0, 'openai'],
      ['REFRESH', cost, 'openai'],
    ]);
    expect(records[1]!.cache.saved_cost_usd).toBe(cost);
    expect(records[1]!.usage).toMatchObject({ input_tokens: FLOAT.usage.prompt_tokens });
    const { g: off } = gateway({ targets: [openaiTarget()] });
    expect((await off.handle(embedReq())).headers['x-llmux-cache']).toBe('DISABLED');
  });
});

describe('providers that translate and fan out', () => {
  it('bedrock Titan, 3 inputs in base64: the stored answer is the translated, joined one, served whole', async () => {
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [bedrockTarget()] });
    up.route(TITAN, (req) => ({ json: { embedding: [0.5, req.json.inputText.length / 10], inputTextTokenCount: 3 } }));
    const body = { model: 'amazon.titan-embed-text-v2:0', input: ['a', 'bb', 'ccc'], encoding_format: 'base64' };
    const miss = await g.handle(embedReq(body));
    expect(miss.status).toBe(200);
    const hit = await g.handle(embedReq(body));
    expect(hit.headers['x-llmux-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    expect((hit.body as any).model).toBe('amazon.titan-embed-text-v2:0');
    expect((hit.body as any).data.map((d: any) => [d.index, typeof d.embedding])).toEqual([
      [0, 'string'],
      [1, 'string'],
      [2, 'string'],
    ]);
    expect((hit.body as any).usage).toEqual({ prompt_tokens: 9, total_tokens: 9 });
    expect(up.requests).toHaveLength(3);
  });

  it('a fan-out with one failed call is never stored', async () => {
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [bedrockTarget()] });
    let fail = true;
    up.route(TITAN, (req) => (fail && req.json.inputText === 'bb' ? { status: 500, json: { message: 'boom' } } : { json: { embedding: [0.5], inputTextTokenCount: 1 } }));
    const body = { model: 'amazon.titan-embed-text-v2:0', input: ['a', 'bb', 'ccc'] };
    expect((await g.handle(embedReq(body))).status).toBeGreaterThanOrEqual(500);
    fail = false;
    const next = await g.handle(embedReq(body));
    expect(next.status).toBe(200);
    expect(next.headers['x-llmux-cache']).toBe('MISS');
  });

  it('cohere over 96 texts and gemini batchEmbedContents: hit equals miss', async () => {
    const cohere = fixtureJson('cohere/embed-v2.json');
    up.route('/v2/embed', (req) => ({ json: { ...cohere, embeddings: { float: req.json.texts.map(() => [0.1, 0.2]) } } }));
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [{ provider: 'cohere', api_key: 'co', custom_host: `${up.url}/v2` }] });
    const body = { model: 'embed-english-v3.0', input: Array.from({ length: 100 }, (_, i) => `t${i}`), encoding_format: 'base64' };
    const miss = await g.handle(embedReq(body));
    const hit = await g.handle(embedReq(body));
    expect(hit.headers['x-llmux-cache']).toBe('HIT');
    expect(hit.body).toEqual(miss.body);
    expect((hit.body as any).data).toHaveLength(100);
    const gem = cassette('gemini/batchEmbedContents.cassette.yaml')[0]!.response.parsed_body;
    up.route('*', { json: gem });
    const { g: g2 } = gateway({ cache: { mode: 'simple' }, targets: [{ provider: 'google', api_key: 'AIza', custom_host: `${up.url}/v1beta` }] });
    const m2 = await g2.handle(embedReq({ model: 'gemini-embedding-001', input: 'Hello, world!' }));
    const h2 = await g2.handle(embedReq({ model: 'gemini-embedding-001', input: 'Hello, world!' }));
    expect(h2.headers['x-llmux-cache']).toBe('HIT');
    expect(h2.body).toEqual(m2.body);
  });
});

describe('size, age, foreign values', () => {
  it('an answer over maxEntryBytes still reaches the client and is not stored', async () => {
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { cache: { maxEntryBytes: 1000 } });
    up.route(EMBED, { json: FLOAT });
    const first = await g.handle(embedReq());
    expect(first.status).toBe(200);
    expect(first.body).toEqual(FLOAT);
    expect((await g.handle(embedReq())).headers['x-llmux-cache']).toBe('MISS');
    expect(embedCalls()).toBe(2);
  });

  it('max_age: an entry older than max_age is a miss', async () => {
    let t = 1_000_000;
    const { g } = gateway({ cache: { mode: 'simple', max_age: 60 }, targets: [openaiTarget()] }, { cache: { now: () => t } });
    up.route(EMBED, { json: FLOAT });
    await g.handle(embedReq());
    t += 30_000;
    expect((await g.handle(embedReq())).headers['x-llmux-cache']).toBe('HIT');
    t += 31_000;
    expect((await g.handle(embedReq())).headers['x-llmux-cache']).toBe('MISS');
  });

  it('a chat entry under an embeddings key is a miss, and an embeddings entry never answers a chat', async () => {
    const store = spyStore();
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { cache: { store } });
    up.route(EMBED, { json: FLOAT });
    up.route(CHAT, { json: CHAT_ANSWER });
    await g.handle(embedReq());
    const [embedKey] = [...store.values.keys()];
    const chatEntry = JSON.stringify({ v: 1, createdAt: Date.now(), kind: 'completion', completion: CHAT_ANSWER });
    store.values.set(embedKey!, chatEntry);
    const res = await g.handle(embedReq());
    expect(res.status).toBe(200);
    expect(res.headers['x-llmux-cache']).toBe('MISS');
    expect(res.body).toEqual(FLOAT);
    // and the reverse
    await g.handle(chatReq());
    const chatKey = [...store.values.keys()].find((k) => k !== embedKey)!;
    store.values.set(chatKey, store.values.get(embedKey!)!);
    const chat = await g.handle(chatReq());
    expect(chat.status).toBe(200);
    expect(chat.headers['x-llmux-cache']).toBe('MISS');
  });
});

describe('callers, adapters, SDKs, stores', () => {
  it('gateway keys are separate scopes; shared: true pools them', async () => {
    const auth = { keys: [{ key: 'llmux-key-a-0123456789abcdef', name: 'a' }, { key: 'llmux-key-b-0123456789abcdef', name: 'b' }] };
    up.route(EMBED, { json: FLOAT });
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { auth } as never);
    const a = { authorization: 'Bearer llmux-key-a-0123456789abcdef' };
    const b = { 'x-portkey-api-key': 'llmux-key-b-0123456789abcdef' };
    expect((await g.handle(embedReq({}, a))).headers['x-llmux-cache']).toBe('MISS');
    expect((await g.handle(embedReq({}, b))).headers['x-llmux-cache']).toBe('MISS');
    expect((await g.handle(embedReq({}, a))).headers['x-llmux-cache']).toBe('HIT');
    const { g: shared } = gateway({ cache: { mode: 'simple', shared: true }, targets: [openaiTarget()] }, { auth } as never);
    await shared.handle(embedReq({}, a));
    expect((await shared.handle(embedReq({}, b))).headers['x-llmux-cache']).toBe('HIT');
  });

  it('request-level configs: their own api_key makes their own entries', async () => {
    up.route(EMBED, { json: FLOAT });
    const { g } = gateway({ targets: [openaiTarget()] }, { allowRequestConfig: true, allowedHosts: ['127.0.0.1'] } as never);
    const cfg = (key: string) => ({ 'x-llmux-config': JSON.stringify({ cache: { mode: 'simple' }, targets: [{ provider: 'openai', api_key: key, custom_host: `${up.url}/v1` }] }) });
    expect((await g.handle(embedReq({}, cfg('sk-one')))).headers['x-llmux-cache']).toBe('MISS');
    expect((await g.handle(embedReq({}, cfg('sk-two')))).headers['x-llmux-cache']).toBe('MISS');
    expect((await g.handle(embedReq({}, cfg('sk-one')))).headers['x-llmux-cache']).toBe('HIT');
    // x-portkey-provider with the client's own Authorization as the provider key
    const prov = (key: string) => ({ 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${up.url}/v1`, authorization: `Bearer ${key}` });
    const { g: g2 } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { allowRequestConfig: true, allowedHosts: ['127.0.0.1'] } as never);
    const p1 = await g2.handle(embedReq({}, prov('sk-p1')));
    const p2 = await g2.handle(embedReq({}, prov('sk-p2')));
    expect([p1.headers['x-llmux-cache'], p2.headers['x-llmux-cache']]).not.toContain('HIT');
  });

  for (const name of ['koa3', 'koa2', 'nestjs', 'express4']) {
    it(`${name}: openai SDK (default base64 encoding) gets the same vectors from a hit`, async () => {
      const BASE64 = fixtureJson('openai/embeddings.base64.json');
      up.route(EMBED, (req) => ({ json: req.json.encoding_format === 'base64' ? BASE64 : FLOAT }));
      const app = await appFactories[name]!({ config: { cache: { mode: 'simple' }, targets: [openaiTarget()] } as never, env: {} } as never);
      try {
        const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
        const first = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).withResponse();
        const second = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'x' }).withResponse();
        expect(second.response.headers.get('x-llmux-cache')).toBe('HIT');
        expect(second.response.headers.get('x-llmux-provider')).toBe('openai');
        expect(second.data.data[0]!.embedding).toEqual(first.data.data[0]!.embedding);
        expect(embedCalls()).toBe(1);
      } finally {
        await app.close();
      }
    });
  }

  it('portkey-ai SDK: a repeated embeddings request is a hit', async () => {
    const { Portkey } = await import('portkey-ai');
    up.route(EMBED, { json: FLOAT });
    const app = await appFactories.express5!({ config: { cache: { mode: 'simple' }, targets: [openaiTarget()] } as never, env: {} } as never);
    try {
      const pk = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 } as never);
      const a = (await pk.embeddings.create({ model: 'text-embedding-3-small', input: 'x', encoding_format: 'float' } as never)) as any;
      const b = (await pk.embeddings.create({ model: 'text-embedding-3-small', input: 'x', encoding_format: 'float' } as never)) as any;
      expect(b.getHeaders()['cache-status']).toBe('HIT');
      expect(b.data[0].embedding).toEqual(a.data[0].embedding);
      expect(embedCalls()).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('Redis: an entry written by one instance is a hit on another, with the provider named', async () => {
    const prefix = `llmux-review-embed:${process.pid}:${Date.now()}:`;
    const sa = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix });
    const sb = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix });
    up.route(EMBED, { json: FLOAT });
    const { g: a } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { store: sa } as never);
    const { g: b } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { store: sb } as never);
    try {
      await a.handle(embedReq());
      const hit = await b.handle(embedReq());
      expect(hit.headers['x-llmux-cache']).toBe('HIT');
      expect(hit.body).toEqual(FLOAT);
    } finally {
      await a.close(100);
      await b.close(100);
      await sa.close();
      await sb.close();
    }
  });
});

describe('bugs', () => {
  // The exact path refuses an entry of the other kind ("a foreign value"); the semantic path serves
  // whatever entry its match names. An embeddings entry reached that way makes pipeline/chat.ts throw
  // internal_error: a 500 where a miss was due.
  // Regression: the semantic path served whatever entry its match named; a chat got a 500.
  it('semantic mode: a match whose entry is an embeddings entry is a miss, not a 500', async () => {
    const store = spyStore();
    const planted = 'planted-foreign-id';
    store.values.set(planted, JSON.stringify({ v: 1, createdAt: Date.now(), kind: 'embeddings', embeddings: FLOAT, provider: 'openai' }));
    store.cacheIndexSearch = async () => ({ id: planted, score: 0.99 });
    up.route(EMBED, { json: FLOAT });
    up.route(CHAT, { json: CHAT_ANSWER });
    const { g } = gateway(
      { cache: { mode: 'semantic', embedding: { provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1` } }, targets: [openaiTarget()] },
      { cache: { store }, allowedHosts: ['127.0.0.1'] } as never,
    );
    const res = await g.handle(chatReq());
    expect(res.status).toBe(200);
    expect(res.headers['x-llmux-cache']).toBe('MISS');
    expect((res.body as any).choices[0].message.content).toBe(CHAT_ANSWER.choices[0].message.content);
  });

  // A chat answer is stored only with choices (cache-stage.ts save: `completion?.choices?.length`), a
  // stream only when complete; any embeddings answer with a `data` array is stored. A 200 with fewer
  // vectors than inputs (or an empty vector: google/embeddings.ts maps a missing `values` to []) is
  // then replayed for max_age (7 days by default) instead of being asked again.
  // Regression: any 200 embeddings answer was stored, a short one pinned for max_age.
  it('an answer with fewer vectors than inputs is not stored', async () => {
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] });
    let calls = 0;
    up.route(EMBED, (req) => {
      calls++;
      const n = calls === 1 ? 1 : req.json.input.length; // first answer: short by one
      return { json: { object: 'list', model: 'text-embedding-3-small', data: Array.from({ length: n }, (_, index) => ({ object: 'embedding', index, embedding: [0.1, 0.2] })), usage: { prompt_tokens: 2, total_tokens: 2 } } };
    });
    const body = { input: ['first', 'second'] };
    const short = await g.handle(embedReq(body));
    expect((short.body as any).data).toHaveLength(1);
    const again = await g.handle(embedReq(body));
    expect(again.headers['x-llmux-cache']).toBe('MISS');
    expect((again.body as any).data).toHaveLength(2);
  });

  // cache-stage.ts lookupFor: `includeApiKeys: state.plan !== gw.plans.serverPlan`. A gateway key with
  // its own budget or rate limit gets a derived plan (auth/key-plan.ts planForKey), so the server's own
  // provider keys enter its cache keys as if its config came from the client: `shared: true` no longer
  // pools its entries with other callers' (and rotating the server's provider key empties its cache).
  // Regression: a gateway key's copy of the server plan counted as a client plan (provider keys in the cache key).
  it('shared: true pools entries between a gateway key with its own rate limit and one without', async () => {
    const auth = {
      keys: [
        { key: 'llmux-key-plain-0123456789ab', name: 'plain' },
        { key: 'llmux-key-limited-0123456789', name: 'limited', rate_limit: { requests_per_minute: 100 } },
      ],
    };
    up.route(EMBED, { json: FLOAT });
    const { g } = gateway({ cache: { mode: 'simple', shared: true }, targets: [openaiTarget()] }, { auth } as never);
    expect((await g.handle(embedReq({}, { authorization: 'Bearer llmux-key-plain-0123456789ab' }))).headers['x-llmux-cache']).toBe('MISS');
    const limited = await g.handle(embedReq({}, { authorization: 'Bearer llmux-key-limited-0123456789' }));
    expect(limited.status).toBe(200);
    expect(limited.headers['x-llmux-cache']).toBe('HIT');
    expect(embedCalls()).toBe(1);
  });

  // entry.ts decodeEntry promises "a foreign or corrupt value is a miss", but an embeddings entry
  // passes on `Array.isArray(data)` alone: items that are not embedding objects are served as a 200.
  // Regression: an entry whose items were not embeddings was served.
  it('a corrupt embeddings entry (data items that are not embeddings) is a miss', async () => {
    const store = spyStore();
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()] }, { cache: { store } });
    up.route(EMBED, { json: FLOAT });
    await g.handle(embedReq());
    const [key] = [...store.values.keys()];
    store.values.set(key!, JSON.stringify({ v: 1, createdAt: Date.now(), kind: 'embeddings', embeddings: { object: 'list', data: [null, 'x'] } }));
    const res = await g.handle(embedReq());
    expect(res.headers['x-llmux-cache']).toBe('MISS');
    expect(res.body).toEqual(FLOAT);
  });
});

describe('limits on hits', () => {
  it('token rate limit and token budget: hits settle at 0 tokens and stay admitted', async () => {
    up.route(EMBED, { json: FLOAT });
    const { g } = gateway({ cache: { mode: 'simple' }, targets: [openaiTarget()], rate_limit: { tokens_per_minute: 60 }, budget: { max_tokens_per_day: 60 } });
    // each request reserves ~22 tokens (the input's UTF-8 length); a miss settles 1 (its usage)
    for (let i = 0; i < 10; i++) expect((await g.handle(embedReq())).status).toBe(200);
    expect(embedCalls()).toBe(1);
  });
});
