import { GatewayError } from '../errors.js';
import type { AdmitResult } from '../store/limit-store.js';
import { NANO_PER_USD, type Claims } from './claims.js';
import { formatDuration, windowName } from './durations.js';
import { rateHeaders } from './rate-headers.js';
import { parseScopeKey } from './scope.js';

const usd = (nano: number) => Math.round(nano) / NANO_PER_USD;
const money = (nano: number) => `$${usd(nano).toFixed(usd(nano) < 1 ? 6 : 2).replace(/0+$/, '').replace(/\.$/, '')}`;

function whose(scopeKeyPart: string): string {
  const { scope, value } = parseScopeKey(scopeKeyPart);
  return value === undefined ? 'the gateway' : `${scope} "${value}"`;
}

/**
 * The longest wait a client SDK should sleep through before retrying on its own. The openai and
 * Anthropic SDKs sleep for whatever `retry-after-ms` / `Retry-After` say (older ones capped it at 60 s):
 * a daily window would hold the caller's request for a day, twice. Past this, `x-should-retry: false`
 * hands the decision back to the caller; `Retry-After` still says when.
 */
const LONGEST_CLIENT_WAIT_MS = 60_000;

/** 429 in the OpenAI shape with `Retry-After`, the `x-ratelimit-*` headers of the exhausted limit and the scope's others. */
export function rateLimited(claims: Claims, denial: Extract<AdmitResult, { reason: 'window' }>): GatewayError {
  const info = claims.windows[denial.index]!;
  const claim = claims.request.windows[denial.index]!;
  const { scope, value } = parseScopeKey(info.scopeKey);
  const tooLarge = claim.amount > claim.limit;
  const message = tooLarge
    ? `request too large: it may use ${claim.amount} tokens but ${whose(info.scopeKey)} is limited to ${denial.limit} tokens per ${windowName(info.windowMs)}`
    : `rate limit reached: ${denial.limit} ${info.metric} per ${windowName(info.windowMs)} for ${whose(info.scopeKey)}; retry in ${formatDuration(denial.retryAfterMs)}`;
  // A request larger than the whole window is refused whatever the wait: no retry can help it.
  const wait: Record<string, string> = tooLarge ? {} : { 'retry-after-ms': String(Math.ceil(denial.retryAfterMs)) };
  const noRetry: Record<string, string> = tooLarge || denial.retryAfterMs > LONGEST_CLIENT_WAIT_MS ? { 'x-should-retry': 'false' } : {};
  return new GatewayError('rate_limited', message, {
    ...(tooLarge ? {} : { retryAfter: Math.max(1, Math.ceil(denial.retryAfterMs / 1000)) }),
    headers: {
      // The scope's other limits as every answer of a rate-limited scope shows them; the refusing one's own below.
      ...(denial.windows ? rateHeaders(claims.windows, denial.windows) : {}),
      [`x-ratelimit-limit-${info.metric}`]: String(denial.limit),
      [`x-ratelimit-remaining-${info.metric}`]: String(Math.max(0, denial.limit - denial.used)),
      [`x-ratelimit-reset-${info.metric}`]: formatDuration(denial.retryAfterMs),
      ...wait,
      ...noRetry,
      'x-llmux-cost': '0',
    },
    details: {
      limit: denial.limit,
      used: denial.used,
      metric: info.metric,
      window_seconds: info.windowMs / 1000,
      scope,
      ...(value !== undefined ? { scope_value: value } : {}),
    },
  });
}

/**
 * 402 in the OpenAI shape saying the limit, what was spent, what is in flight and when the budget resets.
 * In a rate-limited scope it carries the windows' `x-ratelimit-*` headers too (their state before this
 * request, which consumed nothing), as every answer of a rate-limited scope does.
 */
export function budgetExceeded(claims: Claims, denial: Extract<AdmitResult, { reason: 'counter' }>, now: number): GatewayError {
  const info = claims.counters[denial.index]!;
  const requested = claims.request.counters[denial.index]!.amount;
  const { scope, value } = parseScopeKey(info.scopeKey);
  const isCost = info.metric === 'cost';
  const show = (n: number) => (isCost ? money(n) : `${n} tokens`);
  const amount = (n: number) => (isCost ? usd(n) : n);
  // Blocked only by requests still in flight: their settlements free room long before the window ends.
  const inFlightOnly = denial.spent + requested <= denial.limit;
  const resetsAt = new Date(info.window.end).toISOString();
  const message =
    `budget exceeded: ${whose(info.scopeKey)} has spent ${show(denial.spent)} of ${show(denial.limit)} per ${info.period}` +
    (denial.reserved > 0 ? `, ${show(denial.reserved)} more is reserved by requests in flight` : '') +
    `, and this request may use up to ${show(requested)}; the budget resets at ${resetsAt}`;
  // SDKs never retry a 402 on their own; one that only waits for requests in flight to settle is
  // worth a retry a second later, so it says so.
  const own: Record<string, string> = inFlightOnly ? { 'x-llmux-cost': '0', 'x-should-retry': 'true', 'retry-after-ms': '1000' } : { 'x-llmux-cost': '0' };
  return new GatewayError('budget_exceeded', message, {
    retryAfter: inFlightOnly ? 1 : Math.max(1, Math.ceil((info.window.end - now) / 1000)),
    headers: denial.windows ? rateHeaders(claims.windows, denial.windows, own) : own,
    details: {
      limit: amount(denial.limit),
      spent: amount(denial.spent),
      reserved: amount(denial.reserved),
      requested: amount(requested),
      remaining: amount(Math.max(0, denial.limit - denial.spent - denial.reserved)),
      unit: isCost ? 'usd' : 'tokens',
      period: info.period,
      timezone: info.timeZone,
      window: info.window.id,
      resets_at: resetsAt,
      scope,
      ...(value !== undefined ? { scope_value: value } : {}),
    },
  });
}
