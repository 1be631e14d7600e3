import Database from 'better-sqlite3';
import KeyvRedis from '@keyv/redis';
import Keyv from 'keyv';
import { createClient } from 'redis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryCache, keyvCacheStore, normalise, SqliteKeyvStore, type CacheStore } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { sleep } from './helpers/mock-upstream.js';

/** One suite, every cache store: what the cache stage relies on, and nothing more. */
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

const prefix = `llmux-conf:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;

/** A store, and (where the backend is shared) a second instance over the same backend, as another process would have. */
interface Subject {
  store: CacheStore;
  twin?: () => CacheStore;
}

const sync = { syncIntervalMs: 0 };
const keyvRedis = () => {
  const keyv = new Keyv(new KeyvRedis('redis://127.0.0.1:6379'), { namespace: `${prefix}keyv` });
  cleanups.push(() => keyv.disconnect());
  return keyv;
};
const redisStore = () => {
  const store = createRedisStore({ prefix: `${prefix}store:` });
  cleanups.push(() => store.close());
  return store;
};

const subjects: Record<string, () => Subject> = {
  memory: () => ({ store: createMemoryCache() }),
  'keyv (Map)': () => {
    const keyv = new Keyv();
    return { store: keyvCacheStore(keyv, sync), twin: () => keyvCacheStore(keyv, sync) };
  },
  'keyv (SqliteKeyvStore)': () => {
    const db = new Database(':memory:');
    cleanups.push(async () => void db.close());
    const keyv = new Keyv({ store: new SqliteKeyvStore(db) });
    return { store: keyvCacheStore(keyv, sync), twin: () => keyvCacheStore(keyv, sync) };
  },
  'keyv (@keyv/redis)': () => ({ store: keyvCacheStore(keyvRedis(), sync), twin: () => keyvCacheStore(keyvRedis(), sync) }),
  redis: () => ({ store: redisStore(), twin: redisStore }),
};

cleanups.push(async () => {
  const redis = createClient();
  await redis.connect();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length) await redis.del(keys);
  await redis.quit();
});

const unit = (...xs: number[]) => normalise(Float32Array.from(xs))!;
let n = 0;
const fresh = (what: string) => `${what}-${++n}-${Math.random().toString(36).slice(2)}`;

for (const [name, make] of Object.entries(subjects)) {
  describe(`CacheStore: ${name}`, () => {
    it('stores, reads and deletes values', async () => {
      const { store } = make();
      const key = fresh('k');
      expect(await store.cacheGet(key)).toBeUndefined();
      await store.cacheSet(key, '{"v":1}', 60_000);
      expect(await store.cacheGet(key)).toBe('{"v":1}');
      await store.cacheSet(key, '{"v":2}', 60_000);
      expect(await store.cacheGet(key)).toBe('{"v":2}');
      await store.cacheDelete(key);
      expect(await store.cacheGet(key)).toBeUndefined();
    });

    it('forgets a value after its ttl', async () => {
      const { store } = make();
      const key = fresh('k');
      await store.cacheSet(key, 'short', 50);
      await sleep(120);
      expect(await store.cacheGet(key)).toBeUndefined();
    });

    it('finds the most similar vector of a partition above the threshold, and only in that partition', async () => {
      const { store } = make();
      const [p, q] = [fresh('p'), fresh('q')];
      await store.cacheIndexAdd(p, 'a', unit(1, 0, 0, 0), 60_000);
      await store.cacheIndexAdd(p, 'b', unit(0.9, 0.1, 0, 0), 60_000);
      await store.cacheIndexAdd(q, 'c', unit(1, 0, 0, 0), 60_000);
      const match = await store.cacheIndexSearch(p, unit(1, 0.02, 0, 0), 0.95);
      expect(match?.id).toBe('a');
      expect(match!.score).toBeGreaterThan(0.99);
      expect(await store.cacheIndexSearch(p, unit(0, 0, 1, 0), 0.5)).toBeUndefined();
      expect(await store.cacheIndexSearch(fresh('empty'), unit(1, 0, 0, 0), 0.5)).toBeUndefined();
      expect((await store.cacheIndexSearch(q, unit(1, 0, 0, 0), 0.95))?.id).toBe('c');
      await store.cacheIndexDelete(p, 'a');
      expect((await store.cacheIndexSearch(p, unit(1, 0.02, 0, 0), 0.95))?.id).toBe('b');
    });

    it('lets vectors expire', async () => {
      const { store } = make();
      const p = fresh('p');
      await store.cacheIndexAdd(p, 'gone', unit(1, 0, 0), 50);
      await sleep(120);
      expect(await store.cacheIndexSearch(p, unit(1, 0, 0), 0.9)).toBeUndefined();
    });

    it('shares the index between two instances over the same backend', async () => {
      const { store: one, twin } = make();
      if (!twin) return; // the memory store is one process's own by design
      const two = twin();
      const p = fresh('p');
      expect(await two.cacheIndexSearch(p, unit(0, 1), 0.9)).toBeUndefined(); // reads the empty partition first
      await one.cacheIndexAdd(p, 'x', unit(0, 1), 60_000);
      expect((await two.cacheIndexSearch(p, unit(0.05, 1), 0.9))?.id).toBe('x');
      await one.cacheSet('x', 'entry', 60_000);
      expect(await two.cacheGet('x')).toBe('entry');
    });
  });
}

