import { GatewayError } from '../../errors.js';
import type { FinishReason } from '../openai-types.js';
import type { GeminiCandidate } from './wire.js';

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

/** Reasons Gemini gives when it failed to make an answer: a tool call it could not form, or none given. */
const FAILED = new Set(['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS', 'OTHER']);

/**
 * A candidate that ended for one of those reasons having produced nothing is a failed attempt (a
 * fallback or retry may do better), not an empty answer a client would take for a success. With
 * something produced, it ends as `stop` like any other reason without an OpenAI counterpart.
 */
export function failedCandidate(provider: string, candidate: Pick<GeminiCandidate, 'finishReason' | 'finishMessage'>, produced: boolean): GatewayError | undefined {
  if (produced || !candidate.finishReason || !FAILED.has(candidate.finishReason)) return undefined;
  const why = candidate.finishMessage ? `: ${candidate.finishMessage.slice(0, 300)}` : '';
  return new GatewayError('provider_error', `${provider} stopped without an answer (${candidate.finishReason})${why}`, { provider, source: 'provider' });
}
