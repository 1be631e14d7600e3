/**
 * The response cache answers repeated embeddings requests too (exact match, as Portkey's simple cache
 * does for every route): a hit never calls the upstream, costs nothing against a budget, names the
 * provider that made the answer, and never crosses callers, encodings, dimensions or the chat route.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { fixtureJson } from './helpers/fixtures.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const FLOAT = fixtureJson('openai/embeddings.float.json');
const BASE64 = fixtureJson('openai/embeddings.base64.json');
const EMBED = '/v1/embeddings';
const CHAT = '/v1/chat/completions';
const embedCalls = () => upstream.requests.filter((r) => r.path.startsWith(EMBED)).length;

function config(cache: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): GatewayConfig {
  return {
    ...(cache ? { cache } : {}),
    targets: [{ provider: 'openai', api_key: 'sk-test-upstream', custom_host: `${upstream.url}/v1` }],
    ...extra,
  } as GatewayConfig;
}

describe('embeddings through the response cache (express5, openai SDK)', () => {
  let app: TestApp | undefined;
  let records: Array<Record<string, any>>;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(options: AppOptions): Promise<OpenAI> {
    records = [];
    app = await appFactories.express5!({ onLog: (r) => void records.push(r as never), ...options });
    return new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  }

  const embed = (client: OpenAI, input: string | string[] = 'The food was delicious', extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    client.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'float', ...extra } as never, { headers }).withResponse();

  it('a repeated request is answered from the cache: one upstream call, the same vectors, HIT with the provider named', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.route(EMBED, { json: FLOAT });
    const first = await embed(client);
    const second = await embed(client);
    expect(embedCalls()).toBe(1);
    expect(first.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(second.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(second.response.headers.get('x-portkey-cache-status')).toBe('HIT');
    expect(second.response.headers.get('x-llmux-provider')).toBe('openai');
    expect(second.response.headers.get('x-llmux-target')).toBe('config.targets[0]');
    expect(second.response.headers.get('x-llmux-cost')).toBe('0');
    expect(second.data.data.map((d) => d.embedding)).toEqual(first.data.data.map((d) => d.embedding));
    expect(second.data.usage).toEqual(first.data.usage);
    expect(records.map((r) => r.cache.status)).toEqual(['MISS', 'HIT']);
  });

  it('another input, encoding, dimension count or caller is another entry', async () => {
    const client = await start({ config: config({ mode: 'simple' }), identify: (req: any) => ({ user: req.headers['x-user'] }) });
    upstream.route(EMBED, (req) => ({ json: req.json.encoding_format === 'base64' ? BASE64 : FLOAT }));
    await embed(client, 'a', {}, { 'x-user': 'alice' });
    await embed(client, 'b', {}, { 'x-user': 'alice' });
    await embed(client, 'a', { encoding_format: 'base64' }, { 'x-user': 'alice' });
    await embed(client, 'a', { dimensions: 256 }, { 'x-user': 'alice' });
    const bob = await embed(client, 'a', {}, { 'x-user': 'bob' });
    expect(embedCalls()).toBe(5);
    expect(bob.response.headers.get('x-llmux-cache')).toBe('MISS');
    // …and each of them is a hit the second time.
    const again = await embed(client, 'a', { encoding_format: 'base64' }, { 'x-user': 'alice' });
    expect(again.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(embedCalls()).toBe(5);
  });

  it('a forced refresh calls the upstream again and stores the new answer', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.route(EMBED, { json: FLOAT });
    await embed(client);
    const refreshed = await embed(client, undefined, {}, { 'x-llmux-cache-force-refresh': 'true' });
    expect(refreshed.response.headers.get('x-llmux-cache')).toBe('REFRESH');
    expect(embedCalls()).toBe(2);
    expect((await embed(client)).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(embedCalls()).toBe(2);
  });

  it('a failed upstream call is not stored; without a cache config nothing is cached', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.enqueue(EMBED, { status: 500, json: { error: { message: 'boom' } } });
    upstream.route(EMBED, { json: FLOAT });
    await expect(embed(client)).rejects.toThrow();
    expect((await embed(client)).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(embedCalls()).toBe(2);
    await app!.close();
    app = undefined;
    const plain = await start({ config: config(undefined) });
    await embed(plain);
    const second = await embed(plain);
    expect(second.response.headers.get('x-llmux-cache')).toBe('DISABLED');
    expect(embedCalls()).toBe(4);
  });

  it('semantic mode still answers embeddings by exact match, and a chat never gets an embeddings answer', async () => {
    const client = await start({ config: config({ mode: 'semantic', embedding: { provider: 'openai', api_key: 'sk-test-upstream', custom_host: `${upstream.url}/v1` } }) });
    upstream.route(EMBED, { json: FLOAT });
    upstream.route(CHAT, { json: fixtureJson('openai/chat-completions.text.json') });
    await embed(client);
    const hit = await embed(client);
    expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
    const chat = await client.chat.completions.create({ model: 'text-embedding-3-small', messages: [{ role: 'user', content: 'The food was delicious' }] }).withResponse();
    // A miss, not any kind of hit: the semantic index names chat entries only, and the embeddings
    // entry's key is kept apart from the chat's. The answer is the upstream's chat completion.
    expect(chat.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(upstream.requests.filter((r) => r.path.startsWith(CHAT))).toHaveLength(1);
    expect(chat.data.choices[0]!.message.content).toBe(fixtureJson('openai/chat-completions.text.json').choices[0].message.content);
  });

  it('a hit is not charged to a budget: the usage view shows only the first call spent', async () => {
    const client = await start({
      config: config({ mode: 'simple' }, { budget: [{ max_cost_per_day: 10 }, { max_tokens_per_day: 1000 }] }),
      pricing: { 'text-embedding-3-small': { input: 20, output: 0 } },
      adminKey: 'admin-k',
    } as never);
    upstream.route(EMBED, { json: FLOAT }); // usage: 1 token
    const miss = await embed(client);
    for (let i = 0; i < 3; i++) expect((await embed(client)).response.headers.get('x-llmux-cost')).toBe('0');
    const cost = Number(miss.response.headers.get('x-llmux-cost'));
    expect(cost).toBeGreaterThan(0);
    expect(records.map((r) => r.cost_usd)).toEqual([cost, 0, 0, 0]);
    // What a hit saved is the first call's cost.
    expect(records[1]!.cache).toMatchObject({ status: 'HIT', saved_cost_usd: cost });
    const report = (await (await fetch(`${app!.gatewayURL}/usage`, { headers: { 'x-llmux-admin-key': 'admin-k' } })).json()) as { budgets: Array<Record<string, unknown>> };
    expect(report.budgets).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ metric: 'tokens', spent: 1, reserved: 0 }),
        expect.objectContaining({ metric: 'cost', spent: cost, reserved: 0 }),
      ]),
    );
  });

  it('on Redis, a second gateway instance gets the first one’s entry', async () => {
    const prefix = `llmux-test-embed-cache:${Date.now()}:`;
    const storeA = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix });
    const storeB = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix });
    const a = await appFactories.express5!({ config: config({ mode: 'simple' }), store: storeA } as never);
    const b = await appFactories.express5!({ config: config({ mode: 'simple' }), store: storeB } as never);
    try {
      upstream.route(EMBED, { json: FLOAT });
      const clientA = new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const clientB = new OpenAI({ baseURL: `${b.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      await embed(clientA);
      const fromB = await embed(clientB);
      expect(fromB.response.headers.get('x-llmux-cache')).toBe('HIT');
      expect(embedCalls()).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
