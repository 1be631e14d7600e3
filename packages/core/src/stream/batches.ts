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
    [Symbol.asyncIterator]: () => chunksOf(batches()),
  };
}

const finished = (): IteratorResult<ChunkOut, void> => ({ value: undefined, done: true });

/**
 * The chunks of a batch iterator, one at a time. A plain iterator pulling with `then`, not an async
 * generator or function awaiting the source: such a layer measured as making V8 promote each
 * stream's objects to the old generation (see `hold-back.ts`).
 */
function chunksOf(source: AsyncGenerator<ChunkOut[], void, undefined>): AsyncIterableIterator<ChunkOut> {
  let batch: ChunkOut[] = [];
  let i = 0;
  const pull = (): Promise<IteratorResult<ChunkOut, void>> =>
    source.next().then((step) => {
      if (step.done) return finished();
      batch = step.value;
      i = 0;
      return i < batch.length ? { value: batch[i++]!, done: false } : pull();
    });
  return {
    next: () => (i < batch.length ? Promise.resolve({ value: batch[i++]!, done: false }) : pull()),
    return: (value?: unknown) => {
      batch = [];
      return source.return(value as void).then(finished);
    },
    throw: (error: unknown) => {
      batch = [];
      return source.return(undefined).then(() => Promise.reject(error));
    },
    [Symbol.asyncIterator]() {
      return this;
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

/**
 * One batch that is already at hand, as a batch iterator: a plain object rather than an async
 * generator, which measured as making V8 promote each replayed stream's objects (see `hold-back.ts`).
 */
export function onceBatches(batch: ChunkOut[]): AsyncGenerator<ChunkOut[], void, undefined> {
  let pending: ChunkOut[] | undefined = batch;
  const done = (): Promise<IteratorResult<ChunkOut[], void>> => Promise.resolve({ value: undefined, done: true });
  return {
    next() {
      const value = pending;
      pending = undefined;
      return value ? Promise.resolve({ value, done: false }) : done();
    },
    return() {
      pending = undefined;
      return done();
    },
    throw(error: unknown) {
      pending = undefined;
      return Promise.reject(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncGenerator<ChunkOut[], void, undefined>;
}
