import type { Plan, PlanNode } from '../config/plan.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import type { ResolvedTarget } from '../providers/types.js';

/** The model a target is asked for: its `override_params.model`, an alias, or the client's model. */
export function upstreamModel(plan: Plan, target: ResolvedTarget, requested: string): string {
  const override = target.overrideParams.model;
  if (typeof override === 'string') return override;
  return plan.aliases[requested] ?? requested;
}

/** One way a request may be served, with the names its price may be found under (most exact first). */
export interface Candidate {
  provider: string;
  models: string[];
}

function walk(node: PlanNode, plan: Plan, requested: string, out: Map<string, Candidate>): void {
  if (node.kind === 'strategy') {
    for (const child of node.children) walk(child, plan, requested, out);
    return;
  }
  const model = upstreamModel(plan, node.target, requested);
  const models = model === requested ? [model] : [model, requested];
  out.set(`${node.target.provider}\u0000${models.join('\u0000')}`, { provider: node.target.provider, models });
}

const byPlan = new WeakMap<Plan, Map<string, Candidate[]>>();

/**
 * Every target that may serve the request — all branches of fallbacks, load balancers and conditions,
 * since the router picks one only after the budget has been reserved. Kept per plan and model.
 */
export function candidatesFor(gw: GatewayInternals, state: RequestState): Candidate[] {
  const requested = state.body.model;
  let perModel = byPlan.get(state.plan);
  if (!perModel) byPlan.set(state.plan, (perModel = new Map()));
  let list = perModel.get(requested);
  if (list) return list;
  const out = new Map<string, Candidate>();
  try {
    const { root, model } = gw.plans.rootFor(state.plan, requested);
    walk(root, state.plan, model ?? requested, out);
  } catch {
    // The router answers a model it cannot place with its own 400; nothing to price here.
  }
  list = [...out.values()];
  if (perModel.size < 1000) perModel.set(requested, list);
  return list;
}

/** The names the answered request may be priced under: the model the provider reported, then the one asked for. */
export function servedModels(gw: GatewayInternals, state: RequestState, reported?: string): string[] {
  const target = state.target!;
  let requested = state.body.model;
  if (!state.plan.root) {
    try {
      requested = gw.plans.rootFor(state.plan, requested).model ?? requested;
    } catch {
      // Unreachable once a target answered; the client's name is the best we have.
    }
  }
  const upstream = upstreamModel(state.plan, target, requested);
  const names = reported && reported !== upstream ? [reported, upstream] : [upstream];
  if (state.body.model !== upstream) names.push(state.body.model);
  return names;
}
