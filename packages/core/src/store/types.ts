import type { BreakerStore } from './breaker-store.js';
import type { CacheStore } from './cache-store.js';
import type { LimitStore } from './limit-store.js';

/**
 * Where state that several gateway instances share lives: breaker state, budget and rate-limit
 * counters, cache entries. Each part is its own small interface; every store implements all of them
 * and passes one conformance suite (memory, file and Redis alike).
 */
export interface GatewayStore extends BreakerStore, LimitStore, CacheStore {
  /** `memory`, `sqlite`, `redis`, … — shown in logs and the usage view. */
  readonly kind: string;
  close(): Promise<void>;
}
