import type { Usage } from '../openai-types.js';
import type { GeminiUsage } from './wire.js';

/**
 * `usageMetadata` → OpenAI usage. Thinking tokens are billed as output and OpenAI counts reasoning
 * inside `completion_tokens`, so candidates + thoughts; cached tokens are part of the prompt count in both.
 */
export function toUsage(meta: GeminiUsage | undefined): Usage | undefined {
  if (!meta) return undefined;
  const prompt = (meta.promptTokenCount ?? 0) + (meta.toolUsePromptTokenCount ?? 0);
  const reasoning = meta.thoughtsTokenCount ?? 0;
  const completion = (meta.candidatesTokenCount ?? 0) + reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: meta.totalTokenCount ?? prompt + completion,
    prompt_tokens_details: { cached_tokens: meta.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}
