import type { GatewayInternals } from '../pipeline/internals.js';
import type { LogAttempt, RequestLogRecord } from '../observability/log-record.js';
import { recentRequests } from '../observability/recent-requests-view.js';

/** One row of the usage view: the log record without bodies, metadata or identities. */
export interface RecentRequest {
  /** ISO time the request arrived. */
  time: string;
  trace_id: string;
  route: string;
  model?: string;
  provider?: string;
  target?: string;
  status: number;
  outcome: string;
  latency_ms: number;
  ttft_ms?: number;
  tokens?: { prompt: number; completion: number; total: number };
  cost?: number;
  cost_status?: string;
  cache: string;
  retries: number;
  fallbacks: number;
  attempts: LogAttempt[];
  error?: string;
}

export function toRecentRequest(r: RequestLogRecord): RecentRequest {
  const model = r.model ?? r.requested_model;
  return {
    time: r.started_at,
    trace_id: r.trace_id,
    route: r.route,
    ...(model ? { model } : {}),
    ...(r.provider ? { provider: r.provider } : {}),
    ...(r.target ? { target: r.target } : {}),
    status: r.status,
    outcome: r.outcome,
    latency_ms: r.duration_ms,
    ...(r.ttft_ms !== undefined ? { ttft_ms: r.ttft_ms } : {}),
    ...(r.usage ? { tokens: { prompt: r.usage.input_tokens, completion: r.usage.output_tokens, total: r.usage.total_tokens } } : {}),
    ...(r.cost_usd !== undefined ? { cost: r.cost_usd } : {}),
    ...(r.cost_status ? { cost_status: r.cost_status } : {}),
    cache: r.cache.status,
    retries: r.retries,
    fallbacks: r.fallbacks,
    attempts: r.attempts,
    ...(r.error ? { error: r.error.message } : {}),
  };
}

/**
 * The usage view's rows from the gateway's recent-requests ring (newest first, at most `limit`).
 * `available` is false when the ring is turned off (`recentRequests: 0`).
 */
export function recentRows(gw: GatewayInternals, limit?: number): { available: boolean; requests: RecentRequest[] } {
  const view = recentRequests(gw, limit === undefined ? {} : { limit });
  return { available: view.capacity > 0, requests: view.records.map(toRecentRequest) };
}
