import type { CacheStore } from '../store/cache-store.js';
import { decodeVector, encodeVector } from './vector-codec.js';
import { VectorIndex } from './vector-index.js';

/** The part of Keyv the cache uses; any Keyv instance fits (recognised by shape, not `instanceof`). */
export interface KeyvLike {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttl?: number): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  getMany?(keys: string[]): Promise<unknown[]>;
}

const fn = (v: unknown, name: string) => typeof (v as Record<string, unknown> | null)?.[name] === 'function';

export function isCacheStore(v: unknown): v is CacheStore {
  return ['cacheGet', 'cacheSet', 'cacheDelete', 'cacheIndexAdd', 'cacheIndexSearch', 'cacheIndexDelete'].every((name) => fn(v, name));
}

export function isKeyv(v: unknown): v is KeyvLike {
  return typeof v === 'object' && v !== null && fn(v, 'get') && fn(v, 'set') && fn(v, 'delete') && !isCacheStore(v);
}

export interface KeyvCacheOptions {
  /** Vectors kept in this process's copy of the semantic index. Default 10000. */
  maxVectors?: number;
  /** Most vectors one partition keeps in the Keyv store; older ones are forgotten. Default 1000. */
  maxPerPartition?: number;
  /** How often a partition's vector list is re-read, so entries other instances added are seen, ms. Default 1000. */
  syncIntervalMs?: number;
}

/**
 * A partition's ids with the expiry of its longest-lived vector: the list is re-set on every add, and
 * taking that add's TTL would let a short `max_age` entry expire the list under longer-lived ones.
 */
interface StoredList {
  ids: string[];
  /** expires at, ms since the epoch */
  x: number;
}

/** A stored list; a bare array is the form earlier versions wrote (its expiry unknown, so 0). */
function readList(value: unknown): StoredList {
  const list = Array.isArray(value) ? { ids: value, x: 0 } : (value as Partial<StoredList> | undefined);
  const ids = Array.isArray(list?.ids) ? list.ids.filter((id): id is string => typeof id === 'string') : [];
  return { ids, x: typeof list?.x === 'number' ? list.x : 0 };
}

interface StoredVector {
  /** base64 little-endian float32 */
  v: string;
  /** expires at, ms since the epoch */
  x: number;
}

/**
 * A `CacheStore` over any Keyv: entries under `llmux:e:<key>`; for the semantic index each vector
 * under `llmux:v:<id>` and each partition's list of ids under `llmux:p:<partition>`. Searches run in
 * a local `VectorIndex` that loads a partition's vectors on first use and picks up other instances'
 * additions every `syncIntervalMs`. The list expires with its longest-lived vector. The id list is read-modify-write: two instances adding to one
 * partition at once may drop an id, so that entry is found only by exact match — a miss, never a
 * wrong answer.
 */
export function keyvCacheStore(keyv: KeyvLike, options: KeyvCacheOptions = {}): CacheStore {
  const index = new VectorIndex({ maxEntries: options.maxVectors ?? 10_000 });
  const maxPerPartition = options.maxPerPartition ?? 1000;
  const syncInterval = options.syncIntervalMs ?? 1000;
  const syncedAt = new Map<string, number>();

  async function getMany(keys: string[]): Promise<unknown[]> {
    if (keys.length === 0) return [];
    if (keyv.getMany) return keyv.getMany(keys);
    return Promise.all(keys.map((k) => keyv.get(k)));
  }

  async function sync(partition: string): Promise<void> {
    const last = syncedAt.get(partition);
    if (last !== undefined && Date.now() - last < syncInterval) return;
    syncedAt.delete(partition);
    syncedAt.set(partition, Date.now());
    // Bounded like the index: forget the oldest partitions' sync times first.
    if (syncedAt.size > 10_000) syncedAt.delete(syncedAt.keys().next().value as string);
    const { ids } = readList(await keyv.get(`llmux:p:${partition}`));
    const missing = ids.filter((id) => !index.has(id));
    const values = await getMany(missing.map((id) => `llmux:v:${id}`));
    const now = Date.now();
    values.forEach((value, i) => {
      const stored = value as StoredVector | undefined;
      if (!stored || typeof stored.v !== 'string' || !(stored.x > now)) return;
      const vector = decodeVector(stored.v);
      if (vector) index.add(partition, missing[i]!, vector, stored.x);
    });
  }

  return {
    async cacheGet(key) {
      const value = await keyv.get(`llmux:e:${key}`);
      return typeof value === 'string' ? value : undefined;
    },
    async cacheSet(key, value, ttlMs) {
      await keyv.set(`llmux:e:${key}`, value, ttlMs);
    },
    async cacheDelete(key) {
      await keyv.delete(`llmux:e:${key}`);
    },
    async cacheIndexAdd(partition, id, vector, ttlMs) {
      const expires = Date.now() + ttlMs;
      index.add(partition, id, vector, expires);
      await keyv.set(`llmux:v:${id}`, { v: encodeVector(vector), x: expires } satisfies StoredVector, ttlMs);
      const listed = readList(await keyv.get(`llmux:p:${partition}`));
      const ids = listed.ids.filter((x) => x !== id);
      ids.push(id);
      // The list lives as long as its longest-lived vector (as the Redis store's stream does).
      const x = Math.max(listed.x, expires);
      await keyv.set(`llmux:p:${partition}`, { ids: ids.slice(-maxPerPartition), x } satisfies StoredList, Math.max(1, x - Date.now()));
    },
    async cacheIndexSearch(partition, vector, minScore) {
      await sync(partition);
      return index.search(partition, vector, minScore);
    },
    async cacheIndexDelete(_partition, id) {
      index.delete(id);
      await keyv.delete(`llmux:v:${id}`);
    },
  };
}

/** The cache store for an option value: a `CacheStore` as is, a Keyv wrapped. */
export function toCacheStore(value: CacheStore | KeyvLike): CacheStore {
  return isCacheStore(value) ? value : keyvCacheStore(value);
}
