import type { ServerResponse } from 'node:http';

/** Same registry symbol as the router's `REQUEST_SCOPED` (this entry point shares no module state with the core's). */
const REQUEST_SCOPED = Symbol.for('llmux.request-scoped-signal');

/**
 * Aborts when the client goes away before the response finished. `close` on the response is the one
 * event Node fires for every way a connection ends (the request's `aborted` is deprecated).
 */
export function abortSignalFor(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  // It ends with this response, so the router may take its controller over for the request's deadline
  // rather than make and link one of its own (the router's `RequestScope`).
  const scope = { controller, closed: false, claimed: false };
  res.once('close', () => {
    if (res.writableFinished) return;
    scope.closed = true;
    controller.abort(new Error('client closed the connection'));
  });
  const signal = controller.signal as AbortSignal & { [REQUEST_SCOPED]?: typeof scope };
  signal[REQUEST_SCOPED] = scope;
  return signal;
}
