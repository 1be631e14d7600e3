import type { Usage } from '../openai-types.js';
import type { GeminiUsage } from './wire.js';

/** Tokens of one modality in a `*TokensDetails` list (Gemini splits counts by TEXT, AUDIO, IMAGE, …). */
function modalityTokens(details: unknown, modality: string): number {
  if (!Array.isArray(details)) return 0;
  let n = 0;
  for (const d of details as Array<{ modality?: unknown; tokenCount?: unknown } | null>) {
    if (d?.modality === modality && typeof d.tokenCount === 'number') n += d.tokenCount;
  }
  return n;
}

/**
 * `usageMetadata` → OpenAI usage. Thinking tokens are billed as output and OpenAI counts reasoning
 * inside `completion_tokens`, so candidates + thoughts; cached tokens are part of the prompt count in
 * both. Audio input is billed at its own rate, so its share of the prompt (and of the cache) goes where
 * OpenAI reports it: `prompt_tokens_details.audio_tokens` (`cached_tokens_details.audio_tokens`).
 */
export function toUsage(meta: GeminiUsage | undefined): Usage | undefined {
  if (!meta) return undefined;
  const prompt = (meta.promptTokenCount ?? 0) + (meta.toolUsePromptTokenCount ?? 0);
  const reasoning = meta.thoughtsTokenCount ?? 0;
  const completion = (meta.candidatesTokenCount ?? 0) + reasoning;
  const details: NonNullable<Usage['prompt_tokens_details']> = { cached_tokens: meta.cachedContentTokenCount ?? 0 };
  const audio = modalityTokens(meta.promptTokensDetails, 'AUDIO');
  if (audio) {
    details.audio_tokens = audio;
    const cachedAudio = modalityTokens(meta.cacheTokensDetails, 'AUDIO');
    if (cachedAudio) details.cached_tokens_details = { audio_tokens: cachedAudio };
  }
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: meta.totalTokenCount ?? prompt + completion,
    prompt_tokens_details: details,
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}
