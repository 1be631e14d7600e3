import type { ChatCompletionChunk } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';
import { chunkBatches, heldBatches, type ChunkBatches } from './batches.js';

/** A chunk the client would see as progress: text, reasoning, a tool call, a finish, or usage. */
export function hasContent(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage) return true;
  for (const c of chunk.choices ?? []) {
    if (c.finish_reason) return true;
    const d = c.delta;
    if (!d) continue;
    if (d.content || d.reasoning_content || d.tool_calls?.length || d.refusal) return true;
  }
  return false;
}

/**
 * The same for a plain delta (`ChunkOut.plain`), from its text, so it need not be parsed: a
 * non-empty `content` or `refusal` string in any choice. A plain delta has no finish, usage, tool
 * calls, reasoning or content parts (see `isPlainDelta`), and a key inside a string value is escaped,
 * so only a delta's own fields match.
 */
function plainHasContent(raw: string): boolean {
  for (const key of ['"content":"', '"refusal":"']) {
    for (let at = raw.indexOf(key); at !== -1; at = raw.indexOf(key, at + key.length)) {
      if (raw.charCodeAt(at + key.length) !== 34) return true;
    }
  }
  return false;
}

/** Whether a chunk the gateway relays is progress for the client; plain deltas are judged from their text. */
export const outHasContent = (out: ChunkOut): boolean => (out.plain && out.raw !== undefined ? plainHasContent(out.raw) : hasContent(out.chunk));

/**
 * Pulls batches up to the one holding the first content chunk (the role delta and empty first
 * chunks come before it). Errors before that reject here — the moment a fallback can still serve
 * the whole answer.
 */
export async function holdBack(source: AsyncGenerator<ChunkOut[], void, undefined>): Promise<ChunkBatches> {
  const held: ChunkOut[][] = [];
  for (;;) {
    const next = await source.next();
    if (next.done) break;
    held.push(next.value);
    if (next.value.some(outHasContent)) break;
  }
  const rest = heldBatches(held, source);
  return chunkBatches(() => rest);
}
