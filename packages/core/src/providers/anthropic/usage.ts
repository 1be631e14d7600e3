import { tokenCounts } from '../../cost/token-counts.js';
import type { Usage } from '../openai-types.js';
import type { AnthropicUsage } from './wire-types.js';

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * Anthropic counts cached input apart from `input_tokens`; OpenAI's `prompt_tokens` includes it.
 * So the prompt is input + cache reads + cache writes, and the parts are kept in the details for
 * cost (cache reads, 5-minute and 1-hour writes are priced differently). Web searches, billed per
 * search, stay under `server_tool_use` (the name LiteLLM's OpenAI-shaped usage gives them too).
 */
export function toOpenAIUsage(u: AnthropicUsage): Usage {
  const input = n(u.input_tokens);
  const cacheRead = n(u.cache_read_input_tokens);
  const split = u.cache_creation;
  const write1h = n(split?.ephemeral_1h_input_tokens);
  const cacheWrite = n(u.cache_creation_input_tokens) || n(split?.ephemeral_5m_input_tokens) + write1h;
  const output = n(u.output_tokens);
  const prompt = input + cacheRead + cacheWrite;
  const details: NonNullable<Usage['prompt_tokens_details']> = { cached_tokens: cacheRead, cache_creation_tokens: cacheWrite };
  if (write1h) details.cache_creation_1h_tokens = write1h;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: output, total_tokens: prompt + output, prompt_tokens_details: details };
  const thinking = u.output_tokens_details?.thinking_tokens;
  if (typeof thinking === 'number') usage.completion_tokens_details = { reasoning_tokens: thinking };
  const searches = n(u.server_tool_use?.web_search_requests);
  if (searches) usage.server_tool_use = { web_search_requests: searches };
  return usage;
}

/**
 * OpenAI usage → Anthropic's, for `/v1/messages` answers of any provider: the inverse split of
 * `toOpenAIUsage`. Counted as they are billed (`tokenCounts`): xAI and Perplexity bill reasoning
 * outside `completion_tokens`, and Anthropic's `output_tokens` includes thinking.
 */
export function toAnthropicUsage(u: Usage | null | undefined): Required<Pick<AnthropicUsage, 'input_tokens' | 'output_tokens'>> & AnthropicUsage {
  const billed = u ? tokenCounts(u) : undefined;
  const cacheRead = billed?.cacheRead ?? 0;
  const cacheWrite = billed?.cacheWrite ?? 0;
  const out: Required<Pick<AnthropicUsage, 'input_tokens' | 'output_tokens'>> & AnthropicUsage = {
    input_tokens: Math.max(0, (billed?.input ?? 0) - cacheRead - cacheWrite),
    output_tokens: billed?.output ?? 0,
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  };
  const write1h = Math.min(n(u?.prompt_tokens_details?.cache_creation_1h_tokens), cacheWrite);
  if (write1h) out.cache_creation = { ephemeral_5m_input_tokens: cacheWrite - write1h, ephemeral_1h_input_tokens: write1h };
  const searches = n((u?.server_tool_use as AnthropicUsage['server_tool_use'])?.web_search_requests);
  if (searches) out.server_tool_use = { web_search_requests: searches };
  return out;
}
