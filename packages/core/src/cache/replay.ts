import type { ChatCompletionChunk } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';
import { batchOf, type ChunkBatches } from '../stream/batches.js';

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
