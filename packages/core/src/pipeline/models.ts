import type { PlanNode } from '../config/plan.js';
import type { GatewayRequest, GatewayResponse } from '../types.js';
import type { GatewayInternals } from './internals.js';

function collect(node: PlanNode | undefined, out: Map<string, string>): void {
  if (!node) return;
  if (node.kind === 'strategy') return node.children.forEach((c) => collect(c, out));
  const model = node.target.overrideParams.model;
  if (typeof model === 'string' && !out.has(model)) out.set(model, node.target.provider);
}

/**
 * `GET /v1/models`: the models the config names, and its aliases. The config is the one the request
 * would route by: a config header the server refuses is refused here too (403), as on every route.
 */
export function handleModels(gw: GatewayInternals, req: GatewayRequest, traceId: string): GatewayResponse {
  const plan = gw.plans.forRequest(req);
  const models = new Map<string, string>();
  for (const alias of Object.keys(plan.aliases)) models.set(alias, 'llmux');
  collect(plan.root, models);
  return {
    status: 200,
    headers: { 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId },
    body: { object: 'list', data: [...models].map(([id, owned_by]) => ({ id, object: 'model', created: 0, owned_by })) },
  };
}
