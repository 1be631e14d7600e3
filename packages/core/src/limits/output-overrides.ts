import { targetsOf, type Plan } from '../config/plan.js';
import { OUTPUT_FIELDS, type OutputParams } from './estimate.js';

/** The output fields a target's `override_params` force on every body it sends, if any. */
function forced(params: Record<string, unknown>): OutputParams | undefined {
  let out: OutputParams | undefined;
  for (const field of OUTPUT_FIELDS) if (Object.hasOwn(params, field)) (out ??= {})[field] = params[field];
  return out;
}

const NONE: readonly OutputParams[] = [];

function collect(plan: Plan): readonly OutputParams[] {
  // Without a config the model name picks a target built from the provider alone (PlanResolver.rootFor): it forces nothing.
  if (!plan.root) return NONE;
  const sets = new Map<string, OutputParams>();
  for (const target of targetsOf(plan.root)) {
    const fields = forced(target.overrideParams) ?? {};
    sets.set(JSON.stringify(fields), fields);
  }
  return sets.size === 1 && sets.has('{}') ? NONE : [...sets.values()];
}

const byPlan = new WeakMap<Plan, readonly OutputParams[]>();

/**
 * The output limits the plan's targets force over the client's body, one entry per distinct set (`{}`
 * for targets that force none), for `maxOutputTokens`. Every branch counts, as for prices: the router
 * picks one only after the budget has been reserved. Empty for the usual plan without such overrides,
 * so the body alone bounds the output. Worked out once per compiled plan.
 */
export function outputOverridesOf(plan: Plan): readonly OutputParams[] {
  let list = byPlan.get(plan);
  if (list === undefined) byPlan.set(plan, (list = collect(plan)));
  return list;
}
