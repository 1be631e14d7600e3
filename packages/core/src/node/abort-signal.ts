import type { ServerResponse } from 'node:http';
import { AbortLink, REQUEST_SCOPED } from '../upstream/abort-link.js';

/** `ServerResponse` fires `close` for every way a connection ends (the request's `aborted` is deprecated). */
function onClientGone(res: ServerResponse, abort: () => void): void {
  res.once('close', () => {
    if (!res.writableFinished) abort();
  });
}

/**
 * What the adapters pass as a request's `signal`: aborts when the client goes away before the
 * response finished. An `AbortLink` rather than an `AbortSignal` (~5 µs less per request on Node 20);
 * the router takes it over for the request's deadline too.
 */
export function abortLinkFor(res: ServerResponse): AbortLink {
  const link = new AbortLink();
  onClientGone(res, () => {
    link.clientClosed = true;
    link.abort(new Error('client closed the connection'));
  });
  return link;
}

/** The same as a real `AbortSignal`, for code that needs one. */
export function abortSignalFor(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  onClientGone(res, () => controller.abort(new Error('client closed the connection')));
  const signal = controller.signal as AbortSignal & { [REQUEST_SCOPED]?: true };
  signal[REQUEST_SCOPED] = true;
  return signal;
}
