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
export function authStage(gw: GatewayInternals): PipelineStage {
  const keyring = keyringOf(gw);
  return {
    name: 'auth',
    before(state) {
      const name = state.identity.key;
      const key = keyring && typeof name === 'string' ? keyring.byName(name) : undefined;
      if (!key) return;
      const model = state.body.model;
      if (key.allows && !key.allows(model) && !key.allows(state.plan.aliases[model] ?? model)) {
        throw new GatewayError('forbidden', `model "${model}" is not allowed for gateway key "${key.name}"; allowed: ${key.models!.join(', ')}`, {
          param: 'model',
        });
      }
      if (key.budgets.length || key.rateLimits.length) state.plan = planForKey(state.plan, key);
    },
  };
}
