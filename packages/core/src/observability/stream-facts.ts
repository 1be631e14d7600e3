import type { GatewayError } from '../errors.js';
import { attemptError } from '../router/run-target.js';
import type { RequestState } from '../pipeline/state.js';
import type { ChatCompletionChunk } from '../providers/openai-types.js';

/** OpenAI's `n` stops at 128: an upstream's choice index past it must not size an array. */
const MAX_CHOICES = 128;
/** Longer text after `"id":"` is no id worth trusting without a parse: the first parsed chunk gives it. */
const MAX_ID = 256;

/**
 * The `id` of a plain delta, read from its compact JSON text so the relay still parses nothing. The
 * first `"id":"` is the chunk's own: a plain delta has no nested object with an id (tool calls make a
 * chunk not plain), and a quote inside a string value is escaped.
 */
export function idInText(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const at = raw.indexOf('"id":"');
  if (at === -1) return undefined;
  const from = at + 6;
  const to = raw.indexOf('"', from);
  if (to === -1 || to - from > MAX_ID) return undefined;
  const id = raw.slice(from, to);
  // An escape would need JSON's unescaping: left to the first parsed chunk. An empty id is none.
  return id === '' || id.includes('\\') ? undefined : id;
}

/** What a parsed chunk tells the record: the stream's id, once, and the finish reason of each choice. */
export function noteChunkFacts(state: RequestState, chunk: ChatCompletionChunk): void {
  if (state.streamId === undefined && typeof chunk.id === 'string' && chunk.id) state.streamId = chunk.id;
  const choices = chunk.choices;
  if (!Array.isArray(choices)) return;
  for (let i = 0; i < choices.length; i++) {
    const choice = choices[i]!;
    const reason = choice.finish_reason;
    const index = choice.index;
    if (typeof reason === 'string' && Number.isInteger(index) && index >= 0 && index < MAX_CHOICES) (state.streamFinishReasons ??= [])[index] = reason;
  }
}

/**
 * The stream of the attempt that answered broke after its 200: the router recorded that attempt as a
 * success, so the record and its CLIENT span would show a clean try. It becomes a failed one, with
 * the record's own status for a cut stream.
 */
export function failAnsweredAttempt(state: RequestState, error: GatewayError, status: number): void {
  const n = state.attempts.length - 1;
  const last = state.attempts[n];
  if (!last || last.error !== undefined || last.target !== state.target?.path) return;
  state.attempts[n] = { ...last, status, error: attemptError(error.message) };
}
