import { util as undiciUtil } from 'undici';
import { concatBytes } from '../http/bytes.js';
import type { UpstreamResponse } from '../providers/types.js';
import type { AbortSource } from './abort-link.js';

/** Bytes a stream may hold unread before the upstream socket is paused (a Readable's default is 64 KiB too). */
const HIGH_WATER = 64 * 1024;
/** What `dump()` reads to keep the connection; past it the call is aborted instead (as undici's own `dump`). */
const DUMP_LIMIT = 128 * 1024;

const DONE: IteratorResult<Uint8Array> = { done: true, value: undefined };
const EMPTY = new Uint8Array(0);
const released = () => new Error('the upstream body was released before its end');

type Settle<T> = { resolve: (value: T) => void; reject: (error: unknown) => void };
type Waiter = Settle<IteratorResult<Uint8Array>> & { promise?: Promise<IteratorResult<Uint8Array>> };

/**
 * One upstream call as undici's dispatch handler, and its answer's body. undici's `request()` wraps
 * each call in an AsyncResource handler and each body in a Node `Readable` (a stream object, an
 * end-of-stream watcher, and a promise per chunk when iterated), ~3 µs and several hundred bytes of
 * garbage per call; a gateway reads every body either whole (non-stream) or chunk by chunk to
 * translate it, so a queue of chunks with a waiting reader does the same work.
 *
 * The handler is undici's legacy one (`onConnect`/`onHeaders`/...): the one its core calls directly,
 * where the newer controller API is adapted to it per call.
 *
 * Contract kept from `request()`: the signal aborts the call at any point (before the socket, while
 * waiting for headers, mid-body); a reader that stops early (`return()`, overflow) aborts it so the
 * upstream stops generating; a reader slower than the upstream pauses the socket past 64 KiB.
 */
