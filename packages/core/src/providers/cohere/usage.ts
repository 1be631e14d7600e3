import type { Usage } from '../openai-types.js';
import type { CohereUsage } from './wire.js';

/**
 * Cohere reports two counts: `tokens` (what the model processed, incl. its own preamble) and
 * `billed_units` (what is charged). `tokens` matches what other providers call usage; `billed_units`
 * stands in when an older model omits it. `cached_tokens` is the part of the input served from cache.
 */
export function toUsage(u: CohereUsage | undefined): Usage | undefined {
  if (!u) return undefined;
  const input = u.tokens?.input_tokens ?? u.billed_units?.input_tokens ?? 0;
  const output = u.tokens?.output_tokens ?? u.billed_units?.output_tokens ?? 0;
  const usage: Usage = { prompt_tokens: input, completion_tokens: output, total_tokens: input + output };
  if (typeof u.cached_tokens === 'number') usage.prompt_tokens_details = { cached_tokens: u.cached_tokens };
  return usage;
}
