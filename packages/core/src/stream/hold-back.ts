import type { ChatCompletionChunk } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';
import { chunkBatches, type ChunkBatches } from './batches.js';

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
    if (next.value.some((out) => hasContent(out.chunk))) break;
  }
  return chunkBatches(async function* () {
    try {
      yield* held;
      for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
    } finally {
      await source.return(undefined);
    }
  });
}
