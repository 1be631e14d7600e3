import { GatewayError, type AttemptSummary } from '../errors.js';

export interface Failure {
  path: string;
  error: GatewayError;
}

const clip = (s: string, n = 200) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The statuses the official SDKs retry on their own (openai, Anthropic: 408, 409, 429 and every 5xx). */
const sdkRetries = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500;

/** The same error, now carrying the attempt list. */
export function withAttempts(e: GatewayError, attempts: AttemptSummary[]): GatewayError {
  return new GatewayError(e.code, e.message, {
    status: e.status,
    param: e.param,
    type: e.type,
    source: e.source,
    attempts,
    ...(e.provider !== undefined ? { provider: e.provider } : {}),
    ...(e.headers !== undefined ? { headers: e.headers } : {}),
    ...(e.providerCode !== undefined ? { providerCode: e.providerCode } : {}),
    ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
    ...(e.details !== undefined ? { details: e.details } : {}),
    cause: e,
  });
}

/**
 * The most useful answer once every target failed. When all failed alike (every one a 400 for the
 * context length, every one a 429), the client gets that status with the provider's own message, type
 * and code, so SDKs raise the error they would have raised talking to the provider directly. When they
 * failed differently, a 502 naming each failure. Either way `error.attempts` lists every try.
 */
export function finalError(failures: Failure[], attempts: AttemptSummary[]): GatewayError {
  const last = failures[failures.length - 1]!.error;
  if (failures.length === 1) return attempts.length <= 1 ? last : withAttempts(last, attempts);
  const n = failures.length;
  // Each target as it last answered: a target retried through a 503 into a 429 with Retry-After is
  // rate limited now, and its client should hear that (and when to come back), not a 502.
  const byTarget = new Map<string, Failure>();
  for (const f of failures) {
    byTarget.delete(f.path);
    byTarget.set(f.path, f);
  }
  const finals = [...byTarget.values()];
  if (finals.length === 1) return withAttempts(last, attempts);
  const statuses = new Set(finals.map((f) => f.error.status));
  const providers = new Set(failures.map((f) => f.error.provider).filter(Boolean));
  const provider = providers.size === 1 ? { provider: [...providers][0]! } : {};
  const source = failures.every((f) => f.error.source === 'provider') ? 'provider' : 'gateway';
  if (statuses.size === 1) {
    const primary = [...finals].reverse().find((f) => f.error.source === 'provider')?.error ?? last;
    const waits = finals.map((f) => f.error.retryAfter).filter((v): v is number => v !== undefined);
    return new GatewayError('all_targets_failed', `${primary.message} (all ${n} attempts failed)`, {
      status: primary.status,
      type: primary.type,
      source,
      param: primary.param,
      attempts,
      ...provider,
      ...(primary.providerCode !== undefined ? { providerCode: primary.providerCode } : {}),
      ...(waits.length === finals.length ? { retryAfter: Math.min(...waits) } : {}),
      cause: primary,
    });
  }
  const parts = failures.map((f) => `${f.path}: ${f.error.status} ${clip(f.error.message)}`);
  // A 502 is retried by every SDK; when each target refused the request itself (400, 404…), sending
  // it again gets the same refusals, so the SDK is told not to.
  const refusedEverywhere = finals.every((f) => !sdkRetries(f.error.status));
  return new GatewayError('all_targets_failed', `All ${n} attempts failed — ${clip(parts.join('; '), 1500)}`, {
    status: 502,
    source,
    attempts,
    ...provider,
    ...(refusedEverywhere ? { headers: { 'x-should-retry': 'false' } } : {}),
    cause: last,
  });
}
