import { planForKey } from '../auth/key-plan.js';
import { keyringOf } from '../auth/keyring-of.js';
import type { GatewayKey } from '../auth/keyring.js';
import { GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayResponse } from '../types.js';
import type { LimitUsage } from '../store/limit-store.js';
import { requireAdmin } from './admin-key.js';
import type { Period } from './calendar.js';
import { limitSpecs, NANO_PER_USD, type CounterSpec, type WindowSpec } from './claims.js';
import { parseScopeKey, scopeKeyFor } from './scope.js';

export interface BudgetUsageRow {
  /** Index in the config's `budget` list, or in the gateway key's own when `gateway_key` is set. */
  budget: number;
  /** The gateway key whose own budget sets this limit (the lower wins when it shares the counter with the config's). */
  gateway_key?: string;
  scope: string;
  scope_value?: string;
  metric: 'cost' | 'tokens';
  unit: 'usd' | 'tokens';
  period: Period;
  timezone: string;
  window: string;
  limit: number;
  spent: number;
  /** Held by requests in flight. */
  reserved: number;
  remaining: number;
  resets_at: string;
}

export interface RateLimitUsageRow {
  /** Index in the config's `rate_limit` list, or in the gateway key's own when `gateway_key` is set. */
  rate_limit: number;
  /** The gateway key whose own rate limit sets this limit (the lower wins when it shares the window with the config's). */
  gateway_key?: string;
  scope: string;
  scope_value?: string;
  metric: 'requests' | 'tokens';
  window_seconds: number;
  limit: number;
  used: number;
  remaining: number;
}

export interface UsageReport {
  object: 'llmux.usage';
  store: string;
  generated_at: string;
  budgets: BudgetUsageRow[];
  rate_limits: RateLimitUsageRow[];
}

/** Counter keys are `b:<scope>[=<value>]:<metric>:<period>:<window>`; this finds every value of one scope. */
function matching<T extends { key: string }>(rows: readonly T[], scope: string, suffix: string): Array<T & { scopeKeyPart: string }> {
  const out: Array<T & { scopeKeyPart: string }> = [];
  for (const row of rows) {
    if (!row.key.endsWith(suffix)) continue;
    const scopeKeyPart = row.key.slice(2, row.key.length - suffix.length);
    const parsed = parseScopeKey(scopeKeyPart);
    if (parsed.scope === scope) out.push({ ...row, scopeKeyPart });
  }
  return out;
}

/** Where an enforced limit was configured: the config's lists, or a gateway key's own. */
type Source = (index: number) => { index: number; gatewayKey?: string };

function budgetRow(spec: CounterSpec, from: ReturnType<Source>, row: { spent: number; reserved: number; scopeKeyPart: string }): BudgetUsageRow {
  const { metric, period, scope, timeZone, window } = spec.info;
  const { value } = parseScopeKey(row.scopeKeyPart);
  const unit = metric === 'cost' ? NANO_PER_USD : 1;
  const limit = spec.limit / unit;
  const spent = row.spent / unit;
  const reserved = row.reserved / unit;
  return {
    budget: from.index,
    ...(from.gatewayKey !== undefined ? { gateway_key: from.gatewayKey } : {}),
    scope,
    ...(value !== undefined ? { scope_value: value } : {}),
    metric,
    unit: metric === 'cost' ? 'usd' : 'tokens',
    period,
    timezone: timeZone,
    window: window.id,
    limit,
    spent,
    reserved,
    remaining: Math.max(0, limit - spent - reserved),
    resets_at: new Date(window.end).toISOString(),
  };
}

function rateRow(spec: WindowSpec, from: ReturnType<Source>, row: { used: number; scopeKeyPart: string }): RateLimitUsageRow {
  const { value } = parseScopeKey(row.scopeKeyPart);
  return {
    rate_limit: from.index,
    ...(from.gatewayKey !== undefined ? { gateway_key: from.gatewayKey } : {}),
    scope: spec.info.scope,
    ...(value !== undefined ? { scope_value: value } : {}),
    metric: spec.info.metric,
    window_seconds: spec.windowMs / 1000,
    limit: spec.limit,
    used: row.used,
    remaining: Math.max(0, spec.limit - row.used),
  };
}

/**
 * Spend and remaining budget per scope in the current windows, and the state of every rate limit.
 * Rows are built per counter and window the way admission builds its claims (`limitSpecs`), so a
 * limit two configs share shows the one enforced, the lower. A gateway key with its own budgets or
 * rate limits gets its `scope: "key"` rows from its plan as admission sees it (the config's and its
 * own, merged), listed even before it is used.
 */
