import type { ChatCompletionChunk } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';
import { isPlainDelta } from '../providers/openai-compatible/translate.js';
import { batchOf, type ChunkBatches } from '../stream/batches.js';
import { copyJson, unlessTooDeep } from './copy-json.js';

/**
 * Replays a stored stream as the chunks it was recorded as, one SSE event each, so SDKs assemble the
 * same content, tool calls and usage. The pipeline's stream observer drops the usage chunk for a
 * client that did not ask for it, exactly as on a live stream; a client that leaves stops the pull.
 * Everything is at hand, so it goes out as one batch: one write instead of a promise chain and a
 * socket write per chunk (see `ChunkBatches`).
 */
export function replayChunks(chunks: ChatCompletionChunk[]): ChunkBatches {
  return batchOf(chunks.map((chunk) => ({ chunk }) satisfies ChunkOut));
}

/**
 * A stored stream read before, kept for the hits that follow (see `DecodedEntries`): each chunk as
 * its JSON text, what the client is sent, and as its parsed tree, which nobody is handed. Serialising
 * the chunks again on every hit was the largest cost of a stream hit (~1 µs a chunk), and copying
 * their trees the next (~0.3 µs a chunk). A replayed chunk goes out as its text, like an upstream's
 * unchanged chunk (`raw`), and is copied out of the tree only when something reads it.
 */
export class StoredStream {
  private readonly texts: string[];
  private readonly plain: boolean[];

  constructor(private readonly tree: readonly ChatCompletionChunk[]) {
    this.texts = tree.map((chunk) => JSON.stringify(chunk));
    // A plain delta (no usage, no finish, no error) is not read by the stream observer at all.
    this.plain = this.texts.map(isPlainDelta);
  }

  replay(): ChunkBatches {
    const outs = new Array<ChunkOut>(this.tree.length);
    for (let i = 0; i < outs.length; i++) outs[i] = new StoredChunk(this.texts[i]!, this.plain[i]!, this.tree[i]!);
    return batchOf(outs);
  }
}

/** One replayed chunk: its text relayed as it is, its tree copied on first read (the copy is the reader's own). */
class StoredChunk implements ChunkOut {
  private copy: ChatCompletionChunk | undefined;

  constructor(
    readonly raw: string,
    readonly plain: boolean,
    private readonly tree: ChatCompletionChunk,
  ) {}

  get chunk(): ChatCompletionChunk {
    // Its text parsed instead for a tree nested too deeply to copy by recursion.
    return (this.copy ??= unlessTooDeep(() => copyJson(this.tree)) ?? (JSON.parse(this.raw) as ChatCompletionChunk));
  }
}
