import type { GatewayStore } from '@llmux/core';
import { createClient, type RedisClientType } from 'redis';
import { redisBreaker } from './breaker.js';
import { redisCache, type RedisCacheOptions } from './cache.js';

/** Options for the Redis-backed store shared by several gateway instances. */
export interface RedisStoreOptions {
  /** Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key, so several gateways (or tests) can share one Redis. Default `llmux:`. */
  prefix?: string;
  /** An already-connected client to use instead of `url` (not closed by `close()`). */
  client?: RedisClientType;
  /** Bounds of the shared response cache and semantic index. */
  cache?: RedisCacheOptions;
}

export interface RedisStore extends GatewayStore {
  readonly client: RedisClientType;
  /** Resolves once connected; every operation waits for it. */
  readonly ready: Promise<void>;
}

/** Shared state on Redis: each part (limits, breaker, cache) lives in its own file and is spread in here. */
export function createRedisStore(options: RedisStoreOptions = {}): RedisStore {
  const prefix = options.prefix ?? 'llmux:';
  const owned = !options.client;
  const client = (options.client ?? createClient({ url: options.url ?? 'redis://127.0.0.1:6379' })) as RedisClientType;
  client.on('error', () => {
    // Connection errors surface on each command (and go through each part's fail-open/closed policy).
  });
  const ready = client.isOpen ? Promise.resolve() : client.connect().then(() => undefined);
  ready.catch(() => undefined);
  void prefix;
  return {
    kind: 'redis',
    ...redisBreaker(client, prefix, ready),
    ...redisCache(client, prefix, ready, options.cache),
    client,
    ready,
    async close() {
      if (owned && client.isOpen) await client.quit();
    },
  };
}
