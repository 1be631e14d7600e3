import type { ChatRequest, EmbeddingsRequest } from './openai-types.js';

/**
 * A chat or embeddings body with a target's `override_params` on top, as the translators that read
 * `max_completion_tokens` before `max_tokens` see it (Anthropic, Bedrock, Gemini, Cohere): an
 * operator's `max_tokens` cap would otherwise lose to the client's `max_completion_tokens` (the OpenAI
 * SDK's current name, and what /v1/messages always sends), so an override of either limit replaces
 * the client's limits. What goes out is then one of the values the budget estimate reserves for, and
 * never both names at once, which OpenAI refuses.
 * Without overrides the body itself comes back: no copy.
 */
export function withOverrides<T extends ChatRequest | EmbeddingsRequest>(body: T, params: Record<string, unknown>): T {
  if (!Object.keys(params).length) return body;
  const merged: T = { ...body, ...params };
  if (params.max_tokens != null && params.max_completion_tokens == null) delete merged.max_completion_tokens;
  // The other way round too: OpenAI refuses a body with both (400 invalid_parameter_combination).
  if (params.max_completion_tokens != null && params.max_tokens == null) delete merged.max_tokens;
  return merged;
}
