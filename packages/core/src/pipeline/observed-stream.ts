import { noteStreamUsage, withoutUsage, withStreamCost } from '../cost/stream-cost.js';
import { toGatewayError } from '../errors.js';
import { failAnsweredAttempt, idInText, noteChunkFacts } from '../observability/stream-facts.js';
import type { ChunkOut } from '../providers/types.js';
import { batchesOf, chunkBatches, finished, type ChunkBatches } from '../stream/batches.js';
import { startedOnRead } from '../stream/started-on-read.js';
import type { GatewayInternals } from './internals.js';
import { finishAnswered, runAfter } from './run-stages.js';
import type { Outcome, RequestState } from './state.js';

type Step = IteratorResult<ChunkOut[], void>;

/**
 * Watches a stream on its way out: first-token time, usage, the optional recording for the cache,
 * and the `after` stages once it ends — completely, broken, or because the client left. Works a
 * batch at a time (see `ChunkBatches`); the result still iterates chunk by chunk.
 */
export function observe(gw: GatewayInternals, state: RequestState, chunks: AsyncIterable<ChunkOut>): ChunkBatches {
  return chunkBatches(() =>
    startedOnRead(
      () => new ObservedBatches(gw, state, batchesOf(chunks)),
      // Let go unread: the upstream call stops, and the request ends as one the client left.
      async () => {
        try {
          await batchesOf(chunks).return(undefined);
        } finally {
          await runAfter(gw.stages, state, { status: 499, incomplete: true }, gw.logger);
        }
      },
    ),
  );
}

/** A lower bound of a chunk's size as text: its upstream text, else the text its delta carries. */
function sizeAtLeast(c: ChunkOut): number {
  if (c.raw !== undefined) return c.raw.length;
  let n = 0;
  for (const choice of c.chunk.choices) {
    const d = choice.delta as { content?: unknown; reasoning_content?: unknown; tool_calls?: Array<{ function?: { arguments?: unknown } }> } | undefined;
    if (typeof d?.content === 'string') n += d.content.length;
    if (typeof d?.reasoning_content === 'string') n += d.reasoning_content.length;
    for (const call of d?.tool_calls ?? []) if (typeof call.function?.arguments === 'string') n += call.function.arguments.length;
  }
  return n;
}

/**
 * The observer, as a plain iterator pulling with `then` rather than an async generator: each
 * relayed batch (a token, for most upstreams) went through a generator's resume, its `for await`
 * and its `yield`'s own await. What the generator did, it keeps: the stages' `after` runs once the
 * stream ended (200), broke (502, or 499 when the client's leaving broke it: the error is rethrown
 * after), or was left early (499, after the source was let go of); `return()` while a batch is on
 * its way waits for it, as a generator queues it.
 */
class ObservedBatches implements AsyncGenerator<ChunkOut[], void, undefined> {
  private recorded: ChunkOut[] | undefined;
  private readonly recordLimit: number;
  private recordedSize = 0;
  private recordingTooLarge = false;
  /** The source ended, broke or was let go of: nothing more is read. */
  private over = false;
  /**
   * The first few plain chunks' text is searched for the answer's id: Azure's first chunk (its prompt
   * filter results) has an empty one. Past them, a stream that names none is not searched per chunk.
   */
  private idSearches = 4;
  /** A batch on its way. */
  private reading: Promise<Step> | undefined;

  constructor(
    private readonly gw: GatewayInternals,
    private readonly state: RequestState,
    private readonly source: AsyncGenerator<ChunkOut[], void, undefined>,
  ) {
    this.recorded = state.recordChunks ? [] : undefined;
    this.recordLimit = state.recordLimit ?? Infinity;
  }

  next(): Promise<Step> {
    if (this.over) return Promise.resolve(finished());
    const reading = this.source.next().then(this.onBatch, this.onFailed);
    this.reading = reading;
    return reading;
  }

