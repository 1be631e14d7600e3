import { cacheStage } from '../cache/cache-stage.js';
import { costStage } from '../cost/cost-stage.js';
import { limitsStage } from '../limits/limits-stage.js';
import { authStage } from '../auth/auth-stage.js';
import { logStage } from '../observability/log-stage.js';
import { openStage } from '../observability/open-stage.js';
import type { GatewayInternals } from './internals.js';
import type { PipelineStage } from './state.js';

/**
 * The stages around routing, in order. `before` hooks run top to bottom ahead of the provider call
 * (limits, budget reservation, cache lookup); `after` hooks run top to bottom once the response is
 * complete (cost first, so settlement and logs see it). `limits` checks rate limits and reserves
 * budgets in one store call, and settles them after the cost is known. `cache` comes after them (a
 * hit still counts as a request, at zero cost) and stores complete answers once they are costed.
 * `observability-open` comes first (a refusal by any later stage still gets its record), `auth` next
 * (a gateway key's model list and own limits, before anything is counted), and `observability-log`
 * last, so its record sees the cost, the cache's result and the settlement.
 */
export function buildStages(gw: GatewayInternals): PipelineStage[] {
  return [openStage(gw), authStage(gw), costStage(gw), limitsStage(gw), cacheStage(gw), logStage(gw)];
}
