import type { ChatCompletionChunk } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';

/**
 * Replays a stored stream as the chunks it was recorded as, one SSE event each, so SDKs assemble the
 * same content, tool calls and usage. The pipeline's stream observer drops the usage chunk for a
 * client that did not ask for it, exactly as on a live stream; a client that leaves stops the pull.
 */
export async function* replayChunks(chunks: ChatCompletionChunk[]): AsyncGenerator<ChunkOut> {
  for (const chunk of chunks) yield { chunk };
}
