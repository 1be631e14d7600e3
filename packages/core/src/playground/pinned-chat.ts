import type { Plan, PlanNode } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { gatewayHeader, header } from '../http/headers.js';
import { checkDepth, readJsonBody } from '../http/read-body.js';
import { validateChat } from '../http/validate.js';
import { handleChat } from '../pipeline/chat.js';
import { createState } from '../pipeline/create-state.js';
import { markOpenedAs } from '../observability/opened-requests.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../types.js';
import { requirePlaygroundAccess } from './access.js';
import { findNode } from './describe-plan.js';

/** Names a node of the SERVER config (`config.targets[1]`) that answers this request alone. */
export const PIN_HEADER = 'x-llmux-playground-target';

/** One plan per pinned node, so its breaker and compiled state are built once, like the server plan's. */
const pinned = new WeakMap<PlanNode, Plan>();

/**
 * The server plan with its root moved to one of its own nodes. Budgets, rate limits, cache, aliases
 * and the deadline stay the server's: a pin only narrows where the request may go.
 */
export function pinnedPlan(gw: GatewayInternals, path: string): Plan {
  const server = gw.plans.serverPlan;
  const node = findNode(server.root, path);
  if (!node) {
    const known = server.root ? 'a path listed by playground/api/info' : 'nothing: this gateway routes by model name and has no targets to pin';
    throw new GatewayError('invalid_request', `${PIN_HEADER}: "${path}" is not a target of the server config (expected ${known})`, { param: PIN_HEADER });
  }
  let plan = pinned.get(node);
  if (!plan) pinned.set(node, (plan = { ...server, root: node }));
  return plan;
}

/** The admin key stays here: no `forward_headers` or request-level provider may pass it upstream. */
function withoutAdminKey(req: GatewayRequest): GatewayRequest {
  const headers = { ...req.headers };
  delete headers['x-llmux-admin-key'];
  delete headers.authorization;
  return { ...req, headers };
}

/**
 * `POST <mount>/playground/api/chat`: `/v1/chat/completions` behind the playground's guard, with an
 * optional pin to one target or strategy of the server config (for side-by-side comparison). It is
 * the only way to choose a target without `allowRequestConfig`, and it cannot reach anything the
 * server config does not already name. With gateway keys (`auth`) the admin key stands in for one,
 * so the page works for the admin without a key of its own.
 */
export async function handlePinnedChat(
  gw: GatewayInternals,
  req: GatewayRequest,
  context: GatewayContext | undefined,
  traceId: string,
  startedAt = Date.now(),
): Promise<GatewayResponse> {
  requirePlaygroundAccess(gw, req);
  const path = header(req.headers, PIN_HEADER)?.trim();
  if (path && ['config', 'provider', 'custom-host'].some((h) => gatewayHeader(req.headers, h) !== undefined)) {
    throw new GatewayError('invalid_request', `${PIN_HEADER} pins a target of the server config; it cannot be combined with a request-level config or provider`, {
      param: PIN_HEADER,
    });
  }
  const raw = await readJsonBody(req.body, gw.limits.maxBodyBytes, req.headers);
  checkDepth(raw, gw.limits.maxJsonDepth);
  const body = validateChat(raw, gw.limits.maxMessages) as RequestState['body'];
  const state = createState(gw, 'chat', withoutAdminKey(req), body, context, traceId, startedAt);
  // `handle` looks for a refused request's state under the request it passed in, not this copy.
  markOpenedAs(req, state);
  if (path) state.plan = pinnedPlan(gw, path);
  return handleChat(gw, state);
}