export function usageReport(gw: GatewayInternals, usage: LimitUsage, now = Date.now()): UsageReport {
  const plan = gw.plans.serverPlan;
  const budgets: BudgetUsageRow[] = [];
  const rateLimits: RateLimitUsageRow[] = [];

  // Gateway keys with limits of their own: their `key=<name>` counters are reported from their plan.
  const ring = keyringOf(gw);
  const keys = (gw.options.auth?.keys ?? [])
    .map((k) => ring?.byName(k.name))
    .filter((k): k is GatewayKey => !!k && (k.budgets.length > 0 || k.rateLimits.length > 0));
  // The scope key admission gives each: `key=<name>`, encoded as any scope value is.
  const keyScopes = keys.map((key) => scopeKeyFor('key', key.name));
  const ownScopes = new Set(keyScopes);

  // The config's own limits, for every value of their scope found in the store. A scope key stands in
  // for the value, so two configs of one scope and window merge as they do for any one caller.
  const specs = limitSpecs(plan.budgets, plan.rateLimits, (scope) => scope, now);
  const configSource: Source = (index) => ({ index });
  for (const spec of specs.counters) {
    const suffix = spec.key.slice(2 + spec.info.scopeKey.length);
    const rows = matching(usage.counters, spec.info.scope, suffix).filter((r) => !ownScopes.has(r.scopeKeyPart));
    if (spec.info.scope === 'gateway' && rows.length === 0) rows.push({ key: '', spent: 0, reserved: 0, scopeKeyPart: 'gateway' });
    for (const row of rows) budgets.push(budgetRow(spec, configSource(spec.source), row));
  }
  for (const spec of specs.windows) {
    const suffix = spec.key.slice(2 + spec.info.scopeKey.length);
    const rows = matching(usage.windows, spec.info.scope, suffix).filter((r) => !ownScopes.has(r.scopeKeyPart));
    if (spec.info.scope === 'gateway' && rows.length === 0) rows.push({ key: '', used: 0, scopeKeyPart: 'gateway' });
    for (const row of rows) rateLimits.push(rateRow(spec, configSource(spec.source), row));
  }
  const storedCounters = new Map(usage.counters.map((c) => [c.key, c]));
  const storedWindows = new Map(usage.windows.map((w) => [w.key, w]));
  keys.forEach((key, k) => {
    const sk = keyScopes[k]!;
    // The plan admission enforces for this key (planForKey): the config's limits and the key's own.
    const keyPlan = planForKey(plan, key);
    const specs = limitSpecs(keyPlan.budgets, keyPlan.rateLimits, (scope) => (scope === 'key' ? sk : scope), now);
    const budgetSource: Source = (i) => (i < plan.budgets.length ? { index: i } : { index: i - plan.budgets.length, gatewayKey: key.name });
    const rateSource: Source = (i) => (i < plan.rateLimits.length ? { index: i } : { index: i - plan.rateLimits.length, gatewayKey: key.name });
    for (const spec of specs.counters) {
      if (spec.info.scope !== 'key') continue;
      const stored = storedCounters.get(spec.key);
      budgets.push(budgetRow(spec, budgetSource(spec.source), { spent: stored?.spent ?? 0, reserved: stored?.reserved ?? 0, scopeKeyPart: sk }));
    }
    for (const spec of specs.windows) {
      if (spec.info.scope !== 'key') continue;
      const stored = storedWindows.get(spec.key);
      rateLimits.push(rateRow(spec, rateSource(spec.source), { used: stored?.used ?? 0, scopeKeyPart: sk }));
    }
  });
  return { object: 'llmux.usage', store: gw.store.kind, generated_at: new Date(now).toISOString(), budgets, rate_limits: rateLimits };
}

/** `GET <mount>/usage`, behind the admin key. `?scope=user&value=alice` narrows the rows. */
export async function handleUsage(gw: GatewayInternals, req: { method: string; path: string; headers: Record<string, string | string[] | undefined> }, traceId: string): Promise<GatewayResponse> {
  requireAdmin(gw, req);
  let usage: LimitUsage;
  try {
    usage = await gw.store.readUsage();
  } catch (e) {
    throw new GatewayError('store_unavailable', `the ${gw.store.kind} store holding budgets and rate limits cannot be reached`, { cause: e });
  }
  const report = usageReport(gw, usage);
  const query = new URLSearchParams(req.path.includes('?') ? req.path.slice(req.path.indexOf('?') + 1) : '');
  const scope = query.get('scope');
  const value = query.get('value');
  const keep = (row: { scope: string; scope_value?: string }) => (!scope || row.scope === scope) && (value === null || row.scope_value === value);
  report.budgets = report.budgets.filter(keep);
  report.rate_limits = report.rate_limits.filter(keep);
  return {
    status: 200,
    headers: { 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId, 'cache-control': 'no-store' },
    body: report,
  };
}
