import type { AbortSource } from '../upstream/abort-link.js';

/** How the router waits between retries and picks among weighted targets. */
export interface RoutingOptions {
  /** Ceiling of the first retry's backoff, ms; it doubles per retry, with full jitter. Default 250. */
  backoffBaseMs?: number;
  /** Largest backoff between two retries, ms. Default 5000. */
  backoffCapMs?: number;
  /**
   * Longest provider `Retry-After` the router waits for, seconds. A longer one makes it move on to the
   * next target at once instead of retrying. Default 10.
   */
  maxRetryAfter?: number;
  /** Random numbers in [0, 1) for load balancing and jitter. Default `Math.random`. */
  random?: () => number;
  /** Waits `ms` or rejects when `signal` aborts. Default: a timer (tests pass a fake). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Epoch ms. Default `Date.now` (tests pass a fake clock for the circuit breaker). */
  now?: () => number;
}

/** Resolves a host name to its addresses (v4 and v6). */
export type ResolveHost = (hostname: string) => Promise<string[]>;

export const DEFAULT_DEADLINE_MS = 120_000;

export function abortableSleep(ms: number, signal: AbortSource): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
