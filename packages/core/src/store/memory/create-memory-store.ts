import type { GatewayStore } from '../types.js';
import { memoryBreaker } from './breaker.js';
import { createMemoryCache, type MemoryCacheOptions } from './cache.js';
import { memoryLimits } from './limits.js';

/** Options for the in-process store. */
export interface MemoryStoreOptions {
  /** Size bounds of the response cache and semantic index. */
  cache?: MemoryCacheOptions;
}

/**
 * State in this process only: right for tests, one instance, and users who accept losing spend on
 * restart. Each part (breaker, limits, cache) lives in its own file and is spread in here.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): GatewayStore {
  return {
    kind: 'memory',
    ...memoryBreaker(),
    ...memoryLimits(),
    ...createMemoryCache(options.cache),
    close: async () => undefined,
  };
}
