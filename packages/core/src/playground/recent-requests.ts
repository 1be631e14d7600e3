import type { AttemptSummary } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';

/** One row of the usage view's recent-requests table. */
export interface RecentRequest {
  /** ISO time the request started. */
  time: string;
  trace_id: string;
  route?: string;
  model?: string;
  provider?: string;
  target?: string;
  status: number;
  latency_ms?: number;
  ttft_ms?: number;
  tokens?: { prompt?: number; completion?: number; total?: number };
  cost?: number;
  cache?: string;
  attempts?: AttemptSummary[];
}

/** Newest first, at most `limit`. `available` is false when the gateway keeps no log ring. */
export async function recentRequests(_gw: GatewayInternals, _limit?: number): Promise<{ available: boolean; requests: RecentRequest[] }> {
  return { available: false, requests: [] };
}
