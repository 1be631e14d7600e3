import type { BreakerDecision, BreakerPolicy, BreakerStatus, BreakerStore } from '../breaker-store.js';

interface Circuit {
  state: 'closed' | 'open' | 'half_open';
  /** Failure times in the window, oldest first. */
  failures: number[];
  openUntil: number;
  trialUntil: number;
}

const status = (c: Circuit): BreakerStatus =>
  c.state === 'closed' ? { state: 'closed', failures: c.failures.length } : { state: c.state, failures: c.failures.length, openUntil: c.openUntil };

const MAX_CIRCUITS = 10_000;

/**
 * The breaker in this process. Same transitions as the Redis script; JavaScript's single thread makes
 * each call atomic. Closed circuits with no recent failures are dropped so the map stays small.
 */
export function memoryBreaker(): BreakerStore & { readonly size: number } {
  const circuits = new Map<string, Circuit>();

  /**
   * Circuits are per API key, and clients that bring their own keys can bring many: one that failed
   * and is never asked for again would stay. Past a size, circuits whose failures and cooldowns are
   * all over are dropped (they would read as closed and empty anyway).
   */
  function sweep(now: number, policy: BreakerPolicy): void {
    const since = now - policy.windowMs;
    for (const [key, c] of circuits) {
      const over = c.state === 'closed' ? (c.failures.at(-1) ?? 0) <= since : Math.max(c.openUntil, c.trialUntil) + policy.cooldownMs <= now;
      if (over) circuits.delete(key);
    }
  }

  function get(key: string, now: number, policy: BreakerPolicy): Circuit {
    let c = circuits.get(key);
    if (!c) {
      if (circuits.size >= MAX_CIRCUITS) sweep(now, policy);
      c = { state: 'closed', failures: [], openUntil: 0, trialUntil: 0 };
      circuits.set(key, c);
    }
    const since = now - policy.windowMs;
    while (c.failures.length && c.failures[0]! <= since) c.failures.shift();
    return c;
  }

  function tidy(key: string, c: Circuit): void {
    if (c.state === 'closed' && c.failures.length === 0) circuits.delete(key);
  }

  return {
    /** Circuits held now (for tests of the sweep). */
    get size() {
      return circuits.size;
    },

    async breakerAcquire(key, now, policy): Promise<BreakerDecision> {
      const c = get(key, now, policy);
      let allowed = true;
      if (c.state === 'open') {
        if (now >= c.openUntil) {
          c.state = 'half_open';
          c.trialUntil = now + policy.cooldownMs;
        } else allowed = false;
      } else if (c.state === 'half_open') {
        // The trial holder never reported back (crashed or still running): hand out a new trial.
        if (now >= c.trialUntil) c.trialUntil = now + policy.cooldownMs;
        else allowed = false;
      }
      const out: BreakerDecision = { ...status(c), allowed };
      if (allowed && c.state === 'half_open') out.trialUntil = c.trialUntil;
      tidy(key, c);
      return out;
    },

    async breakerRelease(key, now, policy, lease): Promise<void> {
      const c = get(key, now, policy);
      if (c.state === 'half_open' && (lease === undefined || c.trialUntil === lease)) c.trialUntil = 0;
      tidy(key, c);
    },

    async breakerRecord(key, ok, now, policy): Promise<BreakerStatus> {
      const c = get(key, now, policy);
      if (ok) {
        if (c.state === 'half_open') {
          c.state = 'closed';
          c.failures = [];
        }
      } else if (c.state === 'half_open') {
        c.state = 'open';
        c.openUntil = now + policy.cooldownMs;
      } else if (c.state === 'closed') {
        c.failures.push(now);
        if (c.failures.length >= policy.threshold) {
          c.state = 'open';
          c.openUntil = now + policy.cooldownMs;
          c.failures = [];
        }
      }
      const out = status(c);
      tidy(key, c);
      return out;
    },
  };
}
