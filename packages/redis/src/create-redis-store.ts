import type { GatewayStore } from '@llmux/core';
import { createClient, type RedisClientType } from 'redis';
import { redisBreaker } from './breaker.js';
import { redisCache, type RedisCacheOptions } from './cache.js';
import { redisLimits, type FailMode } from './limits.js';
import { bounded } from './timeout.js';

/**
 * Any node-redis client, whatever its modules, scripts and RESP version: `createClient({ url })` is
 * typed RESP 2 or 3 by its options, and the bare `RedisClientType` (RESP 2 only) would refuse a
 * user's own client under `strict`. The store's commands read replies that both protocols share.
 */
export type AnyRedisClient = RedisClientType<any, any, any, any, any>;

/** Options for the Redis-backed store shared by several gateway instances. */
export interface RedisStoreOptions {
  /** Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key, so several gateways (or tests) can share one Redis. Default `llmux:`. */
  prefix?: string;
  /** An already-connected client to use instead of `url` (not closed by `close()`). */
  client?: AnyRedisClient;
  /** Bounds of the shared response cache and semantic index. */
  cache?: RedisCacheOptions;
  /**
   * Budgets and rate limits when Redis cannot be reached: `closed` (default) refuses requests with 503
   * — no spend goes uncounted; `open` lets them through unchecked and logs a warning. The cache always
   * fails open (a miss).
   */
  failMode?: FailMode;
  /** ms a command may take before it fails, so a stalled Redis never stalls requests. Default 1000. */
  commandTimeout?: number;
  /** ms to wait for the (re)connection; operations wait at most this long for the first one. Default 2000. */
  connectTimeout?: number;
}

export interface RedisStore extends GatewayStore {
  readonly client: AnyRedisClient;
  /**
   * Resolves once connected, or after `connectTimeout` when Redis cannot be reached yet; every operation
   * waits for it, then fails fast while Redis is down (no offline queue) instead of hanging.
   */
  readonly ready: Promise<void>;
}

/** Shared state on Redis: each part (limits, breaker, cache) lives in its own file and is spread in here. */
export function createRedisStore(options: RedisStoreOptions = {}): RedisStore {
  const prefix = options.prefix ?? 'llmux:';
  const owned = !options.client;
  const connectTimeout = options.connectTimeout ?? 2000;
  const client = (options.client ??
    createClient({
      url: options.url ?? 'redis://127.0.0.1:6379',
      // Commands while disconnected fail at once rather than queue: a request must never wait on a dead Redis.
      disableOfflineQueue: true,
      socket: { connectTimeout, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) },
    })) as RedisClientType;
  client.on('error', () => {
    // Connection errors surface on each command (and go through each part's fail-open/closed policy).
  });
  const connected = client.isOpen ? Promise.resolve() : client.connect().then(() => undefined);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ready = Promise.race([connected, new Promise<void>((r) => (timer = setTimeout(r, connectTimeout)).unref?.())])
    .catch(() => undefined)
    .finally(() => clearTimeout(timer));
  const commandTimeout = options.commandTimeout ?? 1000;
  return {
    kind: 'redis',
    ...bounded({ ...redisBreaker(client, prefix, ready), ...redisCache(client, prefix, ready, options.cache) }, commandTimeout),
    // Bounded inside, where the fail-open policy sees a timeout like any other failure.
    ...redisLimits(client, prefix, ready, options.failMode ?? 'closed', commandTimeout),
    client,
    ready,
    async close() {
      if (!owned || !client.isOpen) return;
      if (!client.isReady) return void client.destroy();
      // node-redis' close() waits for every pending reply, the ones this store gave up on too: a
      // stalled Redis would hold the app's shutdown for ever. Past the command timeout it is cut.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cut = new Promise<'cut'>((resolve) => (timer = setTimeout(() => resolve('cut'), commandTimeout)));
      const outcome = await Promise.race([client.close().then(() => 'closed' as const), cut]).finally(() => clearTimeout(timer));
      if (outcome === 'cut' && client.isOpen) client.destroy();
    },
  };
}
