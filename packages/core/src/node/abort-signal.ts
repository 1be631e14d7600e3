import type { ServerResponse } from 'node:http';
import { AbortLink, REQUEST_SCOPED, type AbortSource } from '../upstream/abort-link.js';

/**
 * Runs `act` once `res` closes while `orphaned()` says nobody wants the gateway's answer — at once
 * when it already closed (made after the client left, its 'close' will not fire again). `ServerResponse`
 * fires `close` for every way a connection ends (the request's `aborted` is deprecated), and only once.
 */
function whenOrphaned(res: ServerResponse, orphaned: () => boolean, act: () => void): void {
  if (res.closed) {
    if (orphaned()) act();
  } else {
    res.on('close', () => {
      if (orphaned()) act();
    });
  }
}

/**
 * Says the gateway is now ending the response its request's `link` came from (its writer, or Koa
 * sending its body). Under `untilAnswered`, a response that finished before that was answered by
 * the host app instead — a timeout middleware or interceptor — and nobody will read the gateway's answer.
 */
export function markAnswering(link: AbortSource | undefined): void {
  if (link instanceof AbortLink) link.answering = true;
}

function clientLeft(link: AbortLink): void {
  link.clientClosed = true;
  link.abort(new Error('client closed the connection'));
}

/**
 * What the adapters pass as a request's `signal`: aborts when the client goes away before the
 * response finished — and with `untilAnswered`, when the host app ends it before the gateway's writer
 * does (the writer is handed the link: see `markAnswering`): its upstream call would otherwise run
 * on, billed, for no one. An `AbortLink` rather than an `AbortSignal` (~5 µs less per request on
 * Node 20); the router takes it over for the request's deadline too.
 *
 * Nothing is stored on `res`: Express gives every request's `req` and `res` a hidden class of their
 * own (it swaps their prototypes), so a property added to `res` builds a new one each time — two
 * cost ~10 µs a request there. A closure per response costs a fraction of that.
 */
export function abortLinkFor(res: ServerResponse, options?: { untilAnswered?: boolean }): AbortLink {
  const link = new AbortLink();
  if (options?.untilAnswered) link.answering = false;
  // Wanted by no one: the client left, or the host answered first.
  whenOrphaned(res, () => !res.writableFinished || link.answering === false, () => clientLeft(link));
  return link;
}

/** The same as a real `AbortSignal`, for code that needs one. */
export function abortSignalFor(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  whenOrphaned(res, () => !res.writableFinished, () => controller.abort(new Error('client closed the connection')));
  const signal = controller.signal as AbortSignal & { [REQUEST_SCOPED]?: true };
  signal[REQUEST_SCOPED] = true;
  return signal;
}
