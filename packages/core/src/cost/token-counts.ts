import type { Usage } from '../providers/openai-types.js';

/** A request's billed units split by how they are priced. */
export interface TokenCounts {
  /** Every input token, cached ones included (OpenAI's `prompt_tokens`). */
  input: number;
  /** Part of `input` read from the provider's prompt cache. */
  cacheRead: number;
  /** Part of `input` written to the provider's prompt cache. */
  cacheWrite: number;
  /** Part of `cacheWrite` kept for an hour (Anthropic bills it above the 5-minute writes). */
  cacheWrite1h: number;
  /** Part of `input` that is audio, cached audio included. */
  inputAudio: number;
  /** Part of `cacheRead` (and of `inputAudio`) that is audio. */
  cacheAudioRead: number;
  /** Every output token, reasoning included. */
  output: number;
  /** Part of `output` spent on reasoning. */
  reasoning: number;
  /** Part of `output` spent reading search results back (Perplexity's `citation_tokens`); absent when none. */
  citation?: number;
  /** Part of `output` that is audio. */
  outputAudio: number;
  /** Server-side web searches, billed per search rather than per token. */
  webSearches: number;
}

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

type Details = { [key: string]: unknown } | undefined;

/**
 * Tokens written to the prompt cache, under either name in use: llmux's translators and LiteLLM say
 * `cache_creation_tokens`, OpenRouter `cache_write_tokens`.
 */
export function cacheWriteTokens(details: Usage['prompt_tokens_details']): number {
  return n(details?.cache_creation_tokens) || n(details?.cache_write_tokens);
}

/**
 * `usage` with its cache writes under llmux's name, for readers that know only that one (the
 * Anthropic usage `/v1/messages` answers with); the same object when there is nothing to rename.
 */
export function withCacheCreationTokens<U extends Usage | null | undefined>(usage: U): U {
  const details = usage?.prompt_tokens_details;
  if (!details || n(details.cache_creation_tokens) || !n(details.cache_write_tokens)) return usage;
  return { ...usage, prompt_tokens_details: { ...details, cache_creation_tokens: details.cache_write_tokens } };
}

/**
 * OpenAI-shaped usage (every translator produces it) → priced parts. Follows OpenAI's convention —
 * `prompt_tokens` includes cached and audio tokens, `completion_tokens` includes reasoning — and
 * repairs the two deviations seen in recorded traffic: xAI reports reasoning outside
 * `completion_tokens` (its `total_tokens` gives it away), and cache counts larger than the prompt mean
 * the prompt excluded them. Beside OpenAI's own fields it reads the ones translators add for prices
 * OpenAI has no field for: `prompt_tokens_details.cache_creation_tokens` (OpenRouter's
 * `cache_write_tokens`) / `cache_creation_1h_tokens` and `server_tool_use.web_search_requests`
 * (LiteLLM's name for it). Perplexity reports its extras at the top level, `reasoning_tokens` and
 * `citation_tokens` billed outside `completion_tokens` and `num_search_queries`: they are read as the
 * price database's Perplexity extractor reads them. Parts are clamped to their whole, so a confused
 * provider can never make a part count twice.
 */
export function tokenCounts(usage: Usage): TokenCounts {
  let input = n(usage.prompt_tokens);
  let output = n(usage.completion_tokens);
  const prompt = usage.prompt_tokens_details;
  const completion = usage.completion_tokens_details;
  const cacheRead = n(prompt?.cached_tokens) || n(usage.prompt_cache_hit_tokens);
  const cacheWrite = cacheWriteTokens(prompt);
  let reasoning = n(completion?.reasoning_tokens);
  if (cacheRead + cacheWrite > input) input += cacheRead + cacheWrite;
  const total = n(usage.total_tokens);
  if (reasoning > 0 && total >= input + output + reasoning) output += reasoning;
  // Perplexity's: never part of `completion_tokens` (nor of `total_tokens`), so added to the output.
  const outsideReasoning = reasoning ? 0 : n(usage.reasoning_tokens);
  const citation = n(usage.citation_tokens);
  output += outsideReasoning + citation;
  reasoning += outsideReasoning;
  const billedReasoning = Math.min(reasoning, output);
  const inputAudio = Math.min(n(prompt?.audio_tokens), input);
  const counts: TokenCounts = {
    input,
    cacheRead,
    cacheWrite,
    cacheWrite1h: Math.min(n(prompt?.cache_creation_1h_tokens), cacheWrite),
    inputAudio,
    cacheAudioRead: Math.min(n((prompt?.cached_tokens_details as Details)?.audio_tokens), cacheRead, inputAudio),
    output,
    reasoning: billedReasoning,
    outputAudio: Math.min(n(completion?.audio_tokens), output - billedReasoning - citation),
    webSearches: n((usage.server_tool_use as Details)?.web_search_requests) || n(usage.num_search_queries),
  };
  if (citation) counts.citation = citation;
  return counts;
}
