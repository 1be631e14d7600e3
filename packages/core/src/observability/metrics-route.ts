import { GatewayError } from '../errors.js';
import { hasAdminKey, requireAdmin } from '../limits/admin-key.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayRequest, GatewayResponse } from '../types.js';
import { observabilityOf } from './observability.js';

/**
 * `GET <mount>/metrics` in the Prometheus text format. Open when the gateway has no admin key and no
 * `auth` (a scrape target inside the app's network); otherwise behind the same admin check as `/usage`.
 * Queued records are delivered first, so a scrape right after a request sees it.
 */
export async function handleMetrics(gw: GatewayInternals, req: GatewayRequest, traceId: string): Promise<GatewayResponse> {
  const obs = observabilityOf(gw);
  const metrics = gw.options.metrics;
  if (!obs.metrics || (metrics && metrics.route === false)) {
    throw new GatewayError('not_found', `no route for ${req.method} ${req.path.split('?')[0]}`);
  }
  if (gw.options.auth || hasAdminKey(gw)) requireAdmin(gw, req);
  obs.drain();
  return {
    status: 200,
    headers: { 'content-type': obs.metrics.contentType, 'cache-control': 'no-store', 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId },
    body: await obs.metrics.render(),
  };
}
