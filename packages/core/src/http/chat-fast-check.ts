import { isPlainObject } from '../plain-object.js';
import { MAX_MODEL_LENGTH } from './model-name.js';
/**
 * A hand-written pass over the chat fields `validate.ts` checks with zod, answering only "certainly
 * valid": zod copies every message it parses (~15 µs and the garbage with it on a two-message body,
 * growing with the conversation), while this walk allocates nothing. Anything it is not sure about
 * goes to the zod schema, which gives the error its exact wording — so it must never accept what
 * the schema refuses.
 */
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);

const optionalFinite = (v: unknown) => v === undefined || v === null || (typeof v === 'number' && Number.isFinite(v));
const optionalPositiveInt = (v: unknown) => v === undefined || v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v > 0);

function contentOk(content: unknown): boolean {
  if (content === undefined || content === null || typeof content === 'string') return true;
  if (!Array.isArray(content)) return false;
  for (const part of content) if (!isPlainObject(part) || typeof part.type !== 'string') return false;
  return true;
}

function toolCallsOk(calls: unknown): boolean {
  if (calls === undefined) return true;
  if (!Array.isArray(calls)) return false;
  for (const call of calls) {
    if (!isPlainObject(call) || typeof call.id !== 'string' || (call.type !== undefined && typeof call.type !== 'string')) return false;
    const fn = call.function;
    if (!isPlainObject(fn) || typeof fn.name !== 'string' || typeof fn.arguments !== 'string') return false;
  }
  return true;
}

function messageOk(m: unknown): boolean {
  return (
    isPlainObject(m) &&
    typeof m.role === 'string' &&
    ROLES.has(m.role) &&
    contentOk(m.content) &&
    toolCallsOk(m.tool_calls) &&
    (m.tool_call_id === undefined || typeof m.tool_call_id === 'string')
  );
}

function toolsOk(tools: unknown): boolean {
  if (tools === undefined) return true;
  if (!Array.isArray(tools)) return false;
  for (const tool of tools) {
    if (!isPlainObject(tool) || typeof tool.type !== 'string') return false;
    const fn = tool.function;
    if (fn !== undefined && (!isPlainObject(fn) || typeof fn.name !== 'string' || fn.name.length === 0)) return false;
  }
  return true;
}

/** True only when the chat schema certainly accepts `body` (an object). */
export function chatCertainlyValid(body: Record<string, unknown>): boolean {
  const { model, messages, stream, stream_options: streamOptions, stop } = body;
  if (typeof model !== 'string' || model.length === 0 || model.length > MAX_MODEL_LENGTH) return false;
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (const m of messages) if (!messageOk(m)) return false;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') return false;
  if (streamOptions !== undefined && streamOptions !== null) {
    if (!isPlainObject(streamOptions) || (streamOptions.include_usage !== undefined && typeof streamOptions.include_usage !== 'boolean')) return false;
  }
  if (!optionalFinite(body.temperature) || !optionalFinite(body.top_p)) return false;
  if (!optionalPositiveInt(body.max_tokens) || !optionalPositiveInt(body.max_completion_tokens) || !optionalPositiveInt(body.n)) return false;
  if (body.logprobs !== undefined && body.logprobs !== null && typeof body.logprobs !== 'boolean') return false;
  const top = body.top_logprobs;
  if (top !== undefined && top !== null && !(typeof top === 'number' && Number.isInteger(top) && top >= 0 && top <= 20)) return false;
  if (stop !== undefined && stop !== null && typeof stop !== 'string') {
    if (!Array.isArray(stop)) return false;
    for (const s of stop) if (typeof s !== 'string') return false;
  }
  return toolsOk(body.tools);
}
