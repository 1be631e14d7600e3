import type { Plan, PlanNode } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { PipelineStage } from '../pipeline/state.js';
import { keyringOf } from './keyring-of.js';
import { planForKey } from './key-plan.js';

/**
 * What a gateway key may do, checked once the body is known and before any limit is counted: its
 * models (403 naming the model), and its own budgets and rate limits, handed to the limits stage
 * through the request's plan.
 */
/** What a client's plan may send upstream for `model`: its alias of it (or the name), and every model a target forces. */
function clientModels(plan: Plan, model: string): string[] {
  const out = [Object.hasOwn(plan.aliases, model) ? plan.aliases[model]! : model];
  const walk = (node: PlanNode | undefined): void => {
    if (!node) return;
    if (node.kind === 'strategy') return node.children.forEach(walk);
    const forced = node.target.overrideParams.model;
    if (typeof forced === 'string') out.push(forced);
  };
  walk(plan.root);
  return out;
}

export function authStage(gw: GatewayInternals): PipelineStage {
  const keyring = keyringOf(gw);
  return {
    name: 'auth',
    before(state) {
      const name = state.identity.key;
      const key = keyring && typeof name === 'string' ? keyring.byName(name) : undefined;
      if (!key) return;
      const model = state.body.model;
      const allows = key.allows;
      if (allows) {
        const permitted =
          state.plan === gw.plans.serverPlan
            ? // The server's own aliases and targets are its choice: the name the key may use is enough.
              allows(model) || allows(state.plan.aliases[model] ?? model)
            : // A client's config could alias an allowed name to any model, or force one on a target:
              // every model it may send upstream must be allowed.
              clientModels(state.plan, model).every(allows);
        if (!permitted) {
          throw new GatewayError('forbidden', `model "${model}" is not allowed for gateway key "${key.name}"; allowed: ${key.models!.join(', ')}`, {
            param: 'model',
          });
        }
      }
      if (key.budgets.length || key.rateLimits.length) state.plan = planForKey(state.plan, key);
    },
  };
}
