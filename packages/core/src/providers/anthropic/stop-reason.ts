import type { FinishReason } from '../openai-types.js';
import type { AnthropicStopReason } from './wire-types.js';

const TO_FINISH: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  // The turn is not over (a server tool paused it), but nothing is pending for the client either.
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** Anthropic `stop_reason` → OpenAI `finish_reason`; an unknown reason reads as a normal stop. */
export function toFinishReason(reason: string | null | undefined): FinishReason {
  if (!reason) return 'stop';
  return TO_FINISH[reason] ?? 'stop';
}

const TO_STOP: Record<string, AnthropicStopReason> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/**
 * Whether an Anthropic stop reason comes back the same from its OpenAI translation: `pause_turn` and
 * `model_context_window_exceeded` do not. A stop sequence does, kept beside the finish reason
 * (`providers/stop-sequence.ts`).
 */
export function survivesTranslation(reason: string | null | undefined): boolean {
  return !reason || reason === 'stop_sequence' || toStopReason(toFinishReason(reason)) === reason;
}

/** OpenAI `finish_reason` → Anthropic `stop_reason`, for answers of other providers on `/v1/messages`. */
export function toStopReason(finish: string | null | undefined): AnthropicStopReason {
  if (!finish) return 'end_turn';
  return TO_STOP[finish] ?? 'end_turn';
}
