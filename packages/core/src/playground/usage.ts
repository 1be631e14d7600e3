import type { GatewayInternals } from '../pipeline/internals.js';
import { usageReport, type BudgetUsageRow, type RateLimitUsageRow } from '../limits/usage-view.js';
import type { GatewayRequest, GatewayResponse } from '../types.js';
import { requirePlaygroundAccess } from './access.js';
import { recentRows, type RecentRequest } from './recent-requests.js';

export interface CacheRate {
  /** Recent requests that looked in the cache (hits and misses; forced refreshes and disabled excluded). */
  lookups: number;
  hits: number;
  /** hits / lookups, 0 without lookups. */
  hit_rate: number;
}

export interface PlaygroundUsage {
  object: 'llmux.playground.usage';
  generated_at: string;
  store: string;
  budgets: BudgetUsageRow[];
  rate_limits: RateLimitUsageRow[];
  /** Why budgets and limits are missing (the store is down); the recent requests still show. */
  limits_error?: string;
  recent: { available: boolean; requests: RecentRequest[] };
  cache: CacheRate;
}

const HITS = new Set(['HIT', 'SEMANTIC_HIT']);

export function cacheRate(requests: readonly RecentRequest[]): CacheRate {
  let lookups = 0;
  let hits = 0;
  for (const r of requests) {
    if (r.cache === 'MISS') lookups++;
    else if (r.cache && HITS.has(r.cache)) (lookups++, hits++);
  }
  return { lookups, hits, hit_rate: lookups ? hits / lookups : 0 };
}

const jsonHeaders = (traceId: string) => ({ 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId, 'cache-control': 'no-store' });

/** `GET <mount>/playground/api/usage`: `/usage`'s report plus the recent requests and the cache hit rate. */
export async function handlePlaygroundUsage(gw: GatewayInternals, req: GatewayRequest, traceId: string): Promise<GatewayResponse> {
  requirePlaygroundAccess(gw, req);
  const recent = recentRows(gw, 100);
  const body: PlaygroundUsage = {
    object: 'llmux.playground.usage',
    generated_at: new Date().toISOString(),
    store: gw.store.kind,
    budgets: [],
    rate_limits: [],
    recent,
    cache: cacheRate(recent.requests),
  };
  try {
    const report = usageReport(gw, await gw.store.readUsage());
    body.budgets = report.budgets;
    body.rate_limits = report.rate_limits;
  } catch {
    // The page stays useful while the store is down; it says why the budget tables are empty.
    body.limits_error = `the ${gw.store.kind} store holding budgets and rate limits cannot be reached`;
  }
  return { status: 200, headers: jsonHeaders(traceId), body };
}

/** `GET <mount>/playground/api/requests?trace_id=…`: the recent requests, or the one with that trace id. */
export async function handleRecentRequests(gw: GatewayInternals, req: GatewayRequest, traceId: string): Promise<GatewayResponse> {
  requirePlaygroundAccess(gw, req);
  const q = req.path.indexOf('?');
  const wanted = new URLSearchParams(q === -1 ? '' : req.path.slice(q + 1)).get('trace_id');
  const recent = recentRows(gw, wanted ? undefined : 100);
  const data = wanted ? recent.requests.filter((r) => r.trace_id === wanted) : recent.requests;
  return { status: 200, headers: jsonHeaders(traceId), body: { object: 'list', available: recent.available, data } };
}
