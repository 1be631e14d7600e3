import type { Plan } from '../config/plan.js';
import { markRequestHosts, requestHostsOf } from '../router/ssrf-guard.js';
import type { GatewayKey } from './keyring.js';

const derived = new WeakMap<Plan, Map<string, Plan>>();

/**
 * The plan with a key's own budgets and rate limits added (all scoped to the key), so the limits
 * stage enforces them with everything else in its one store call. One copy per plan and key, kept
 * as long as the plan: the breaker and price lookups that cache per plan stay warm, and the SSRF
 * guard's record of client-chosen hosts carries over.
 */
export function planForKey(plan: Plan, key: GatewayKey): Plan {
  let byKey = derived.get(plan);
  if (!byKey) derived.set(plan, (byKey = new Map()));
  let out = byKey.get(key.name);
  if (!out) {
    out = { ...plan, budgets: [...plan.budgets, ...key.budgets], rateLimits: [...plan.rateLimits, ...key.rateLimits] };
    const hosts = requestHostsOf(plan);
    if (hosts) markRequestHosts(out, hosts);
    byKey.set(key.name, out);
  }
  return out;
}
