import { isKeyv, keyvCacheStore } from '../cache/keyv-cache-store.js';
import { createMemoryStore } from './memory/create-memory-store.js';
import type { GatewayStore } from './types.js';

/**
 * What budgets, limits and the breaker call. The cache methods are not required: without them the
 * cache stage keeps its entries in memory.
 */
const REQUIRED = ['admit', 'settle', 'release', 'readUsage', 'breakerAcquire', 'breakerRecord', 'close'] as const;

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v);

/**
 * The gateway's `store` option as a store: memory when unset; a store as it is; a Keyv instance
 * (DESIGN: "a Keyv instance for the cache") as the cache, with budgets, limits and breaker in memory
 * — a key-value API cannot reserve and check atomically, so spend never goes through it. The Keyv is
 * the caller's, as under `cache.store`: `close()` does not disconnect it. Anything else is refused
 * here, at start-up, rather than failing every request later.
 */
export function resolveStore(value: unknown): GatewayStore {
  if (value === undefined) return createMemoryStore();
  // Not `inProcess`, as the memory cache it replaces was: each Keyv call gets the cache's timeout.
  if (isKeyv(value)) return { ...createMemoryStore(), ...keyvCacheStore(value), inProcess: false };
  const missing = REQUIRED.filter((name) => typeof (value as Record<string, unknown> | null)?.[name] !== 'function');
  if (missing.length === 0) return value as GatewayStore;
  const got = typeof value === 'object' && value !== null ? `an object without ${missing.join(', ')}` : kindOf(value);
  throw new TypeError(
    `llmux: options.store: expected createMemoryStore(), createSqliteStore({ path }), createRedisStore({ url, prefix }), a Keyv instance (for the cache) or a store implementing GatewayStore; got ${got}`,
  );
}
