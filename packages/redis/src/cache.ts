import { VectorIndex, decodeVector, encodeVector, type CacheStore } from '@llmux/core';
import type { RedisClientType } from 'redis';

/** Bounds of the Redis cache part. */
export interface RedisCacheOptions {
  /** Vectors this instance keeps in its local copy of the semantic index. Default 10000. */
  maxVectors?: number;
  /** Vectors one partition keeps in Redis (its stream is trimmed, approximately, to this). Default 10000. */
  maxPerPartition?: number;
  /** Most vectors one search reads from Redis (an instance catching up on a large partition). Default 5000. */
  maxSyncPerSearch?: number;
}

const PAGE = 500;

/**
 * Cache entries as plain strings with a TTL (`<prefix>cache:e:<key>`), and a semantic index every
 * instance shares: each partition is a Redis stream of `{ id, v: base64 float32, x: expires }`
 * (`<prefix>cache:v:<partition>`). Redis 7.0 has no vector search, and scanning a partition's vectors
 * over the network on every lookup would move megabytes, so each instance keeps a local `VectorIndex`
 * and, before searching a partition, reads only the stream entries added since its last read (one
 * XRANGE from its cursor; usually empty). Streams live as long as their newest vector and are trimmed
 * to `maxPerPartition`; a catch-up read is capped at `maxSyncPerSearch`.
 */
export function redisCache(client: RedisClientType, prefix: string, ready: Promise<void>, options: RedisCacheOptions = {}): CacheStore {
  const index = new VectorIndex({ maxEntries: options.maxVectors ?? 10_000 });
  const maxPerPartition = options.maxPerPartition ?? 10_000;
  const maxSync = options.maxSyncPerSearch ?? 5000;
  /** partition → id of the last stream entry read; oldest partitions forgotten first. */
  const cursors = new Map<string, string>();
  const entryKey = (key: string) => `${prefix}cache:e:${key}`;
  const streamKey = (partition: string) => `${prefix}cache:v:${partition}`;

  async function sync(partition: string): Promise<void> {
    let cursor = cursors.get(partition);
    let read = 0;
    while (read < maxSync) {
      const entries = await client.xRange(streamKey(partition), cursor ? `(${cursor}` : '-', '+', { COUNT: Math.min(PAGE, maxSync - read) });
      const now = Date.now();
      for (const { id: streamId, message } of entries) {
        cursor = streamId;
        const expires = Number(message.x);
        const vector = typeof message.v === 'string' ? decodeVector(message.v) : undefined;
        if (typeof message.id === 'string' && vector && expires > now) index.add(partition, message.id, vector, expires);
      }
      read += entries.length;
      if (entries.length < PAGE) break;
    }
    if (cursor === undefined) return;
    cursors.delete(partition);
    cursors.set(partition, cursor);
    if (cursors.size > 10_000) cursors.delete(cursors.keys().next().value as string);
  }

  return {
    async cacheGet(key) {
      await ready;
      return (await client.get(entryKey(key))) ?? undefined;
    },
    async cacheSet(key, value, ttlMs) {
      await ready;
      await client.set(entryKey(key), value, { PX: Math.max(1, Math.round(ttlMs)) });
    },
    async cacheDelete(key) {
      await ready;
      await client.del(entryKey(key));
    },
    async cacheIndexAdd(partition, id, vector, ttlMs) {
      await ready;
      const ttl = Math.max(1, Math.round(ttlMs));
      const expires = Date.now() + ttl;
      index.add(partition, id, vector, expires);
      const key = streamKey(partition);
      // NX sets the first TTL, GT only ever extends it: the stream outlives its newest vector.
      await client
        .multi()
        .xAdd(key, '*', { id, v: encodeVector(vector), x: String(expires) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxPerPartition } })
        .pExpire(key, ttl, 'NX')
        .pExpire(key, ttl, 'GT')
        .exec();
    },
    async cacheIndexSearch(partition, vector, minScore) {
      await ready;
      await sync(partition);
      return index.search(partition, vector, minScore);
    },
    async cacheIndexDelete(_partition, id) {
      // Only this instance's copy: the others drop it the same way when they find its entry gone.
      index.delete(id);
    },
  };
}
