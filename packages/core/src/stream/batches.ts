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

/** An iterator's end, for the plain iterators of a stream's layers (here and in `encode.ts`). */
export const finished = <T>(): IteratorResult<T, void> => ({ value: undefined, done: true });

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
      if (step.done) return finished<ChunkOut>();
      batch = step.value;
      i = 0;
      return i < batch.length ? { value: batch[i++]!, done: false } : pull();
    });
  return {
    next: () => (i < batch.length ? Promise.resolve({ value: batch[i++]!, done: false }) : pull()),
    return: (value?: unknown) => {
      batch = [];
      return source.return(value as void).then(() => finished<ChunkOut>());
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
 * Batches already at hand, then the rest of `source` (if any): a plain iterator object on purpose,
 * not an async generator. With one more generator layer between the upstream read and the writer,
 * V8 promoted each stream's whole object graph (undici's request, the decoded text, every generator
 * frame) to the old generation: ~1.5 MB per scavenge at 16 concurrent streams, scavenges of 8–12 ms
 * instead of 1 ms. Handing `next` straight to `source` keeps them young, where they die.
 */
class HeldBatches implements AsyncGenerator<ChunkOut[], void, undefined> {
  private i = 0;

  constructor(
    private held: Array<ChunkOut[] | undefined>,
    private readonly source: AsyncGenerator<ChunkOut[], void, undefined> | undefined,
  ) {}

  next(): Promise<IteratorResult<ChunkOut[], void>> {
    if (this.i < this.held.length) {
      const value = this.held[this.i]!;
      // Relayed batches are not kept: the writer is their last reader.
      this.held[this.i++] = undefined;
      return Promise.resolve({ value, done: false });
    }
    return this.source ? this.source.next() : Promise.resolve(finished());
  }

  /** Stopping early stops the source, and with it the upstream call. */
  return(value?: void | PromiseLike<void>): Promise<IteratorResult<ChunkOut[], void>> {
    this.held = [];
    return this.source ? this.source.return(value as void) : Promise.resolve(finished());
  }

  async throw(error: unknown): Promise<IteratorResult<ChunkOut[], void>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** `held`, then whatever `source` still yields: one batch iterator (see `HeldBatches` on why not a generator). */
export function heldBatches(held: ChunkOut[][], source?: AsyncGenerator<ChunkOut[], void, undefined>): AsyncGenerator<ChunkOut[], void, undefined> {
  return new HeldBatches(held, source);
}

/** A stream of one batch already at hand (a stored or assembled answer): written out in one write. */
export function batchOf(outs: ChunkOut[]): ChunkBatches {
  return chunkBatches(() => heldBatches([outs]));
}
