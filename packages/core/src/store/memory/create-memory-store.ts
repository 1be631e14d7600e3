import type { GatewayStore } from '../types.js';
import { memoryBreaker } from './breaker.js';

/** Options for the in-process store. */
export interface MemoryStoreOptions {}

/**
 * State in this process only: right for tests, one instance, and users who accept losing spend on
 * restart. Each part (breaker, limits, cache) lives in its own file and is spread in here.
 */
export function createMemoryStore(_options: MemoryStoreOptions = {}): GatewayStore {
  return {
    kind: 'memory',
    ...memoryBreaker(),
    close: async () => undefined,
  };
}
