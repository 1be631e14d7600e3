import { targetsOf, type Plan } from '../config/plan.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import type { ResolvedTarget } from '../providers/types.js';

/** The model a target is asked for: its `override_params.model`, an alias, or the client's model. */
export function upstreamModel(plan: Plan, target: ResolvedTarget, requested: string): string {
  const override = target.overrideParams.model;
  if (typeof override === 'string') return override;
  return plan.aliases[requested] ?? requested;
}

/** One way a request may be served: the provider and the model it is called with (a one-name list for `PriceBook.find`). */
export interface Candidate {
  provider: string;
  models: string[];
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
    // The client's name is not a candidate where an override or alias replaced it: that model is never
    // called, and pricing the call as it would invent a cost (or let `unpricedPolicy: 'reject'` admit
    // an unpriced model).
    for (const target of targetsOf(root)) {
      const called = upstreamModel(state.plan, target, model ?? requested);
      out.set(`${target.provider}\u0000${called}`, { provider: target.provider, models: [called] });
    }
  } catch {
    // The router answers a model it cannot place with its own 400; nothing to price here.
  }
  list = [...out.values()];
  if (perModel.size < 1000) perModel.set(requested, list);
  return list;
}

/**
 * The names the answered request may be priced under, all of the model actually called: the one the
 * provider reported (a dated snapshot, or what an Azure deployment runs), then the one it was sent.
 * The client's own spelling (`anthropic/claude-…`, a `pricing` key) is added only when nothing
 * replaced it — after an override or alias it names another model.
 */
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
  if (upstream === requested && state.body.model !== upstream) names.push(state.body.model);
  return names;
}
