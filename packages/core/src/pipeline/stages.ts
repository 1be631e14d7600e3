import { cacheStage } from '../cache/cache-stage.js';
import type { GatewayInternals } from './internals.js';
import type { PipelineStage } from './state.js';

/**
 * The stages around routing, in order. `before` hooks run top to bottom ahead of the provider call
 * (limits, budget reservation, cache lookup); `after` hooks run top to bottom once the response is
 * complete (cost first, so settlement and logs see it). `cache` comes last: a hit still counts as a
 * request (at zero cost), and answers are stored once they are costed.
 */
export function buildStages(gw: GatewayInternals): PipelineStage[] {
  return [cacheStage(gw)];
}
