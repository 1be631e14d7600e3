import type { Gateway } from '../gateway.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestLogRecord } from './log-record.js';
import { observabilityOf } from './observability.js';

export interface RecentRequestsView {
  object: 'llmux.recent_requests';
  /** Newest first, already redacted. */
  records: RequestLogRecord[];
  /** How many the gateway keeps (`recentRequests` option). */
  capacity: number;
  /** Records lost per sink since start (`queue`, `redact`, `logger`, `onLog`, …). */
  dropped: Record<string, number>;
}

/**
 * The last requests this process handled, for a usage page or the playground. Records still queued
 * for the sinks are delivered first.
 */
export function recentRequests(gateway: Gateway | GatewayInternals, options: { limit?: number } = {}): RecentRequestsView {
  const gw = 'internals' in gateway ? gateway.internals : gateway;
  const obs = observabilityOf(gw);
  obs.drain();
  return { object: 'llmux.recent_requests', records: obs.recent.list(options.limit), capacity: obs.recent.capacity, dropped: { ...obs.dropped } };
}
