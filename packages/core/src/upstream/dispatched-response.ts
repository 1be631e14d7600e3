import { util as undiciUtil } from 'undici';
import { concatBytes } from '../http/bytes.js';
import type { UpstreamResponse } from '../providers/types.js';
import type { AbortSource } from './abort-link.js';

/** Bytes a stream may hold unread before the upstream socket is paused (a Readable's default is 64 KiB too). */
const HIGH_WATER = 64 * 1024;
/** What `dump()` reads to keep the connection; past it the call is aborted instead (as undici's own `dump`). */
const DUMP_LIMIT = 128 * 1024;

const DONE: IteratorResult<Uint8Array> = { done: true, value: undefined };
const released = () => new Error('the upstream body was released before its end');

type Settle<T> = { resolve: (value: T) => void; reject: (error: unknown) => void };

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
  private queue: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private failed: { error: unknown } | undefined;
  /** A `next()` waiting for a chunk. */
  private waiter: Settle<IteratorResult<Uint8Array>> | undefined;
  /** A `readAll()` collecting the body. */
  private whole: (Settle<Uint8Array> & { limit: number; tooLarge: () => Error }) | undefined;
  /** `dump()`: what arrives is counted and dropped. */
  private dumping: { resolve: () => void; read: number } | undefined;
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
    this.queue = [];
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
    if (queue.length) {
      const value = queue.shift()!;
      this.queued -= value.byteLength;
      if (this.paused && !queue.length) {
        this.paused = false;
        this.resumeCall?.();
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.failed) return Promise.reject(this.failed.error);
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The reader stopped early (`break` in `for await`): the upstream call has nothing left to do. */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.release();
    return Promise.resolve(DONE);
  }

  /** Every remaining byte, refusing more than `limit` (the call is then aborted and `tooLarge()` thrown). */
  readAll(limit: number, tooLarge: () => Error): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed.error);
    if (this.queued > limit) {
      this.release();
      return Promise.reject(tooLarge());
    }
    if (this.ended) return Promise.resolve(this.takeAll());
    if (this.paused) {
      this.paused = false;
      this.resumeCall?.();
    }
    return new Promise((resolve, reject) => (this.whole = { resolve, reject, limit, tooLarge }));
  }

  private dump(): Promise<void> {
    if (this.ended || this.failed) return Promise.resolve();
    this.queue = [];
    return new Promise((resolve) => {
      this.dumping = { resolve, read: this.queued };
      this.queued = 0;
      if (this.paused) {
        this.paused = false;
        this.resumeCall?.();
      }
    });
  }

  private takeAll(): Uint8Array {
    const bytes = concatBytes(this.queue, this.queued);
    this.queue = [];
    this.queued = 0;
    return bytes;
  }

  private release(): void {
    if (this.ended || this.failed) return;
    this.failed = { error: released() };
    this.queue = [];
    this.abort(this.failed.error as Error);
  }

  private abort(reason: Error): void {
    // Before a socket takes the call there is nothing to abort yet: `onConnect` checks the signal.
    if (!this.ended) this.abortCall?.(reason);
  }

  private unlisten(): void {
    this.signal.removeEventListener('abort', this.onAbort);
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(reason === undefined ? 'This operation was aborted' : String(reason));
}
