import { cacheStage } from '../cache/cache-stage.js';
import { costStage } from '../cost/cost-stage.js';
import { limitsStage } from '../limits/limits-stage.js';
import type { GatewayInternals } from './internals.js';
import type { PipelineStage } from './state.js';

/**
 * The stages around routing, in order. `before` hooks run top to bottom ahead of the provider call
 * (limits, budget reservation, cache lookup); `after` hooks run top to bottom once the response is
 * complete (cost first, so settlement and logs see it). `limits` checks rate limits and reserves
 * budgets in one store call, and settles them after the cost is known. `cache` comes after them (a
 * hit still counts as a request, at zero cost) and stores complete answers once they are costed.
 */
export function buildStages(gw: GatewayInternals): PipelineStage[] {
  return [costStage(gw), limitsStage(gw), cacheStage(gw)];
}
