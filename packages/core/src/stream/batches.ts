import type { ChunkOut } from '../providers/types.js';

/**
 * A chunk stream that can also be read a batch at a time: a batch is what one upstream read held
 * (often several SSE events). Relayed per batch, a chunk needs no promise chain of its own through
 * each step (translate → hold-back → observe → encode → writer) and the client gets one socket write
 * per upstream read instead of one per chunk. Iterated as `AsyncIterable<ChunkOut>`, it yields chunk
 * by chunk for consumers that want that (direct calls, other ingresses). Read it one way, once.
 */
export interface ChunkBatches extends AsyncIterable<ChunkOut> {
  batches(): AsyncGenerator<ChunkOut[], void, undefined>;
}

export function chunkBatches(batches: () => AsyncGenerator<ChunkOut[], void, undefined>): ChunkBatches {
  return {
    batches,
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches()) for (const out of batch) yield out;
    },
  };
}

const hasBatches = (source: AsyncIterable<ChunkOut>): source is ChunkBatches => typeof (source as Partial<ChunkBatches>).batches === 'function';

async function* singles(source: AsyncIterable<ChunkOut>): AsyncGenerator<ChunkOut[], void, undefined> {
  for await (const out of source) yield [out];
}

/** The batches of any chunk stream: its own when it has them, else one chunk per batch. */
export function batchesOf(source: AsyncIterable<ChunkOut>): AsyncGenerator<ChunkOut[], void, undefined> {
  return hasBatches(source) ? source.batches() : singles(source);
}
