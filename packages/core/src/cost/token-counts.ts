import type { Usage } from '../providers/openai-types.js';

/** A request's tokens split by how they are priced. */
export interface TokenCounts {
  /** Every input token, cached ones included (OpenAI's `prompt_tokens`). */
  input: number;
  /** Part of `input` read from the provider's prompt cache. */
  cacheRead: number;
  /** Part of `input` written to the provider's prompt cache. */
  cacheWrite: number;
  /** Every output token, reasoning included. */
  output: number;
  /** Part of `output` spent on reasoning. */
  reasoning: number;
}

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/**
 * OpenAI-shaped usage (every translator produces it) → priced parts. Follows OpenAI's convention —
 * `prompt_tokens` includes cached tokens, `completion_tokens` includes reasoning — and repairs the two
 * deviations seen in recorded traffic: xAI reports reasoning outside `completion_tokens` (its
 * `total_tokens` gives it away), and cache counts larger than the prompt mean the prompt excluded them.
 */
export function tokenCounts(usage: Usage): TokenCounts {
  let input = n(usage.prompt_tokens);
  let output = n(usage.completion_tokens);
  const cacheRead = n(usage.prompt_tokens_details?.cached_tokens) || n(usage.prompt_cache_hit_tokens);
  const cacheWrite = n(usage.prompt_tokens_details?.cache_creation_tokens);
  const reasoning = n(usage.completion_tokens_details?.reasoning_tokens);
  if (cacheRead + cacheWrite > input) input += cacheRead + cacheWrite;
  const total = n(usage.total_tokens);
  if (reasoning > 0 && total >= input + output + reasoning) output += reasoning;
  return { input, cacheRead, cacheWrite, output, reasoning: Math.min(reasoning, output) };
}
