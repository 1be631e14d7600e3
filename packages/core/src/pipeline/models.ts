import { targetsOf, type Plan } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { header } from '../http/headers.js';
import { modelIdIn, routePath } from '../http/routes.js';
import { anthropicErrorResponse } from '../ingress/anthropic-messages/errors.js';
import { keyringOf } from '../auth/keyring-of.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../types.js';
import type { GatewayInternals } from './internals.js';

interface ModelObject {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

/**
 * The models the config names (targets' forced models, then aliases as `llmux`'s own) — those the
 * caller's gateway key may use, when its `models` narrow it (as OpenAI lists a project key's).
 */
function modelsOf(gw: GatewayInternals, plan: Plan, context: GatewayContext | undefined): ModelObject[] {
  const key = typeof context?.key === 'string' ? keyringOf(gw)?.byName(context.key) : undefined;
  const allows = key?.allows;
  const models = new Map<string, string>();
  for (const alias of Object.keys(plan.aliases)) if (!allows || allows(alias) || allows(plan.aliases[alias]!)) models.set(alias, 'llmux');
  for (const target of targetsOf(plan.root)) {
    const model = target.overrideParams.model;
    if (typeof model === 'string' && !models.has(model) && (!allows || allows(model))) models.set(model, target.provider);
  }
  return [...models].map(([id, owned_by]) => ({ id, object: 'model', created: 0, owned_by }));
}

const traceHeaders = (traceId: string) => ({ 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId });

/**
 * Anthropic's SDKs list models at the same path and always send `anthropic-version`; they get
 * Anthropic's `ModelInfo` (`type`, `display_name`, `created_at`) and page fields, and its error shape.
 */
const wantsAnthropic = (req: GatewayRequest) => header(req.headers, 'anthropic-version') !== undefined;

const anthropicModel = (m: ModelObject) => ({ type: 'model', id: m.id, display_name: m.id, created_at: new Date(m.created * 1000).toISOString() });

/**
 * `GET /v1/models`: the models the config names, and its aliases. The config is the one the request
 * would route by: a config header the server refuses is refused here too (403), as on every route.
 */
export function handleModels(gw: GatewayInternals, req: GatewayRequest, context: GatewayContext | undefined, traceId: string): GatewayResponse {
  const data = modelsOf(gw, gw.plans.forRequest(req), context);
  if (wantsAnthropic(req)) {
    const list = data.map(anthropicModel);
    return { status: 200, headers: traceHeaders(traceId), body: { data: list, has_more: false, first_id: list[0]?.id ?? null, last_id: list.at(-1)?.id ?? null } };
  }
  return { status: 200, headers: traceHeaders(traceId), body: { object: 'list', data } };
}

/**
 * `GET /v1/models/{id}`: one model of that list, or OpenAI's 404 (`model_not_found`) for any other
 * id — including ones a passthrough target would still accept: the list is what the gateway names.
 */
export function handleModel(gw: GatewayInternals, req: GatewayRequest, context: GatewayContext | undefined, traceId: string): GatewayResponse {
  // Found by matchRoute, so the path holds an id.
  let id = modelIdIn(routePath(req.path)) ?? '';
  try {
    id = decodeURIComponent(id);
  } catch {
    // Not valid percent-encoding: looked up as sent, so it matches nothing and gets the 404.
  }
  const model = modelsOf(gw, gw.plans.forRequest(req), context).find((m) => m.id === id);
  if (!model) {
    const error = new GatewayError('not_found', `The model '${id}' does not exist or is not served by this gateway`, { param: 'model', providerCode: 'model_not_found' });
    if (wantsAnthropic(req)) return anthropicErrorResponse(error, traceId);
    throw error;
  }
  return { status: 200, headers: traceHeaders(traceId), body: wantsAnthropic(req) ? anthropicModel(model) : model };
}
