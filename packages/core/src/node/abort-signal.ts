import type { ServerResponse } from 'node:http';

/**
 * Aborts when the client goes away before the response finished. `close` on the response is the one
 * event Node fires for every way a connection ends (the request's `aborted` is deprecated).
 */
export function abortSignalFor(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  return controller.signal;
}
