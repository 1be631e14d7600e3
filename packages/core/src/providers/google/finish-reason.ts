import type { FinishReason } from '../openai-types.js';

/** Gemini stops for these when its safety or policy filters fire; OpenAI clients know that as `content_filter`. */
const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT']);

/**
 * Gemini says `STOP` after a function call too, so whether tools were called decides `tool_calls`.
 * Reasons without an OpenAI counterpart (`MALFORMED_FUNCTION_CALL`, `OTHER`, …) end as `stop`.
 */
export function toFinishReason(reason: string | undefined, calledTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason && FILTERED.has(reason)) return 'content_filter';
  return calledTools ? 'tool_calls' : 'stop';
}
