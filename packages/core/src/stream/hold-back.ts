import type { ChatCompletionChunk } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';

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
 * Pulls the preamble (role delta, empty first chunks) and the first content chunk. Errors before
 * that reject here — the moment a fallback can still serve the whole answer.
 */
export async function holdBack(source: AsyncGenerator<ChunkOut>): Promise<AsyncIterable<ChunkOut>> {
  const held: ChunkOut[] = [];
  for (;;) {
    const next = await source.next();
    if (next.done) break;
    held.push(next.value);
    if (hasContent(next.value.chunk)) break;
  }
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield* held;
        yield* { [Symbol.asyncIterator]: () => source };
      } finally {
        await source.return(undefined);
      }
    },
  };
}
