import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import { GatewayError } from '../errors.js';
import { servedModels, type Candidate } from './model-names.js';
import { PriceBook } from './price-book.js';
import { priceTokens } from './price-sheet.js';
import { tokenCounts } from './token-counts.js';

/** Why a response carries no `x-llmux-cost`: `unpriced` (no price for the model), `no_usage` (the provider reported no tokens). */
export type CostStatus = 'unpriced' | 'no_usage';

export interface CostScratch {
  status?: CostStatus;
  provider?: string;
  model?: string;
  /** The model the provider reported (from the response or the stream's usage chunk). */
  reportedModel?: string;
}

const books = new WeakMap<GatewayInternals, PriceBook>();

/** The 403 for a request a target would serve with a model that has no price; `why` says what needs one. */
export function unpricedRefusal(c: Candidate, why: string): GatewayError {
  return new GatewayError('forbidden', `${why}, and no price is known for model "${c.models[0]}" on provider "${c.provider}"; the server can add it to the pricing option`, {
    param: 'model',
  });
}

/** The gateway's price book (its `pricing` option over the database), built once. */
export function priceBookOf(gw: GatewayInternals): PriceBook {
  let book = books.get(gw);
  if (!book) books.set(gw, (book = new PriceBook(gw.options.pricing)));
  return book;
}

export function costScratch(state: RequestState): CostScratch {
  return ((state.scratch.cost as CostScratch | undefined) ??= {});
}

/**
 * Sets `state.cost` (USD) from `state.usage`, or flags why it cannot: a cache hit costs nothing; a
 * model without a price is flagged `unpriced` and never counted as a silent $0.
 */
export function computeCost(gw: GatewayInternals, state: RequestState): void {
  const scratch = costScratch(state);
  if (state.cache === 'HIT' || state.cache === 'SEMANTIC_HIT') {
    state.cost = 0;
    delete scratch.status;
    return;
  }
  if (!state.target) return;
  scratch.provider = state.target.provider;
  const models = servedModels(gw, state, scratch.reportedModel);
  scratch.model = models[0];
  if (!state.usage) {
    scratch.status = 'no_usage';
    return;
  }
  const sheet = priceBookOf(gw).find(state.target.provider, models);
  if (!sheet) {
    scratch.status = 'unpriced';
    delete state.cost;
    return;
  }
  delete scratch.status;
  state.cost = priceTokens(sheet, tokenCounts(state.usage));
}

/** Response headers saying why there is no cost (the cost itself goes out as `x-llmux-cost`). */
export function costStatusHeaders(state: RequestState): Record<string, string> {
  const status = (state.scratch.cost as CostScratch | undefined)?.status;
  return status && state.cost === undefined ? { 'x-llmux-cost-status': status } : {};
}