export class DispatchedResponse implements AsyncIterableIterator<Uint8Array> {
  private start: Settle<UpstreamResponse> | undefined;
  private abortCall: ((reason: Error) => void) | undefined;
  private resumeCall: (() => void) | undefined;
  private paused = false;
  /** Chunks not yet read are `queue[head..]`. */
  private queue: Uint8Array[] = [];
  /**
   * An index rather than `shift()`: past ~16k entries V8 copies the array on every shift, and an
   * upstream of one-byte chunks queues 64k of them (seconds of blocked event loop to read).
   */
  private head = 0;
  private queued = 0;
  private ended = false;
  private failed: { error: unknown } | undefined;
  /** A `next()` waiting for a chunk. */
  private waiter: Waiter | undefined;
  /** A `readAll()` collecting the body. */
  private whole: (Settle<Uint8Array> & { limit: number; tooLarge: () => Error }) | undefined;
  /** `dump()`: what arrives is counted and dropped. */
  private dumping: { resolve: () => void; read: number; done: Promise<void> } | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly signal: AbortSource,
    start: Settle<UpstreamResponse>,
  ) {
    this.start = start;
    this.onAbort = () => this.abort(toError(signal.reason));
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  // ---- undici's side ----

  onConnect(abort: (reason: Error) => void): void {
    if (this.signal.aborted) return abort(toError(this.signal.reason));
    this.abortCall = abort;
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    // 1xx informational answers come before the real one.
    if (status < 200) return true;
    this.resumeCall = resume;
    const start = this.start;
    this.start = undefined;
    start?.resolve({ status, headers: undiciUtil.parseHeaders(raw) as UpstreamResponse['headers'], body: this, dump: () => this.dump() });
    return true;
  }

  onData(chunk: Buffer): boolean {
    const dumping = this.dumping;
    if (dumping) {
      dumping.read += chunk.byteLength;
      if (dumping.read > DUMP_LIMIT) this.abort(released());
      return true;
    }
    const whole = this.whole;
    if (whole) {
      this.queued += chunk.byteLength;
      if (this.queued > whole.limit) {
        this.whole = undefined;
        this.abort(released());
        whole.reject(whole.tooLarge());
        return false;
      }
      this.queue.push(chunk);
      return true;
    }
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ done: false, value: chunk });
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.byteLength;
    if (this.queued < HIGH_WATER) return true;
    this.paused = true;
    return false;
  }

  onComplete(): void {
    this.ended = true;
    this.unlisten();
    this.dumping?.resolve();
    const whole = this.whole;
    if (whole) {
      this.whole = undefined;
      whole.resolve(this.takeAll());
    }
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve(DONE);
    }
  }

  onError(error: Error): void {
    this.unlisten();
    const start = this.start;
    if (start) {
      this.start = undefined;
      return start.reject(error);
    }
    if (this.ended) return;
    this.failed ??= { error };
    this.drop();
    this.dumping?.resolve();
    const whole = this.whole;
    this.whole = undefined;
    whole?.reject(error);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(error);
  }

  // ---- the reader's side ----

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const queue = this.queue;
    if (this.head < queue.length) {
      const value = queue[this.head]!;
      // Not held once read.
      queue[this.head++] = EMPTY;
      this.queued -= value.byteLength;
      if (this.head === queue.length) {
        this.drop();
        if (this.paused) {
          this.paused = false;
          this.resumeCall?.();
        }
      } else if (this.head >= 1024 && this.head * 2 >= queue.length) {
        // A reader that never quite catches up never empties the queue: compacted now and then
        // (when at least half of it is read, so the copy stays O(1) per chunk).
        queue.splice(0, this.head);
        this.head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.failed) return Promise.reject(this.failed.error);
    if (this.ended) return Promise.resolve(DONE);
    // A second read while one waits (allowed by the protocol) queues behind it: one waiter slot would
    // otherwise drop the first read's promise, which then never settles.
    const waiting = this.waiter?.promise;
    if (waiting) return waiting.then(() => this.next(), () => this.next());
    const promise = new Promise<IteratorResult<Uint8Array>>((resolve, reject) => (this.waiter = { resolve, reject }));
    this.waiter!.promise = promise;
    return promise;
  }

  /** The reader stopped early (`break` in `for await`): the upstream call has nothing left to do. */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.release();
    return Promise.resolve(DONE);
  }

  /** Every remaining byte, refusing more than `limit` (the call is then aborted and `tooLarge()` thrown). */
  readAll(limit: number, tooLarge: () => Error): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed.error);
    // One reader at a time: a second would take the first one's place, leaving its promise unsettled.
    if (this.whole || this.dumping) return Promise.reject(new Error('the upstream body is already being read'));
    if (this.queued > limit) {
      this.release();
      return Promise.reject(tooLarge());
    }
    if (this.ended) return Promise.resolve(this.takeAll());
    // Set before resuming: undici parses what the socket holds at once, within `resume()`, and that
    // may end the body or overflow it; chunks it gave a reader not yet set would pause it again.
    const all = new Promise<Uint8Array>((resolve, reject) => (this.whole = { resolve, reject, limit, tooLarge }));
    if (this.paused) {
      this.paused = false;
      this.resumeCall?.();
    }
    return all;
  }

  private dump(): Promise<void> {
    if (this.ended || this.failed) return Promise.resolve();
    // Asked twice, both callers wait for the one release.
    if (this.dumping) return this.dumping.done;
    this.drop();
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.dumping = { resolve, read: this.queued, done };
    this.queued = 0;
    if (this.paused) {
      this.paused = false;
      this.resumeCall?.();
    }
    return done;
  }

  private takeAll(): Uint8Array {
    const bytes = concatBytes(this.head ? this.queue.slice(this.head) : this.queue, this.queued);
    this.drop();
    this.queued = 0;
    return bytes;
  }

  private release(): void {
    if (this.ended || this.failed) return;
    this.failed = { error: released() };
    this.drop();
    this.abort(this.failed.error as Error);
  }

  private abort(reason: Error): void {
    if (this.ended) return;
    if (this.abortCall) return this.abortCall(reason);
    // Still queued for a socket: undici calls `onConnect` (which then aborts it) only once one is
    // free, maybe minutes later behind long streams, so the caller is answered now.
    const start = this.start;
    this.start = undefined;
    start?.reject(reason);
  }

  private drop(): void {
    this.queue = [];
    this.head = 0;
  }

  private unlisten(): void {
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(reason === undefined ? 'This operation was aborted' : String(reason));
}
