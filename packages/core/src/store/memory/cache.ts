import { LRUCache } from 'lru-cache';
import { VectorIndex } from '../../cache/vector-index.js';
import type { CacheStore } from '../cache-store.js';

/** Bounds of the in-process response cache. */
export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used go first. Default 10000. */
  maxEntries?: number;
  /** Most bytes of entries kept (UTF-16 size of their text). Default 64 MiB. */
  maxBytes?: number;
  /** Most vectors in the semantic index; the oldest go first. Default 10000 (≈ 60 MB at 1536 dims). */
  maxVectors?: number;
}

/** The cache part of the memory store: an LRU of entries bounded by count and bytes, and a vector index. */
export function createMemoryCache(options: MemoryCacheOptions = {}): CacheStore {
  const index = new VectorIndex({ maxEntries: options.maxVectors ?? 10_000 });
  const entries = new LRUCache<string, string>({
    max: options.maxEntries ?? 10_000,
    maxSize: options.maxBytes ?? 64 * 1024 * 1024,
    sizeCalculation: (value, key) => (value.length + key.length) * 2,
    // An evicted or expired entry takes its vector along, so the index never points at nothing.
    dispose: (_value, key, reason) => {
      if (reason !== 'set') index.delete(key);
    },
  });
  return {
    inProcess: true,
    async cacheGet(key) {
      return entries.get(key);
    },
    async cacheSet(key, value, ttlMs) {
      // An entry larger than `maxBytes` is simply not kept (lru-cache refuses it): a miss next time.
      entries.set(key, value, { ttl: Math.max(1, Math.round(ttlMs)) });
    },
    async cacheDelete(key) {
      entries.delete(key);
    },
    async cacheIndexAdd(partition, id, vector, ttlMs) {
      index.add(partition, id, vector, Date.now() + ttlMs);
    },
    async cacheIndexSearch(partition, vector, minScore) {
      return index.search(partition, vector, minScore);
    },
    async cacheIndexDelete(_partition, id) {
      index.delete(id);
    },
  };
}
