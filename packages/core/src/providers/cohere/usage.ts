import type { Usage } from '../openai-types.js';
import type { CohereUsage } from './wire.js';

/**
 * Cohere reports two counts: `billed_units` (what is charged) and `tokens` (what the model
 * processed, incl. its own preamble and the cached prompt — 507 processed for 12 billed in
 * chat-v2.text.json). Cost and token budgets count what is billed, as the price database's own
 * Cohere extractor does; `tokens` stands in only when `billed_units` is missing. `cached_tokens` is
 * part of `tokens`, not of the billed input, so it is kept only alongside `tokens`.
 */
export function toUsage(u: CohereUsage | undefined): Usage | undefined {
  if (!u) return undefined;
  const billed = u.billed_units;
  const counts = billed ?? u.tokens;
  const input = counts?.input_tokens ?? 0;
  const output = counts?.output_tokens ?? 0;
  const usage: Usage = { prompt_tokens: input, completion_tokens: output, total_tokens: input + output };
  if (!billed && typeof u.cached_tokens === 'number') usage.prompt_tokens_details = { cached_tokens: u.cached_tokens };
  return usage;
}
