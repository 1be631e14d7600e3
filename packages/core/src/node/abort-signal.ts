import type { ServerResponse } from 'node:http';

/** Same registry symbol as the router's `REQUEST_SCOPED` (this entry point shares no module state with the core's). */
const REQUEST_SCOPED = Symbol.for('llmux.request-scoped-signal');

/**
 * Aborts when the client goes away before the response finished. `close` on the response is the one
 * event Node fires for every way a connection ends (the request's `aborted` is deprecated).
 */
export function abortSignalFor(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  // It ends with this response, so the router may link to it without guarding against a long-lived signal.
  const signal = controller.signal as AbortSignal & { [REQUEST_SCOPED]?: true };
  signal[REQUEST_SCOPED] = true;
  return signal;
}
