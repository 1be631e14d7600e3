import type { GatewayError } from '../errors.js';
import type { CallContext, ChunkOut, Provider, StreamTranslator, UpstreamEvent, UpstreamResponse } from '../providers/types.js';
import { finished } from '../stream/batches.js';
import { createDecoder, type EventDecoder } from '../stream/decode.js';

/** What the translation tells its attempt (`AttemptControl` in call.ts): silence timing, the end, and what a failure means. */
export interface StreamControl {
  /** Before each wait on the upstream: silence is timed from here… */
  waiting(): void;
  /** …to here, when a read came. */
  heard(): void;
  /** The attempt is over; `complete`: the body was read to its end. */
  finish(complete: boolean): void;
  /** Whatever broke the stream, as the error the router and the client see. */
  failure(e: unknown, provider: string, ctx: CallContext): GatewayError;
}

/** The provider's refusal in a 200 whose body held no event, from that body's bytes (`refusalInsteadOfEvents` in call.ts). */
export type Unframed = (kept: Uint8Array[], size: number) => GatewayError | undefined;

/** At most this much of a body with no events in it is kept to read as an error. */
const UNFRAMED_LIMIT = 64 * 1024;

type Step = IteratorResult<ChunkOut[], void>;

/**
 * The upstream stream as batches of OpenAI chunks, one per body read. A translator error after some
 * chunks of the same read still lets those chunks out first, as a chunk-by-chunk relay would. An
 * `event: error` starts a batch of its own, read only once the chunks ahead of it were taken: a
 * translator may act per event (the `/v1/messages` passthrough queues each event's text and relays
 * it with the next chunk), and an error's text must never ride out with the chunks before it.
 *
 * A plain iterator pulling with `then`, not an async generator: every upstream read (a token, for
 * most providers) went through the generator's resume, its `await` on the body and its `yield`'s
 * own await — the largest part of the gateway's CPU per relayed token. It keeps the generator's
 * contract: a failure anywhere (the body, the decoder, the translator, a refusal in place of
 * events) is the attempt's `failure`; leaving early (`return()`) stops the body and with it the
 * upstream call; `return()` while a read is on its way waits for that read, as a generator queues it.
 */
export class TranslatedStream implements AsyncGenerator<ChunkOut[], void, undefined> {
  private readonly decoder: EventDecoder;
  private readonly translator: StreamTranslator;
  private body: AsyncIterator<Uint8Array> | undefined;
  /** The events of the last read (or of the body's end) not yet translated: `events[at..]`. */
  private events: UpstreamEvent[] = [];
  private at = 0;
  private failed: { error: unknown } | undefined;
  /** The body's bytes while no event came of them, up to `UNFRAMED_LIMIT`. */
  private unframed: Uint8Array[] | undefined = [];
  private unframedSize = 0;
  /** The body was read to its end. */
  private complete = false;
  /** `body` while reading it; `tail` for its end's events; `last` once the translator's closing chunks went out; `over`. */
  private phase: 'body' | 'tail' | 'last' | 'over' = 'body';
  /** A read on its way. */
  private reading: Promise<Step> | undefined;

  constructor(
    private readonly res: UpstreamResponse,
    private readonly provider: Provider,
    private readonly ctx: CallContext,
    private readonly control: StreamControl,
    private readonly refusal: Unframed,
  ) {
    this.decoder = createDecoder(provider.framing);
    this.translator = provider.chat.stream(ctx);
  }

  next(): Promise<Step> {
    const step = this.step();
    return step instanceof Promise ? step : Promise.resolve(step);
  }

  /** A batch at hand, the end, or a read of the body. */
  private step(): Step | Promise<Step> {
    try {
      for (;;) {
        if (this.phase === 'over') return finished();
        const batch = this.take();
        if (batch) return { value: batch, done: false };
        if (this.phase === 'body') return this.read();
        if (this.phase === 'tail') {
          // The same mapping as every event's: an error in the translator's closing chunks is provider text too.
          const last = this.translator.end();
          this.phase = 'last';
          if (last.length) return { value: last, done: false };
          continue;
        }
        // The body was read to its end and every chunk went out.
        this.phase = 'over';
        this.control.finish(true);
        return finished();
      }
    } catch (e) {
      return this.fail(e);
    }
  }

  /**
   * The next non-empty batch of the pending events, up to (not into) an `event: error` once it holds
   * chunks. A translator failure lets the chunks before it out first, and is thrown on the next take.
   */
  private take(): ChunkOut[] | undefined {
    const events = this.events;
    while (this.at < events.length) {
      const batch: ChunkOut[] = [];
      let i = this.at;
      for (; i < events.length; i++) {
        const ev = events[i]!;
        if (ev.event === 'error' && batch.length) break;
        try {
          for (const out of this.translator.push(ev)) batch.push(out);
        } catch (error) {
          this.failed = { error };
          i = events.length;
          break;
        }
      }
      this.at = i;
      if (batch.length) return batch;
    }
    if (this.failed) throw this.failed.error;
    return undefined;
  }

  private read(): Promise<Step> {
    this.control.waiting();
    const reading = (this.body ??= this.res.body[Symbol.asyncIterator]()).next().then(this.onRead, this.onReadFailed);
    this.reading = reading;
    return reading;
  }

  private readonly onRead = (read: IteratorResult<Uint8Array>): Step | Promise<Step> => {
    this.reading = undefined;
    this.control.heard();
    try {
      if (read.done) {
        this.complete = true;
        this.phase = 'tail';
        if (this.unframed) {
          const refusal = this.refusal(this.unframed, this.unframedSize);
          if (refusal) throw refusal;
        }
        this.events = this.decoder.end();
      } else {
        this.events = this.decoder.push(read.value);
        if (this.unframed) {
          this.unframedSize += read.value.byteLength;
          if (this.events.length > 0 || this.unframedSize > UNFRAMED_LIMIT) this.unframed = undefined;
          else this.unframed.push(read.value);
        }
      }
      this.at = 0;
    } catch (e) {
      return this.fail(e);
    }
    return this.step();
  };

  private readonly onReadFailed = (e: unknown): Promise<Step> => {
    this.reading = undefined;
    return this.fail(e);
  };

  /** The attempt's failure; the body, when not read to its end, stops (and its call with it). */
  private fail(e: unknown): Promise<never> {
    this.phase = 'over';
    this.stopBody();
    let error: GatewayError;
    try {
      error = this.control.failure(e, this.provider.id, this.ctx);
    } finally {
      this.control.finish(this.complete);
    }
    return Promise.reject(error);
  }

  private stopBody(): void {
    if (!this.complete) void this.body?.return?.()?.catch(() => {});
  }

  /** Leaving early: the body stops, and with it the upstream call. */
  return(): Promise<Step> {
    if (this.reading) return this.reading.then(this.returned, this.returned);
    return this.returned();
  }

  private readonly returned = (): Promise<Step> => {
    if (this.phase !== 'over') {
      this.phase = 'over';
      this.stopBody();
      this.control.finish(this.complete);
    }
    return Promise.resolve(finished());
  };

  /** Thrown in: the attempt fails with it, as a generator's `catch` would take it. */
  throw(error: unknown): Promise<Step> {
    return this.phase === 'over' ? Promise.reject(error) : this.fail(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
