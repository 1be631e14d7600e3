import type { GatewayInternals } from '../pipeline/internals.js';
import type { PipelineStage, RequestState } from '../pipeline/state.js';
import { candidatesFor } from './model-names.js';
import { computeCost, costScratch, costStatusHeaders, priceBookOf, unpricedRefusal } from './request-cost.js';

/** Refuses, before any call, a request that some target could serve with a model that has no price. */
function assertPriced(gw: GatewayInternals, state: RequestState): void {
  const book = priceBookOf(gw);
  for (const c of candidatesFor(gw, state)) {
    if (!book.find(c.provider, c.models)) throw unpricedRefusal(c, 'unpricedPolicy is "reject"');
  }
}

/**
 * Costs every answered request from its usage, first among the `after` hooks so settlement and logs
 * see `state.cost`. A model without a price is flagged (`x-llmux-cost-status: unpriced`, a warning once
 * per model) and, with `unpricedPolicy: 'reject'`, refused up front.
 */
export function costStage(gw: GatewayInternals): PipelineStage {
  const warned = new Set<string>();
  const stage: PipelineStage = {
    name: 'cost',
    after(state, outcome) {
      const scratch = costScratch(state);
      if (outcome.completion?.model) scratch.reportedModel = outcome.completion.model;
      computeCost(gw, state);
      if (state.cost !== undefined || !scratch.status) return;
      Object.assign(state.headers, costStatusHeaders(state));
      const id = `${scratch.provider}/${scratch.model}`;
      if (scratch.status === 'unpriced' && !warned.has(id) && warned.size < 1000) {
        warned.add(id);
        gw.logger?.warn(
          { provider: scratch.provider, model: scratch.model, traceId: state.traceId },
          'llmux: no price known for this model; its cost is not counted (set the pricing option)',
        );
      }
    },
  };
  if (gw.options.unpricedPolicy === 'reject') stage.before = (state) => assertPriced(gw, state);
  return stage;
}
