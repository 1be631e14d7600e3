import type { ChatRequest } from './openai-types.js';

/**
 * The chat body with a target's `override_params` on top, as the translators that read
 * `max_completion_tokens` before `max_tokens` see it (Anthropic, Bedrock, Gemini, Cohere): an
 * operator's `max_tokens` cap would otherwise lose to the client's `max_completion_tokens` (the OpenAI
 * SDK's current name, and what /v1/messages always sends), so an override of either limit replaces
 * the client's limits. What goes out is then one of the values the budget estimate reserves for.
 * Without overrides the body itself comes back: no copy.
 */
export function withOverrides(body: ChatRequest, params: Record<string, unknown>): ChatRequest {
  if (!Object.keys(params).length) return body;
  const merged: ChatRequest = { ...body, ...params };
  if (params.max_tokens != null && params.max_completion_tokens == null) delete merged.max_completion_tokens;
  return merged;
}
