import { priceBookOf } from '../cost/request-cost.js';
import { priceTokens } from '../cost/price-sheet.js';
import { tokenCounts } from '../cost/token-counts.js';
import type { Usage } from '../providers/openai-types.js';
import type { GatewayInternals } from './internals.js';
import type { RequestState } from './state.js';

/**
 * Counts what a failed attempt was billed (a chat generation that failed after the provider ran it,
 * the calls of a split embeddings request that answered before another failed), priced at the model
 * that billed it: a fallback that then answers may have another price. The limits stage adds it to the
 * answer's. Without a usage its share is unknown (`uncounted`), and the reservation stands for it.
 */
export function noteBilled(gw: GatewayInternals, state: RequestState, provider: string, model: string, usage: Usage | undefined): void {
  state.billedWithoutAnswer = true;
  const billed = (state.billed ??= { tokens: 0, cost: 0, uncounted: false });
  if (!usage) {
    billed.uncounted = true;
    return;
  }
  const counts = tokenCounts(usage);
  billed.tokens += counts.input + counts.output;
  // Unpriced, it adds nothing, as an unpriced answer's cost is not counted.
  const sheet = priceBookOf(gw).find(provider, [model]);
  if (sheet) billed.cost += priceTokens(sheet, counts);
}
