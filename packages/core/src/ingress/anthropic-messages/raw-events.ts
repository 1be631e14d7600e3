import type { ChunkOut } from '../../providers/types.js';

/**
 * The Anthropic SSE text a passthrough chunk stands for. A symbol, so it never reaches JSON (logs,
 * the cache): a replay of the same chunks is translated back to Anthropic events instead.
 */
export const RAW_EVENTS = Symbol('llmux.anthropic-raw-events');

export type RawChunkOut = ChunkOut & { [RAW_EVENTS]?: string };

export const rawEventsOf = (out: ChunkOut): string | undefined => (out as RawChunkOut)[RAW_EVENTS];
