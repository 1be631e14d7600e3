import { toGatewayError, type GatewayError } from '../errors.js';
import type { RouteName } from '../http/routes.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import { runAfter } from '../pipeline/run-stages.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../types.js';
import { recordWithoutState } from './build-record.js';
import { observabilityOf } from './observability.js';
import { openedState } from './opened-requests.js';
import { errorOfResponse } from './response-error.js';
import { parentContextFor } from './spans.js';

/** A request as `handle` tracks it: admission may swap in a request without the gateway key, and a context with its name. */
export interface CallInfo {
  req: GatewayRequest;
  context: GatewayContext | undefined;
  traceId: string;
  startedAt: number;
  /** Set once the path matched a route. */
  route?: RouteName;
}

/**
 * Makes sure a failed request leaves its record. One whose stages began but that was refused before
 * routing (a budget, a rate limit, a forbidden model) runs the `after` stages now — they settle
 * whatever was reserved and write the record. One refused before it had stages (bad JSON, a wrong
 * key, an unknown path) gets a record of what its request says.
 */
export async function recordFailure(gw: GatewayInternals, call: CallInfo, error: GatewayError): Promise<void> {
  try {
    const state = openedState(call.req);
    if (state === null) return;
    if (state) {
      if (!state.scratch.finished) await runAfter(gw.stages, state, { status: error.status, error }, gw.logger);
      return;
    }
    const obs = observabilityOf(gw);
    obs.emit({
      record: recordWithoutState(call.route ?? 'unknown', call.req, call.context, call.traceId, call.startedAt, error),
      ...(obs.spans ? { parent: parentContextFor(call.req) } : {}),
    });
  } catch (e) {
    gw.logger?.error({ err: e, traceId: call.traceId }, 'llmux: could not record a failed request');
  }
}

/** `handle`'s last step: an error response (thrown, or returned by an ingress in its own shape) gets its record. */
export async function finishRequest(gw: GatewayInternals, call: CallInfo, res: GatewayResponse, thrown?: unknown): Promise<GatewayResponse> {
  if (res.status >= 400) await recordFailure(gw, call, thrown !== undefined ? toGatewayError(thrown) : errorOfResponse(res));
  return res;
}
