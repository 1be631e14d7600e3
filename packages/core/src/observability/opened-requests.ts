import type { RequestState } from '../pipeline/state.js';
import type { GatewayRequest } from '../types.js';

const STATE = Symbol('llmux.opened-state');
type Tagged = GatewayRequest & { [STATE]?: RequestState | null };

/**
 * Requests whose stages began, by the request object the route handler received. A stage that
 * refuses in `before` (402, 429, 403) throws past the pipeline, and the gateway uses this to still
 * run the `after` stages — and so write the request's record — for it.
 *
 * Kept on the request object, not in a WeakMap: V8's young-generation GC treats a WeakMap value as
 * live while its key is young, so every request's whole state was copied and promoted (measured:
 * ~1.5 MB promoted per scavenge, about 10 µs of GC per request).
 */
export function markOpened(state: RequestState): void {
  try {
    (state.request as Tagged)[STATE] = state;
  } catch {
    // A frozen request object: a refusal then gets the record of what its request says.
  }
}

/**
 * Also finds `state` under `req`, a request the route handler received but whose stages run on a copy
 * of it (the playground's, without the admin key): a refusal of that copy must still end the state.
 */
export function markOpenedAs(req: GatewayRequest, state: RequestState): void {
  try {
    (req as Tagged)[STATE] = state;
  } catch {
    // As in markOpened.
  }
}

/** The request's record is written: nothing is left to run for it, and its state is let go. */
export function markRecorded(state: RequestState): void {
  if ((state.request as Tagged)[STATE] !== undefined) (state.request as Tagged)[STATE] = null;
}

/** The request's state while its stages run; `null` once its record was written; `undefined` if they never began. */
export const openedState = (req: GatewayRequest): RequestState | null | undefined => (req as Tagged)[STATE];
