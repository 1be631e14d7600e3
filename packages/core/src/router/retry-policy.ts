import type { GatewayError } from '../errors.js';
import { ANSWER_TOO_LARGE } from '../upstream/client.js';
import type { ResolvedTarget } from '../providers/types.js';

/**
 * Portkey's default — rate limits and transient server errors (timeouts map to 504, resets to 502) —
 * and Anthropic's 529 `overloaded_error`, its most common transient failure, which Portkey's list misses.
 */
export const DEFAULT_RETRY_STATUSES = [429, 500, 502, 503, 504, 529];

/**
 * The upstream itself failed: an error status, a reset, a timeout. Errors the gateway raised on its
 * own (a translator rejecting the body, a bug) would fail the same way again and are never retried.
 */
export const isUpstreamFailure = (e: GatewayError) =>
  e.source === 'provider' || e.code === 'network_error' || e.code === 'upstream_timeout';

/**
 * Whether a failure is one of `codes`. A timeout is a 504 here, and also Portkey's 408: its docs key
 * fallbacks and retries for timed-out requests on `[408]`, and configs written for it must work. A
 * timeout the client's own header shortened answers 408 and still matches a config keyed on 504.
 */
export function failedWithOneOf(codes: readonly number[], e: GatewayError): boolean {
  return codes.includes(e.status) || (e.code === 'upstream_timeout' && (codes.includes(408) || codes.includes(504)));
}

export function isRetryable(target: ResolvedTarget, e: GatewayError, retriesDone: number): boolean {
  const retry = target.retry;
  if (!retry || retriesDone >= retry.attempts) return false;
  // Asking again would download as much again (upstream/client.ts): a fallback may still move on.
  if (e.type === ANSWER_TOO_LARGE) return false;
  return isUpstreamFailure(e) && failedWithOneOf(retry.onStatusCodes ?? DEFAULT_RETRY_STATUSES, e);
}

export interface BackoffSettings {
  baseMs: number;
  capMs: number;
  /** ms; a longer Retry-After makes the router move on instead of waiting. */
  maxRetryAfterMs: number;
  random: () => number;
}

/**
 * How long to wait before retry number `retriesDone + 1`, or undefined to stop retrying this target.
 * A provider's Retry-After wins when allowed and within the bound; otherwise exponential backoff with
 * full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"), so retries from many clients
 * do not arrive in waves.
 */
export function retryDelay(target: ResolvedTarget, e: GatewayError, retriesDone: number, s: BackoffSettings): number | undefined {
  if (e.retryAfter !== undefined && target.retry?.useRetryAfter !== false) {
    const ms = e.retryAfter * 1000;
    return ms > s.maxRetryAfterMs ? undefined : ms;
  }
  return Math.floor(s.random() * Math.min(s.capMs, s.baseMs * 2 ** retriesDone));
}
