import type { BudgetConfig } from '../config/schema.js';
import { candidatesFor } from '../cost/model-names.js';
import { priceBookOf } from '../cost/request-cost.js';
import { worstCasePrice } from '../cost/price-sheet.js';
import { maxWebSearches } from '../cost/web-search-bound.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import type { AdmitRequest, CounterClaim, WindowClaim } from '../store/limit-store.js';
import { calendarWindow, type CalendarWindow, type Period } from './calendar.js';
import { estimateInputTokens, maxOutputTokens } from './estimate.js';
import { outputOverridesOf } from './output-overrides.js';
import { scopeKey } from './scope.js';

/** Cost counters hold integer nano-USD: Redis and SQLite add integers exactly, floats drift. */
export const NANO_PER_USD = 1e9;
export const toNano = (usd: number) => Math.round(usd * NANO_PER_USD);

/** Counters outlive their window a little, so a request that started before midnight still settles. */
const COUNTER_GRACE_MS = 3_600_000;

export interface CounterInfo {
  metric: 'cost' | 'tokens';
  period: Period;
  scope: string;
  scopeKey: string;
  timeZone: string;
  window: CalendarWindow;
}

export interface WindowInfo {
  metric: 'requests' | 'tokens';
  scope: string;
  scopeKey: string;
  windowMs: number;
}

/** Everything one request claims, kept until it settles. */
export interface Claims {
  request: AdmitRequest;
  counters: CounterInfo[];
  windows: WindowInfo[];
  /** Worst case reserved, in counter units: nano-USD and tokens. */
  reservedNano: number;
  reservedTokens: number;
  /** ms epoch just before the admission: its reservation expires `request.ttlMs` later, at the earliest. */
  admittedAt: number;
}

export interface ClaimPolicy {
  defaultMaxTokens: number;
  ttlMs: number;
}

const COST_FIELDS: Array<[keyof BudgetConfig, Period]> = [
  ['max_cost_per_hour', 'hour'],
  ['max_cost_per_day', 'day'],
  ['max_cost_per_month', 'month'],
];

export const periodTag = (period: Period, timeZone: string) =>
  period[0]! + (timeZone === 'UTC' ? '' : `@${encodeURIComponent(timeZone)}`);

export const counterKey = (scopeKeyPart: string, metric: string, period: Period, timeZone: string, windowId: string) =>
  `b:${scopeKeyPart}:${metric}:${periodTag(period, timeZone)}:${windowId}`;

export const windowKey = (scopeKeyPart: string, metric: string, windowMs: number) => `r:${scopeKeyPart}:${metric}:${windowMs}`;

/**
 * The worst-case cost of the request over every target that may serve it, in USD (0 for unpriced
 * models): its tokens at the dearest rates, plus the fees that are not per token (a per-request fee,
 * the web searches its search tools allow).
 */
function worstCaseUsd(gw: GatewayInternals, state: RequestState, inputTokens: number, outputTokens: number): number {
  const book = priceBookOf(gw);
  const searches = maxWebSearches(state.body);
  let worst = 0;
  for (const c of candidatesFor(gw, state)) {
    const sheet = book.find(c.provider, c.models);
    if (sheet) worst = Math.max(worst, worstCasePrice(sheet, inputTokens, outputTokens, searches));
  }
  return worst;
}

/**
 * The counters and windows a request claims under the plan's budgets and rate limits: one counter per
 * budget limit and calendar window, one sliding window per rate limit, merged when two configs name the
 * same one (the lower limit wins).
 */
export function buildClaims(gw: GatewayInternals, state: RequestState, policy: ClaimPolicy, now: number): Claims {
  const { budgets, rateLimits } = state.plan;
  const needsCost = budgets.some((b) => COST_FIELDS.some(([f]) => b[f] !== undefined));
  const needsTokens = needsCost || budgets.some((b) => b.max_tokens_per_day !== undefined) || rateLimits.some((r) => r.tokens_per_minute !== undefined);
  const input = needsTokens ? estimateInputTokens(state.body) : 0;
  // What the upstream is sent, not what the client asked: a target's override_params may raise the limits.
  const output = needsTokens ? maxOutputTokens(state.body, policy.defaultMaxTokens, outputOverridesOf(state.plan)) : 0;
  const tokens = input + output;
  const reservedNano = needsCost ? Math.ceil(worstCaseUsd(gw, state, input, output) * NANO_PER_USD) : 0;

  const counters: CounterClaim[] = [];
  const counterInfo: CounterInfo[] = [];
  const byKey = new Map<string, number>();
  const addCounter = (claim: CounterClaim, info: CounterInfo) => {
    const at = byKey.get(claim.key);
    if (at === undefined) {
      byKey.set(claim.key, counters.length);
      counters.push(claim);
      counterInfo.push(info);
    } else if (claim.limit < counters[at]!.limit) counters[at]!.limit = claim.limit;
  };
  for (const b of budgets) {
    const scope = b.scope ?? 'gateway';
    const sk = scopeKey(scope, state);
    const timeZone = b.timezone ?? 'UTC';
    for (const [field, period] of COST_FIELDS) {
      const limit = b[field] as number | undefined;
      if (limit === undefined) continue;
      const window = calendarWindow(period, now, timeZone);
      addCounter(
        { key: counterKey(sk, 'cost', period, timeZone, window.id), amount: reservedNano, limit: toNano(limit), expireAt: window.end + COUNTER_GRACE_MS },
        { metric: 'cost', period, scope, scopeKey: sk, timeZone, window },
      );
    }
    if (b.max_tokens_per_day !== undefined) {
      const window = calendarWindow('day', now, timeZone);
      addCounter(
        { key: counterKey(sk, 'tokens', 'day', timeZone, window.id), amount: tokens, limit: b.max_tokens_per_day, expireAt: window.end + COUNTER_GRACE_MS },
        { metric: 'tokens', period: 'day', scope, scopeKey: sk, timeZone, window },
      );
    }
  }

  const windows: WindowClaim[] = [];
  const windowInfo: WindowInfo[] = [];
  const byWindow = new Map<string, number>();
  const addWindow = (metric: WindowInfo['metric'], scope: string, sk: string, limit: number, windowMs: number, amount: number) => {
    const key = windowKey(sk, metric, windowMs);
    const at = byWindow.get(key);
    if (at !== undefined) {
      if (limit < windows[at]!.limit) windows[at]!.limit = limit;
      return;
    }
    byWindow.set(key, windows.length);
    windows.push({ key, amount, limit, windowMs });
    windowInfo.push({ metric, scope, scopeKey: sk, windowMs });
  };
  for (const r of rateLimits) {
    const scope = r.scope ?? 'gateway';
    const sk = scopeKey(scope, state);
    if (r.requests_per_minute !== undefined) addWindow('requests', scope, sk, r.requests_per_minute, 60_000, 1);
    if (r.requests_per_day !== undefined) addWindow('requests', scope, sk, r.requests_per_day, 86_400_000, 1);
    if (r.tokens_per_minute !== undefined) addWindow('tokens', scope, sk, r.tokens_per_minute, 60_000, tokens);
  }

  return {
    request: { id: crypto.randomUUID(), ttlMs: policy.ttlMs, counters, windows },
    counters: counterInfo,
    windows: windowInfo,
    reservedNano,
    reservedTokens: tokens,
    admittedAt: now,
  };
}
