import type { ChatCompletionChunk, ChunkDelta } from '../openai-types.js';
import { splitContentParts } from './content-parts.js';
import { FINISH_REASONS } from './normalize-completion.js';

type ToolDelta = NonNullable<ChunkDelta['tool_calls']>[number] & { index?: number };

/**
 * Brings OpenAI-compatible dialects to the shape OpenAI SDKs assemble, changing a chunk only where it
 * differs (so most chunks still leave as their raw bytes):
 * - Mistral sends each tool call whole, without `index` and `type`; the SDK's stream helper needs both.
 *   Indexes are given in order of first appearance of each call id, per choice.
 * - magistral's `content` parts become `content` text and `reasoning_content`.
 * - Groq and OpenRouter call reasoning `reasoning`; it is also offered as `reasoning_content`, the
 *   field DeepSeek, xAI and our own translators use, and the one the gateway counts as a first token.
 * - Dialect finish reasons become OpenAI's (see `FINISH_REASONS`).
 * Returns whether the chunk was changed.
 */
export function createChunkNormalizer(): (chunk: ChatCompletionChunk) => boolean {
  const calls = new Map<number, { ids: Map<string, number>; last: number }>();

  const indexFor = (choice: number, t: ToolDelta): number => {
    let state = calls.get(choice);
    if (!state) calls.set(choice, (state = { ids: new Map(), last: -1 }));
    if (t.id === undefined) return Math.max(state.last, 0);
    let index = state.ids.get(t.id);
    if (index === undefined) state.ids.set(t.id, (index = state.ids.size));
    state.last = index;
    return index;
  };

  return (chunk) => {
    let changed = false;
    for (const choice of chunk.choices ?? []) {
      const finish = FINISH_REASONS.get(choice.finish_reason);
      if (finish !== undefined) {
        choice.finish_reason = finish;
        changed = true;
      }
      const d = choice.delta;
      if (!d) continue;
      if (Array.isArray(d.content)) {
        const { text, reasoning } = splitContentParts(d.content);
        d.content = text;
        if (reasoning) d.reasoning_content = (d.reasoning_content ?? '') + reasoning;
        changed = true;
      }
      if (typeof d.reasoning === 'string' && d.reasoning && (d.reasoning_content === undefined || d.reasoning_content === null)) {
        d.reasoning_content = d.reasoning;
        changed = true;
      }
      for (const t of (d.tool_calls ?? []) as ToolDelta[]) {
        if (typeof t.index !== 'number') {
          t.index = indexFor(choice.index ?? 0, t);
          changed = true;
        }
        if (t.id && !t.type) {
          t.type = 'function';
          changed = true;
        }
      }
    }
    return changed;
  };
}
