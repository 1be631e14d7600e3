import type { EmbeddingsResponse } from './openai-types.js';

/**
 * The answers of one request's calls (split to a provider's per-call limit), in the order they were
 * sent, as one: indexes run on across calls, usage is summed — and left out if any call reported
 * none, so the total is never too low.
 */
export function joinEmbeddings(parts: EmbeddingsResponse[], model: string): EmbeddingsResponse {
  const joined: EmbeddingsResponse = { object: 'list', data: [], model };
  for (const part of parts) for (const item of part.data) joined.data.push({ ...item, index: joined.data.length });
  if (parts.every((p) => p.usage)) {
    const tokens = parts.reduce((sum, p) => sum + p.usage!.prompt_tokens, 0);
    joined.usage = { prompt_tokens: tokens, total_tokens: tokens };
  }
  return joined;
}
