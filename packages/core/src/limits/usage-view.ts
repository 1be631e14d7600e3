import type { BudgetConfig, RateLimitConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayResponse } from '../types.js';
import type { LimitUsage } from '../store/limit-store.js';
import { requireAdmin } from './admin-key.js';
import { calendarWindow, type Period } from './calendar.js';
import { counterKey, NANO_PER_USD, windowKey } from './claims.js';
import { parseScopeKey } from './scope.js';

export interface BudgetUsageRow {
  /** Index in the config's `budget` list. */
  budget: number;
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
  /** Index in the config's `rate_limit` list. */
  rate_limit: number;
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

const toArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const BUDGET_FIELDS: Array<[keyof BudgetConfig, 'cost' | 'tokens', Period]> = [
  ['max_cost_per_hour', 'cost', 'hour'],
  ['max_cost_per_day', 'cost', 'day'],
  ['max_cost_per_month', 'cost', 'month'],
  ['max_tokens_per_day', 'tokens', 'day'],
];

const RATE_FIELDS: Array<[keyof RateLimitConfig, 'requests' | 'tokens', number]> = [
  ['requests_per_minute', 'requests', 60_000],
  ['requests_per_day', 'requests', 86_400_000],
  ['tokens_per_minute', 'tokens', 60_000],
];

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

/** Spend and remaining budget per scope in the current windows, and the state of every rate limit. */
export function usageReport(gw: GatewayInternals, usage: LimitUsage, now = Date.now()): UsageReport {
  const plan = gw.plans.serverPlan;
  const budgets: BudgetUsageRow[] = [];
  plan.budgets.forEach((b, index) => {
    const scope = b.scope ?? 'gateway';
    const timezone = b.timezone ?? 'UTC';
    for (const [field, metric, period] of BUDGET_FIELDS) {
      const limitValue = b[field] as number | undefined;
      if (limitValue === undefined) continue;
      const window = calendarWindow(period, now, timezone);
      const suffix = counterKey('', metric, period, timezone, window.id).slice(2);
      const rows = matching(usage.counters, scope, suffix);
      if (scope === 'gateway' && rows.length === 0) rows.push({ key: '', spent: 0, reserved: 0, scopeKeyPart: 'gateway' });
      const unit = metric === 'cost' ? NANO_PER_USD : 1;
      for (const row of rows) {
        const { value } = parseScopeKey(row.scopeKeyPart);
        const spent = row.spent / unit;
        const reserved = row.reserved / unit;
        budgets.push({
          budget: index,
          scope,
          ...(value !== undefined ? { scope_value: value } : {}),
          metric,
          unit: metric === 'cost' ? 'usd' : 'tokens',
          period,
          timezone,
          window: window.id,
          limit: limitValue,
          spent,
          reserved,
          remaining: Math.max(0, limitValue - spent - reserved),
          resets_at: new Date(window.end).toISOString(),
        });
      }
    }
  });
  const rateLimits: RateLimitUsageRow[] = [];
  plan.rateLimits.forEach((r, index) => {
    const scope = r.scope ?? 'gateway';
    for (const [field, metric, windowMs] of RATE_FIELDS) {
      const limit = r[field] as number | undefined;
      if (limit === undefined) continue;
      const suffix = windowKey('', metric, windowMs).slice(2);
      const rows = matching(usage.windows, scope, suffix);
      if (scope === 'gateway' && rows.length === 0) rows.push({ key: '', used: 0, scopeKeyPart: 'gateway' });
      for (const row of rows) {
        const { value } = parseScopeKey(row.scopeKeyPart);
        rateLimits.push({
          rate_limit: index,
          scope,
          ...(value !== undefined ? { scope_value: value } : {}),
          metric,
          window_seconds: windowMs / 1000,
          limit,
          used: row.used,
          remaining: Math.max(0, limit - row.used),
        });
      }
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
