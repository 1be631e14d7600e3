import type { GatewayInternals } from './internals.js';
import type { PipelineStage } from './state.js';

/**
 * The stages around routing, in order. `before` hooks run top to bottom ahead of the provider call
 * (limits, budget reservation, cache lookup); `after` hooks run top to bottom once the response is
 * complete (cost first, so settlement and logs see it).
 */
export function buildStages(_gw: GatewayInternals): PipelineStage[] {
  return [];
}
