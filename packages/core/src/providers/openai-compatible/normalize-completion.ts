import type { ChatCompletion } from '../openai-types.js';
import { splitContentParts } from './content-parts.js';

/**
 * Finish reasons of OpenAI-compatible dialects that OpenAI's enum names otherwise. Mistral's
 * `model_length` (stopped at the model's context length) is a truncation: left as is, OpenAI clients
 * miss it and /v1/messages calls it `end_turn`.
 */
export const FINISH_REASONS: ReadonlyMap<unknown, string> = new Map([['model_length', 'length']]);

/**
 * The non-stream side of `createChunkNormalizer`: content parts → text and `reasoning_content`,
 * `reasoning` → also `reasoning_content`, tool calls without `type` (Mistral) get `"function"`,
 * dialect finish reasons (`FINISH_REASONS`) OpenAI's. Everything else, known or not, passes through
 * as the provider sent it. Changes `json` in place; returns whether it changed anything.
 */
export function normalizeCompletion(json: unknown): boolean {
  const completion = json as ChatCompletion;
  let changed = false;
  for (const choice of Array.isArray(completion?.choices) ? completion.choices : []) {
    const finish = FINISH_REASONS.get(choice?.finish_reason);
    if (finish !== undefined) {
      choice.finish_reason = finish;
      changed = true;
    }
    const m = choice?.message;
    if (!m) continue;
    if (Array.isArray(m.content)) {
      const { text, reasoning } = splitContentParts(m.content);
      m.content = text || null;
      if (reasoning) m.reasoning_content = (m.reasoning_content ?? '') + reasoning;
      changed = true;
    }
    if (typeof m.reasoning === 'string' && m.reasoning && (m.reasoning_content === undefined || m.reasoning_content === null)) {
      m.reasoning_content = m.reasoning;
      changed = true;
    }
    for (const t of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
      if (t && !t.type) {
        t.type = 'function';
        changed = true;
      }
    }
  }
  return changed;
}
