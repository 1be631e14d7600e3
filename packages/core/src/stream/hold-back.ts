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
 * The same for a plain delta (`ChunkOut.plain`), from its text, so it need not be parsed: a
 * non-empty `content` or `refusal` string. (A first choice without content answers false even if a
 * later one has some: the stream is then held one read longer, never relayed too early.)
 */
function plainHasContent(raw: string): boolean {
  for (const key of ['"content":"', '"refusal":"']) {
    const at = raw.indexOf(key);
    if (at !== -1 && raw.charCodeAt(at + key.length) !== 34) return true;
  }
  return false;
}

const outHasContent = (out: ChunkOut): boolean => (out.plain && out.raw !== undefined ? plainHasContent(out.raw) : hasContent(out.chunk));

/**
 * The held batches, then the rest of `source`: a plain iterator object on purpose, not an async
 * generator wrapping `source`. With one more generator layer between the upstream read and the
 * writer, V8 promoted each stream's whole object graph (undici's request, the decoded text, every
 * generator frame) to the old generation: ~1.5 MB per scavenge at 16 concurrent streams, scavenges
 * of 8–12 ms instead of 1 ms. Delegating `next` straight to `source` keeps them young, where they die.
 */
class HeldThenRest implements AsyncGenerator<ChunkOut[], void, undefined> {
  private i = 0;

  constructor(
    private held: Array<ChunkOut[] | undefined>,
    private readonly source: AsyncGenerator<ChunkOut[], void, undefined>,
  ) {}

  next(): Promise<IteratorResult<ChunkOut[], void>> {
    if (this.i < this.held.length) {
      const value = this.held[this.i]!;
      // Relayed batches are not kept: the writer is their last reader.
      this.held[this.i++] = undefined;
      return Promise.resolve({ value, done: false });
    }
    return this.source.next();
  }

  /** Stopping early stops the source, and with it the upstream call. */
  return(value?: void | PromiseLike<void>): Promise<IteratorResult<ChunkOut[], void>> {
    this.held = [];
    return this.source.return(value as void);
  }

  async throw(error: unknown): Promise<IteratorResult<ChunkOut[], void>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
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
    if (next.value.some(outHasContent)) break;
  }
  const rest = new HeldThenRest(held, source);
  return chunkBatches(() => rest);
}
