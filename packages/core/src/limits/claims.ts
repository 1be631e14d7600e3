import type { BudgetConfig, RateLimitConfig } from '../config/schema.js';
import { targetsOf } from '../config/plan.js';
import { candidatesFor } from '../cost/model-names.js';
import { priceBookOf, unpricedRefusal } from '../cost/request-cost.js';
import { worstCasePrice } from '../cost/price-sheet.js';
import { maxWebSearches, searchesOn } from '../cost/web-search-bound.js';
import { GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import type { AdmitRequest, CounterClaim, WindowClaim } from '../store/limit-store.js';
import { calendarWindow, type CalendarWindow, type Period } from './calendar.js';
import { estimateInputTokens, maxOutputTokens, OUTPUT_FIELDS, type OutputParams } from './estimate.js';
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
 * The worst-case cost of the request over the targets that may serve it and have a price, in USD: its tokens at the dearest rates, plus the fees that are not per token (a per-request fee,
 * the web searches its search tools allow).
 */
function worstCaseUsd(gw: GatewayInternals, state: RequestState, inputTokens: number, outputTokens: number): number {
  const book = priceBookOf(gw);
  const searches = maxWebSearches(state.body);
  let worst = 0;
  let priced = false;
  const candidates = candidatesFor(gw, state);
  for (const c of candidates) {
    const sheet = book.find(c.provider, c.models);
    if (!sheet) continue;
    priced = true;
    worst = Math.max(worst, worstCasePrice(sheet, inputTokens, outputTokens, searchesOn(c.provider, searches)));
  }
  // Reserved at $0, a model no target can price would slip past every cost budget (a client naming a
  // model the database does not know, an Azure deployment like `model-router`): refused instead. A
  // tree where some target prices it reserves that price (the client's model name also reaches
  // targets of other providers, which could never serve it and have no price for it).
  if (!priced && candidates[0]) throw unpricedRefusal(candidates[0], 'a cost budget applies');
  return worst;
}

/** A budget counter as the plan's budgets define it, before any request's amount. */
export interface CounterSpec {
  key: string;
  /** In counter units (nano-USD, tokens): the lowest of the budgets naming this counter. */
  limit: number;
  expireAt: number;
  info: CounterInfo;
  /** Index, in the budgets given, of the budget whose limit is enforced (the first of equal ones). */
  source: number;
}

/** A rate-limit window as the plan's rate limits define it, before any request's amount. */
export interface WindowSpec {
  key: string;
  /** The lowest of the rate limits naming this window. */
  limit: number;
  windowMs: number;
  info: WindowInfo;
  /** Index, in the rate limits given, of the rate limit whose limit is enforced (the first of equal ones). */
  source: number;
}

/**
 * The counters and windows that budgets and rate limits define for one caller (`scopeKeyOf` names its
 * value for each scope): one counter per budget limit and calendar window, one sliding window per rate
 * limit, merged when two configs name the same one — the lower limit wins. Admission (`buildClaims`)
 * and the usage view both read limits through this, so the view shows what admission enforces.
 */
export function limitSpecs(
  budgets: readonly BudgetConfig[],
  rateLimits: readonly RateLimitConfig[],
  scopeKeyOf: (scope: string) => string,
  now: number,
): { counters: CounterSpec[]; windows: WindowSpec[] } {
  const counters: CounterSpec[] = [];
  const byKey = new Map<string, number>();
  const addCounter = (spec: CounterSpec) => {
    const at = byKey.get(spec.key);
    if (at === undefined) {
      byKey.set(spec.key, counters.length);
      counters.push(spec);
    } else if (spec.limit < counters[at]!.limit) {
      counters[at]!.limit = spec.limit;
      counters[at]!.source = spec.source;
    }
  };
  budgets.forEach((b, source) => {
    const scope = b.scope ?? 'gateway';
    const sk = scopeKeyOf(scope);
    const timeZone = b.timezone ?? 'UTC';
    for (const [field, period] of COST_FIELDS) {
      const limit = b[field] as number | undefined;
      if (limit === undefined) continue;
      const window = calendarWindow(period, now, timeZone);
      addCounter({
        key: counterKey(sk, 'cost', period, timeZone, window.id),
        limit: toNano(limit),
        expireAt: window.end + COUNTER_GRACE_MS,
        info: { metric: 'cost', period, scope, scopeKey: sk, timeZone, window },
        source,
      });
    }
    if (b.max_tokens_per_day !== undefined) {
      const window = calendarWindow('day', now, timeZone);
      addCounter({
        key: counterKey(sk, 'tokens', 'day', timeZone, window.id),
        limit: b.max_tokens_per_day,
        expireAt: window.end + COUNTER_GRACE_MS,
        info: { metric: 'tokens', period: 'day', scope, scopeKey: sk, timeZone, window },
        source,
      });
    }
  });

  const windows: WindowSpec[] = [];
  const byWindow = new Map<string, number>();
  const addWindow = (metric: WindowInfo['metric'], scope: string, sk: string, limit: number, windowMs: number, source: number) => {
    const key = windowKey(sk, metric, windowMs);
    const at = byWindow.get(key);
    if (at !== undefined) {
      if (limit < windows[at]!.limit) {
        windows[at]!.limit = limit;
        windows[at]!.source = source;
      }
      return;
    }
    byWindow.set(key, windows.length);
    windows.push({ key, limit, windowMs, info: { metric, scope, scopeKey: sk, windowMs }, source });
  };
  rateLimits.forEach((r, source) => {
    const scope = r.scope ?? 'gateway';
    const sk = scopeKeyOf(scope);
    if (r.requests_per_minute !== undefined) addWindow('requests', scope, sk, r.requests_per_minute, 60_000, source);
    if (r.requests_per_day !== undefined) addWindow('requests', scope, sk, r.requests_per_day, 86_400_000, source);
    if (r.tokens_per_minute !== undefined) addWindow('tokens', scope, sk, r.tokens_per_minute, 60_000, source);
  });
  return { counters, windows };
}

/** A caller's specs under one plan, good from the latest start to the earliest end of its calendar windows. */
interface HeldSpecs {
  specs: { counters: CounterSpec[]; windows: WindowSpec[] };
  from: number;
  until: number;
}

/** Callers whose specs are kept per plan; past it the oldest go (a caller seen again builds them anew). */
const HELD_CALLERS = 4096;
const heldSpecs = new WeakMap<readonly BudgetConfig[], WeakMap<readonly RateLimitConfig[], Map<string, HeldSpecs>>>();

/**
 * `limitSpecs` for this request's caller, kept between its requests: keys, merged limits and calendar
 * windows are the same for every request of one caller until a window ends, and building them (key
 * strings, two maps, a spec per limit) was most of what admission costs in-process. Keyed by the plan's
 * own budget and rate-limit arrays (plans live as long as their config) and the caller's scope keys.
 */
function callerSpecs(budgets: readonly BudgetConfig[], rateLimits: readonly RateLimitConfig[], state: RequestState, now: number): HeldSpecs['specs'] {
  // Scope keys are URI-encoded (scope.ts): no newline in any, so the joined text names one caller.
  let caller = '';
  for (const b of budgets) caller += `${scopeKey(b.scope, state)}\n`;
  for (const r of rateLimits) caller += `${scopeKey(r.scope, state)}\n`;
  let byRates = heldSpecs.get(budgets);
  if (!byRates) heldSpecs.set(budgets, (byRates = new WeakMap()));
  let callers = byRates.get(rateLimits);
  if (!callers) byRates.set(rateLimits, (callers = new Map()));
  const held = callers.get(caller);
  if (held && now >= held.from && now < held.until) return held.specs;
  const specs = limitSpecs(budgets, rateLimits, (scope) => scopeKey(scope, state), now);
  let from = -Infinity;
  let until = Infinity;
  for (const c of specs.counters) {
    from = Math.max(from, c.info.window.start);
    until = Math.min(until, c.info.window.end);
  }
  if (!held && callers.size >= HELD_CALLERS) callers.delete(callers.keys().next().value!);
  callers.set(caller, { specs, from, until });
  return specs;
}

/**
 * What a counter can hold. NaN fails every `spent + amount > limit` test, so one NaN reservation in a
 * counter admitted everyone after it; Infinity is no number Redis can add.
 */
const isAmount = (n: number): boolean => Number.isFinite(n) && n >= 0;

/** The body fields tried first when the client's own output bound is no amount: validation leaves them unbounded. */
const SUSPECT_FIRST: ReadonlyArray<(typeof OUTPUT_FIELDS)[number]> = ['thinking', 'reasoning_effort', 'max_completion_tokens', 'max_tokens', 'n'];

/**
 * The refusal of a request whose worst case no counter can hold (`fits` false for its output bound):
 * named after the client's body field without which it would fit, else after the target whose
 * `override_params` make it so — the client's own config is a 400, the server's is ours to fix.
 */
function unboundedRefusal(state: RequestState, fallback: number, fits: (output: number) => boolean): GatewayError {
  const body = state.body;
  if (!fits(maxOutputTokens(body, fallback))) {
    const present = SUSPECT_FIRST.filter((f) => body[f] !== undefined && body[f] !== null);
    const field = present.find((f) => fits(maxOutputTokens({ ...body, [f]: undefined }, fallback))) ?? present[0];
    if (field) {
      const param = field === 'thinking' ? 'thinking.budget_tokens' : field;
      return new GatewayError('invalid_request', `${param} makes the request's output bound no finite number of tokens`, { param });
    }
  } else {
    for (const target of targetsOf(state.plan.root)) {
      const forced: OutputParams = {};
      for (const f of OUTPUT_FIELDS) if (Object.hasOwn(target.overrideParams, f)) forced[f] = target.overrideParams[f];
      if (fits(maxOutputTokens(body, fallback, [forced]))) continue;
      const param = `${target.path}.override_params`;
      const message = `${param} makes the request's output bound no finite number of tokens`;
      return state.plan.fromClient ? new GatewayError('invalid_config', message, { param }) : new GatewayError('internal_error', message);
    }
  }
  return new GatewayError('internal_error', "the request's budget and rate-limit reservation is no finite amount");
}

/**
 * The counters and windows a request claims under the plan's budgets and rate limits (see
 * `limitSpecs`: merged when two configs name the same one, the lower limit wins), with this request's
 * worst-case amounts. Throws rather than hand a store an amount that is not a finite non-negative number.
 */
export function buildClaims(gw: GatewayInternals, state: RequestState, policy: ClaimPolicy, now: number): Claims {
  const { budgets, rateLimits } = state.plan;
  const needsCost = budgets.some((b) => COST_FIELDS.some(([f]) => b[f] !== undefined));
  const needsTokens = needsCost || budgets.some((b) => b.max_tokens_per_day !== undefined) || rateLimits.some((r) => r.tokens_per_minute !== undefined);
  const input = needsTokens ? estimateInputTokens(state.body) : 0;
  if (!isAmount(input)) throw new GatewayError('internal_error', `the request's input token estimate is ${input}, no finite number`);
  // What the upstream is sent, not what the client asked: a target's override_params may raise the limits.
  const output = needsTokens ? maxOutputTokens(state.body, policy.defaultMaxTokens, outputOverridesOf(state.plan)) : 0;
  const nanoFor = (out: number) => (needsCost ? Math.ceil(worstCaseUsd(gw, state, input, out) * NANO_PER_USD) : 0);
  const fits = (out: number) => isAmount(input + out) && isAmount(nanoFor(out));
  const tokens = input + output;
  const reservedNano = nanoFor(output);
  if (!isAmount(tokens) || !isAmount(reservedNano)) throw unboundedRefusal(state, policy.defaultMaxTokens, fits);

  const specs = callerSpecs(budgets, rateLimits, state, now);
  const counters: CounterClaim[] = [];
  const counterInfo: CounterInfo[] = [];
  for (const c of specs.counters) {
    counters.push({ key: c.key, amount: c.info.metric === 'cost' ? reservedNano : tokens, limit: c.limit, expireAt: c.expireAt });
    counterInfo.push(c.info);
  }
  const windows: WindowClaim[] = [];
  const windowInfo: WindowInfo[] = [];
  for (const w of specs.windows) {
    windows.push({ key: w.key, amount: w.info.metric === 'tokens' ? tokens : 1, limit: w.limit, windowMs: w.windowMs });
    windowInfo.push(w.info);
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