  private readonly onBatch = (step: Step): Step | Promise<Step> => {
    this.reading = undefined;
    if (step.done) {
      this.over = true;
      const outcome: Outcome = { status: 200 };
      if (this.recorded) outcome.chunks = this.recorded;
      if (this.recordingTooLarge) outcome.recordingTooLarge = true;
      return finishAnswered(this.gw, this.state, outcome).then(finished<ChunkOut[]>);
    }
    let relayed: ChunkOut[];
    try {
      relayed = this.relayed(step.value);
    } catch (e) {
      return this.letGoAndFail(e);
    }
    // An empty batch (a usage chunk the client did not ask for): read on.
    return relayed.length ? { value: relayed, done: false } : this.next();
  };

  private readonly onFailed = (e: unknown): Promise<never> => {
    this.reading = undefined;
    return this.failed(e);
  };

  /** What leaves of a batch: the same array unless a chunk is dropped or replaced. */
  private relayed(batch: ChunkOut[]): ChunkOut[] {
    const state = this.state;
    state.firstTokenAt ??= Date.now();
    let out: ChunkOut[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const chunk = batch[i]!;
      if (this.recorded) {
        this.recordedSize += sizeAtLeast(chunk);
        if (this.recordedSize <= this.recordLimit) this.recorded.push(chunk);
        else {
          this.recorded = undefined;
          this.recordingTooLarge = true;
        }
      }
      // A plain delta has no usage and no finish reason, and reading its `chunk` would parse it.
      const parsed = chunk.plain ? undefined : chunk.chunk;
      if (parsed) noteChunkFacts(state, parsed);
      else if (this.idSearches > 0 && state.streamId === undefined) {
        this.idSearches--;
        state.streamId = idInText(chunk.raw);
      }
      const usage = parsed?.usage;
      let emit: ChunkOut | undefined = chunk;
      if (usage) {
        noteStreamUsage(state, chunk.chunk, usage);
        // We asked the upstream for usage so the stream can be costed; a client that did not ask never sees it.
        emit = state.wantsStreamUsage ? withStreamCost(this.gw, state, chunk) : withoutUsage(chunk);
      }
      if (emit !== chunk) out ??= batch.slice(0, i);
      if (out && emit) out.push(emit);
    }
    return out ?? batch;
  }

  /**
   * The client already has a 200 and its content: what the record and metrics say of a stream the
   * upstream broke is 502 (docs/observability.md), whatever broke it; the error keeps the cause.
   */
  private failed(e: unknown): Promise<never> {
    this.over = true;
    const error = toGatewayError(e);
    const status = error.status === 499 ? 499 : 502;
    if (status !== 499) failAnsweredAttempt(this.state, error, status);
    return runAfter(this.gw.stages, this.state, { status, error, incomplete: true }, this.gw.logger).then(() => Promise.reject(error));
  }

  /** Left early: the source is let go of (and the upstream call with it), then the request ends as one the client left. */
  return(): Promise<Step> {
    if (this.reading) return this.reading.then(this.returned, this.returned);
    return this.returned();
  }

  private readonly returned = (): Promise<Step> => {
    if (this.over) return Promise.resolve(finished());
    this.over = true;
    return this.source.return(undefined).then(
      () => runAfter(this.gw.stages, this.state, { status: 499, incomplete: true }, this.gw.logger).then(finished<ChunkOut[]>),
      (e: unknown) => this.failed(e),
    );
  };

  /** Thrown in: the source is let go of and the stream fails with it, as a generator's `catch` would take it. */
  throw(error: unknown): Promise<Step> {
    return this.over ? Promise.reject(error) : this.letGoAndFail(error);
  }

  /** A failure while the source still runs (ours, or thrown in): it is let go of first, as leaving a `for await` does. */
  private letGoAndFail(e: unknown): Promise<never> {
    this.over = true;
    const fail = () => this.failed(e);
    return this.source.return(undefined).then(fail, fail);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
