import type { CircuitBreakerConfig } from '../config/schema.js';
import type { GatewayError } from '../errors.js';
import type { ResolvedTarget } from '../providers/types.js';
import type { BreakerDecision, BreakerPolicy, BreakerStatus, BreakerStore } from '../store/breaker-store.js';
import { memoryBreaker } from '../store/memory/breaker.js';
import { shortenedByClient } from '../upstream/attempt-overrides.js';
import { isUpstreamFailure } from './retry-policy.js';
import { fnv1a } from '../fnv1a.js';

/** The router's view of the circuit breaker: per target, fail-open when the store is unreachable. */
export interface Breaker {
  acquire(target: ResolvedTarget): Promise<BreakerDecision>;
  /** Records a failure that counts (see `counts`), or the result of a half-open trial. */
  record(target: ResolvedTarget, ok: boolean): Promise<BreakerStatus | undefined>;
  /** Gives back a half-open trial whose call never reached the upstream (`lease`: its `trialUntil`). */
  release(target: ResolvedTarget, lease?: number): Promise<void>;
  /**
   * What a failed call says of the upstream: `failed` counts against the circuit; `answered` is a
   * refusal the upstream itself sent (a 4xx), which proves it is back; `unknown` never reached it or
   * was cut on the client's side (a translator's refusal, a closing gateway, a client that left, a
   * timeout the client shortened).
   */
  verdict(e: GatewayError): 'failed' | 'answered' | 'unknown';
}


/**
 * One circuit per upstream deployment and key a target reaches: its path plus a digest of provider, URL,
 * model and API key, so two configs that reuse a path for different upstreams never share a circuit,
 * and one tenant's quota 429s on its own key (a client's `Authorization`) never open the circuit for
 * another's. Only the 32-bit digest, mixed with the rest, lands in Redis key names, never the key.
 */
export const breakerKey = (t: ResolvedTarget) =>
  `breaker:${t.path}:${fnv1a(`${t.provider}|${t.baseURL}|${String(t.overrideParams.model ?? '')}|${t.apiKey ?? ''}`).toString(36)}`;

export function policyOf(config: CircuitBreakerConfig): BreakerPolicy {
  return {
    threshold: config.failure_threshold ?? 5,
    windowMs: (config.window ?? 60) * 1000,
    cooldownMs: (config.cooldown ?? 30) * 1000,
  };
}

/** Stores written before the breaker existed (or a custom one without it) get a per-process breaker. */
const hasBreaker = (s: Partial<BreakerStore>): s is BreakerStore => typeof s.breakerAcquire === 'function' && typeof s.breakerRecord === 'function';

export function createBreaker(store: Partial<BreakerStore>, config: CircuitBreakerConfig, now: () => number): Breaker {
  const impl = hasBreaker(store) ? store : fallbackStore;
  const policy = policyOf(config);
  return {
    async acquire(target) {
      try {
        return await impl.breakerAcquire(breakerKey(target), now(), policy);
      } catch {
        // A breaker that cannot read its state must not take the whole gateway down with it.
        return { state: 'closed', failures: 0, allowed: true };
      }
    },
    async record(target, ok) {
      try {
        return await impl.breakerRecord(breakerKey(target), ok, now(), policy);
      } catch {
        return undefined;
      }
    },
    async release(target, lease) {
      try {
        await impl.breakerRelease?.(breakerKey(target), now(), policy, lease);
      } catch {
        // The lease runs out on its own.
      }
    },
    verdict(e) {
      if (!isUpstreamFailure(e) || e.status === 499 || shortenedByClient(e)) return 'unknown';
      const counts = config.on_status_codes ? config.on_status_codes.includes(e.status) : e.status === 429 || e.status >= 500;
      return counts ? 'failed' : 'answered';
    },
  };
}

const fallbackStore = memoryBreaker();
