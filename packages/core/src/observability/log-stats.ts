import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayResponse } from '../types.js';
import { observabilityOf } from './observability.js';

/** How the request log is doing, as the usage view shows it. */
export interface LogStats {
  /** Records lost since start, by sink (`queue`, `redact`, `logger`, `onLog`, `tracing`, …). */
  dropped: Record<string, number>;
  /** Records kept for `recentRequests()` at most. */
  recent_capacity: number;
}

export function logStats(gw: GatewayInternals): LogStats {
  const obs = observabilityOf(gw);
  return { dropped: { ...obs.dropped }, recent_capacity: obs.recent.capacity };
}

/** `GET <mount>/usage` with a `logs` section: a sink that loses records should be seen where spend is. */
export function withLogStats(gw: GatewayInternals, res: GatewayResponse): GatewayResponse {
  if (res.status !== 200 || typeof res.body !== 'object' || res.body === null) return res;
  return { ...res, body: { ...res.body, logs: logStats(gw) } };
}
