import { targetsOf } from '../config/plan.js';
import { candidatesFor } from '../cost/model-names.js';
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
      const allows = key.allows;
      if (allows) {
        const permitted =
          state.plan.fromClient !== true
            ? // The server's own aliases and targets are its choice: the name the key may use is enough.
              allows(model) || allows(state.plan.aliases[model] ?? model)
            : // A client's config could alias an allowed name to any model, or force one on a target:
              // every model it may send upstream must be allowed (the ones budgets are reserved for; a
              // model no target can take gets the router's 400, with nothing sent).
              // A target setting that picks the model (Azure's deployment) must name an allowed one too.
              candidatesFor(gw, state).every((c) => allows(c.models[0]!)) &&
              targetsOf(state.plan.root).every((t) => {
                const setting = gw.registry.get(t.provider)?.modelSetting;
                const named = setting === undefined ? undefined : t.extra[setting];
                return typeof named !== 'string' || allows(named);
              });
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
