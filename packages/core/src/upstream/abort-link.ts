/**
 * What the gateway's own code and undici read of an abort signal. A real `AbortSignal` fits, and so
 * does an `AbortLink`.
 */
export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * An abort source for one request and its upstream calls: the subset of `AbortController` +
 * `AbortSignal` the gateway uses, as a plain object. On Node 20 creating an AbortSignal costs
 * ~5 µs (an EventTarget and a prototype swap that also leaves it slow to read) and each listener
 * added or removed ~1–2 µs; a request needs one for the client, one for its deadline, and undici
 * listens to it for every call. undici accepts any object with `addEventListener`.
 * Code outside the gateway that needs a real signal (a custom `transport`, `fetch`) gets one
 * from `toSignal()`, made on first use.
 */
const noop = () => {};

export class AbortLink implements AbortSource {
  aborted = false;
  reason: unknown = undefined;
  /** Set with `abort` when the client left (adapters), so the router tells that from its own deadline. */
  clientClosed = false;
  /** A routing run owns this link for its deadline (see `router/run.ts`). */
  claimed = false;
  /**
   * For an adapter's link made with `untilAnswered` (`abortLinkFor` in `@llmux/core/node`): false
   * while the gateway's answer is awaited, true once the gateway's writer ends the response.
   */
  answering: boolean | undefined = undefined;
  private listeners: Array<() => void> | undefined = undefined;
  private signal: AbortSignal | undefined = undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const i = listeners.indexOf(listener);
    if (i !== -1) listeners.splice(i, 1);
  }

  /** Aborts with `parent` (at once when it already has); returns what undoes the link. */
  follow(parent: AbortSource): () => void {
    if (parent.aborted) {
      this.abort(parent.reason);
      return noop;
    }
    const onAbort = () => this.abort(parent.reason);
    parent.addEventListener('abort', onAbort, { once: true });
    return () => parent.removeEventListener('abort', onAbort);
  }

  abort(reason: unknown = new Error('This operation was aborted')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // One failing listener stops neither the others nor the caller — and, unlike an
        // EventTarget's, never turns into an uncaught exception that takes the host app down.
      }
    }
  }

  /** A real AbortSignal that follows this link. */
  toSignal(): AbortSignal {
    if (!this.signal) {
      const controller = new AbortController();
      if (this.aborted) controller.abort(this.reason);
      else this.addEventListener('abort', () => controller.abort(this.reason));
      this.signal = controller.signal;
    }
    return this.signal;
  }
}

/**
 * Set by `abortSignalFor` on a real signal that lives exactly as long as one HTTP request: the router
 * may link to it without guarding against a long-lived signal (no WeakRef and finalizer).
 */
export const REQUEST_SCOPED = Symbol.for('llmux.request-scoped-signal');

export const isAbortLink = (source: unknown): source is AbortLink => source instanceof AbortLink;

/** A real AbortSignal for `source`, for code outside the gateway. */
export function asAbortSignal(source: AbortSource): AbortSignal {
  return isAbortLink(source) ? source.toSignal() : (source as AbortSignal);
}
