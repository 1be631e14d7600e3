import { targetsOf } from '../config/plan.js';
import type { GatewayRequest, GatewayResponse } from '../types.js';
import type { GatewayInternals } from './internals.js';

/**
 * `GET /v1/models`: the models the config names, and its aliases. The config is the one the request
 * would route by: a config header the server refuses is refused here too (403), as on every route.
 */
export function handleModels(gw: GatewayInternals, req: GatewayRequest, traceId: string): GatewayResponse {
  const plan = gw.plans.forRequest(req);
  const models = new Map<string, string>();
  for (const alias of Object.keys(plan.aliases)) models.set(alias, 'llmux');
  for (const target of targetsOf(plan.root)) {
    const model = target.overrideParams.model;
    if (typeof model === 'string' && !models.has(model)) models.set(model, target.provider);
  }
  return {
    status: 200,
    headers: { 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId },
    body: { object: 'list', data: [...models].map(([id, owned_by]) => ({ id, object: 'model', created: 0, owned_by })) },
  };
}
