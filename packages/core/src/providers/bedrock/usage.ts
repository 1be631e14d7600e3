import type { Usage } from '../openai-types.js';
import type { ConverseUsage } from './converse-types.js';

/**
 * Converse usage → OpenAI usage. Bedrock counts cache reads and writes apart from `inputTokens`
 * (Anthropic's convention); OpenAI's `prompt_tokens` includes cached tokens, so they are added back.
 */
export function toUsage(u: ConverseUsage | undefined): Usage | undefined {
  if (!u) return undefined;
  const cacheRead = u.cacheReadInputTokens ?? 0;
  const cacheWrite = u.cacheWriteInputTokens ?? 0;
  const prompt = (u.inputTokens ?? 0) + cacheRead + cacheWrite;
  const completion = u.outputTokens ?? 0;
  const usage: Usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  if (cacheRead || cacheWrite) usage.prompt_tokens_details = { cached_tokens: cacheRead, cache_creation_tokens: cacheWrite };
  return usage;
}
