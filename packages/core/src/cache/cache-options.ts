import { z } from 'zod';
import type { CacheStore } from '../store/cache-store.js';
import { isCacheStore, isKeyv, type KeyvLike } from './keyv-cache-store.js';

/**
 * Where cached answers live and how long the gateway waits for them (code; *whether* and *how long*
 * to cache is config: `cache: { mode, max_age }`).
 */
export interface CacheOptions {
  /**
   * Where entries and the semantic index live: any Keyv instance, recognised by its shape
   * (`new Keyv(new KeyvRedis(url))`, `new Keyv({ store: new SqliteKeyvStore(db) })` for a file that
   * survives restarts), or a `CacheStore`. Default: the gateway's `store` (in-memory unless set).
   * A Keyv instance is the caller's: `gateway.close()` does not disconnect it.
   */
  store?: CacheStore | KeyvLike;
  /** Longest wait for one cache store operation, ms; a slower or failed one counts as a miss. Default 250. */
  timeoutMs?: number;
  /** Longest wait for the embedding call of the semantic step, ms; then the request goes on as a miss. Default 5000. */
  embeddingTimeoutMs?: number;
  /** Largest entry kept, in characters of its JSON text. Default 4 MiB. */
  maxEntryBytes?: number;
  /** The clock entry ages (`max_age`) are measured with, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

export const cacheOptionsSchema = z.object({
  store: z
    .custom<CacheStore | KeyvLike>((v) => isCacheStore(v) || isKeyv(v), 'expected a Keyv instance or a CacheStore (cacheGet, cacheSet, …)')
    .optional(),
  timeoutMs: z.number().positive().optional(),
  embeddingTimeoutMs: z.number().positive().optional(),
  maxEntryBytes: z.number().int().positive().optional(),
  now: z.custom<() => number>((v) => typeof v === 'function', 'expected a function').optional(),
});
