import type { FinishReason } from '../openai-types.js';

const FINISH: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

/** Converse `stopReason` → OpenAI `finish_reason`; a reason added later by AWS reads as a normal stop. */
export const finishReason = (stopReason: string | undefined): FinishReason => (stopReason && FINISH[stopReason]) || 'stop';
