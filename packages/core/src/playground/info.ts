import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayRequest, GatewayResponse } from '../types.js';
import { playgroundGuarded, requirePlaygroundAccess } from './access.js';
import { describePlan, type PlaygroundNode } from './describe-plan.js';
import { PIN_HEADER } from './pinned-chat.js';

export interface PlaygroundInfo {
  object: 'llmux.playground.info';
  /** The playground API asks for the admin key. */
  guarded: boolean;
  /** Gateway keys guard `/v1/…`: the page then sends everything through `playground/api/chat`. */
  auth: boolean;
  /** `config`: the server config's tree answers; `model`: no config, the model name picks the provider. */
  routing: 'config' | 'model';
  /** The server config's tree, root first; any `path` may be sent in `x-llmux-playground-target`. */
  nodes: PlaygroundNode[];
  /** Model names the config mentions (aliases and `override_params.model`). */
  models: string[];
  /** A model for a route whose target fixes none (and to start with when nothing routes by config). */
  default_model: string;
  cache: string | null;
  budgets: number;
  rate_limits: number;
  store: string;
  pin_header: string;
}

/** `GET <mount>/playground/api/info`: what the page may offer, from the server plan only. */
export function handleInfo(gw: GatewayInternals, req: GatewayRequest, traceId: string): GatewayResponse {
  requirePlaygroundAccess(gw, req);
  const plan = gw.plans.serverPlan;
  const body: PlaygroundInfo = {
    object: 'llmux.playground.info',
    guarded: playgroundGuarded(gw),
    auth: gw.options.auth !== undefined,
    routing: plan.root ? 'config' : 'model',
    nodes: describePlan(plan),
    models: plan.models,
    // Without a config the model name routes, so a model the config names (an alias) is a good start;
    // with one, the page starts from the first target's own model and this is for targets fixing none.
    default_model: (plan.root ? undefined : plan.models[0]) ?? 'gpt-4o-mini',
    cache: plan.cache?.mode ?? null,
    budgets: plan.budgets.length,
    rate_limits: plan.rateLimits.length,
    store: gw.store.kind,
    pin_header: PIN_HEADER,
  };
  return { status: 200, headers: { 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId, 'cache-control': 'no-store' }, body };
}
