import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import OpenAI from 'openai';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SqliteKeyvStore, type CacheStore, type GatewayConfig } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { fixtureJson } from './helpers/fixtures.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';

const TEXT = fixtureJson('openai/chat-completions.text.json');
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/embeddings', topicEmbeddings);
  upstream.route('/v1/chat/completions', { json: TEXT });
});

const chatCalls = () => upstream.requests.filter((r) => r.path.startsWith('/v1/chat/completions')).length;
const config = (mode: 'simple' | 'semantic'): GatewayConfig =>
  ({ cache: { mode }, targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${upstream.url}/v1` }] }) as GatewayConfig;

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function start(options: AppOptions) {
  const app = await appFactories.express5!(options);
  apps.push(app);
  const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  return {
    app,
    ask: async (content: string, headers: Record<string, string> = {}) => {
      const res = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content }] }, { headers }).withResponse();
      return { status: res.response.headers.get('x-llmux-cache'), content: res.data.choices[0]!.message.content, http: res.response.status };
    },
  };
}

const randomPrefix = () => `llmux-test:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;

async function dropKeys(prefix: string): Promise<void> {
  const redis = createClient();
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length) await redis.del(keys);
  await redis.quit();
}

describe('cache shared by two gateway instances on Redis', () => {
  const prefixes: string[] = [];
  afterAll(async () => {
    for (const p of prefixes) await dropKeys(p);
  });

  it('an answer cached by one instance is a hit on the other, exact and semantic (createRedisStore)', async () => {
    const prefix = randomPrefix();
    prefixes.push(prefix);
    const a = await start({ config: config('semantic'), store: createRedisStore({ prefix }) });
    const b = await start({ config: config('semantic'), store: createRedisStore({ prefix }) });
    expect((await a.ask('What is Python?')).status).toBe('MISS');
    expect((await b.ask('What is Python?')).status).toBe('HIT');
    expect((await b.ask('Tell me about Python')).status).toBe('SEMANTIC_HIT');
    // B learns a new prompt; A finds it by similarity through the shared index.
    expect((await b.ask('Tell me about the weather')).status).toBe('MISS');
    expect((await a.ask('How is the weather?')).status).toBe('SEMANTIC_HIT');
    expect((await a.ask('What is Java?')).status).toBe('MISS');
    expect(chatCalls()).toBe(3);
  });

  it('works the same on any Keyv store, here @keyv/redis', async () => {
    const namespace = randomPrefix();
    prefixes.push(namespace);
    const keyvs = [new Keyv(new KeyvRedis('redis://127.0.0.1:6379'), { namespace }), new Keyv(new KeyvRedis('redis://127.0.0.1:6379'), { namespace })];
    try {
      const a = await start({ config: config('semantic'), cache: { store: keyvs[0] } });
      const b = await start({ config: config('semantic'), cache: { store: keyvs[1] } });
      expect((await a.ask('What is Python?')).status).toBe('MISS');
      expect((await b.ask('What is Python?')).status).toBe('HIT');
      expect((await b.ask('Tell me about Python')).status).toBe('SEMANTIC_HIT');
      expect(chatCalls()).toBe(1);
    } finally {
      await Promise.all(keyvs.map((k) => k.disconnect()));
    }
  });
});

describe('cache in an SQLite file through Keyv', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llmux-cache-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('survives a gateway restart', async () => {
    const file = join(dir, 'cache.db');
    const first = new Database(file);
    const one = await start({ config: config('semantic'), cache: { store: new Keyv({ store: new SqliteKeyvStore(first) }) } });
    expect((await one.ask('What is Python?')).status).toBe('MISS');
    expect((await one.ask('What is Python?')).status).toBe('HIT');
    await apps.pop()!.close();
    first.close();

    const second = new Database(file);
    try {
      const two = await start({ config: config('semantic'), cache: { store: new Keyv({ store: new SqliteKeyvStore(second) }) } });
      const exact = await two.ask('What is Python?');
      expect(exact.status).toBe('HIT');
      expect(exact.content).toBe(TEXT.choices[0].message.content);
      expect((await two.ask('Tell me about Python')).status).toBe('SEMANTIC_HIT');
      expect(chatCalls()).toBe(1);
      await apps.pop()!.close();
    } finally {
      second.close();
    }
  });
});

describe('a broken cache store never breaks a request', () => {
  const hanging: CacheStore = {
    cacheGet: () => new Promise(() => undefined),
    cacheSet: () => new Promise(() => undefined),
    cacheDelete: () => new Promise(() => undefined),
    cacheIndexAdd: () => new Promise(() => undefined),
    cacheIndexSearch: () => new Promise(() => undefined),
    cacheIndexDelete: () => new Promise(() => undefined),
  };
  const failing: CacheStore = {
    cacheGet: async () => {
      throw new Error('store down');
    },
    cacheSet: async () => {
      throw new Error('store down');
    },
    cacheDelete: async () => undefined,
    cacheIndexAdd: async () => {
      throw new Error('store down');
    },
    cacheIndexSearch: async () => {
      throw new Error('store down');
    },
    cacheIndexDelete: async () => undefined,
  };

  // An in-process store is run without a timer per operation; its failures still read as misses.
  const failingInProcess: CacheStore = { ...failing, inProcess: true };

  for (const [name, store] of [['hangs', hanging], ['throws', failing], ['says it is in-process and throws', failingInProcess]] as const) {
    it(`answers as a miss when the store ${name}`, async () => {
      const gw = await start({ config: config('semantic'), cache: { store, timeoutMs: 50 } });
      const first = await gw.ask('What is Python?');
      expect(first).toMatchObject({ http: 200, status: 'MISS', content: TEXT.choices[0].message.content });
      expect((await gw.ask('Tell me about Python')).status).toBe('MISS');
      expect(chatCalls()).toBe(2);
    });
  }

  it('answers as a miss when Redis cannot be reached', async () => {
    const gw = await start({ config: config('simple'), store: createRedisStore({ url: 'redis://127.0.0.1:1', prefix: randomPrefix(), connectTimeout: 100 }) });
    expect(await gw.ask('What is Python?')).toMatchObject({ http: 200, status: 'MISS' });
    expect((await gw.ask('What is Python?')).status).toBe('MISS');
  });
});
