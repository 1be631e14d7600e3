import type { RequestState } from '../pipeline/state.js';
import type { GatewayRequest } from '../types.js';

/**
 * Requests whose stages began, by the request object the route handler received. A stage that
 * refuses in `before` (402, 429, 403) throws past the pipeline, and the gateway uses this to still
 * run the `after` stages — and so write the request's record — for it.
 */
const opened = new WeakMap<GatewayRequest, RequestState>();

export const markOpened = (state: RequestState): void => void opened.set(state.request, state);

export const openedState = (req: GatewayRequest): RequestState | undefined => opened.get(req);
