import { GatewayError, toGatewayError } from '../../errors.js';
import { copyHeaders, responseHeaders } from '../../http/headers.js';
import { checkDepth, readJsonBody } from '../../http/read-body.js';
import type { PlanNode } from '../../config/plan.js';
import { factsOf, modelFor, withRoutingFacts } from '../../pipeline/chat.js';
import { createState } from '../../pipeline/create-state.js';
import type { GatewayInternals } from '../../pipeline/internals.js';
import { runAfter, runBefore } from '../../pipeline/run-stages.js';
import type { PipelineStage, RequestState } from '../../pipeline/state.js';
import { anthropicHeaders } from '../../providers/anthropic/headers.js';
import type { ChatCompletion } from '../../providers/openai-types.js';
import type { Provider, ResolvedTarget } from '../../providers/types.js';
import type { Breaker } from '../../router/breaker.js';
import { routeEnvFor } from '../../router/env-for-request.js';
import { weightOf } from '../../router/weighted.js';
import { route, type RouteEnv } from '../../router/execute.js';
import type { AbortSource } from '../../upstream/abort-link.js';
import { callChat } from '../../upstream/call.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../../types.js';
import { anthropicErrorResponse } from './errors.js';
import { toChatRequest } from './to-chat-request.js';
import { validateMessages } from './validate.js';

/**
 * The stages a count goes through: it is recorded and a gateway key's model list holds, but it is no
 * generation — free upstream, so no budget is reserved, no rate limit counts it, and no cache answers it
 * (its body is a Messages body, and a stored message is no count).
 */
const COUNT_STAGES = new Set(['observability-open', 'auth', 'observability-log']);

const anthropicTrees = new WeakMap<PlanNode, PlanNode | null>();

/**
 * The tree with only its Anthropic targets, or null when it has none: a load balancer then picks among
 * them by their weights, and a fallback never stops at a target with no count to give (its
 * `on_status_codes` would take that refusal for the answer). A conditional keeps its children in place,
 * since its rules name them by position: a branch with no Anthropic target stays, and refuses when chosen.
 * Kept per tree: plans live as long as their config.
 */
function anthropicOnly(node: PlanNode): PlanNode | null {
  if (node.kind === 'target') return node.target.provider === 'anthropic' ? node : null;
  let out = anthropicTrees.get(node);
  if (out !== undefined) return out;
  const pruned = node.children.map(anthropicOnly);
  let children: PlanNode[];
  if (node.mode === 'conditional') children = pruned.some((c) => c !== null) ? pruned.map((c, i) => c ?? node.children[i]!) : [];
  else {
    children = pruned.filter((c): c is PlanNode => c !== null);
    // Weight 0 is out of rotation while a sibling has weight: left alone, the pruned group could be all
    // zeros, which `pickWeighted` reads as "pick among them all".
    if (node.mode === 'loadbalance' && node.children.some((c) => weightOf(c) > 0)) children = children.filter((c) => weightOf(c) > 0);
  }
  if (children.length === 0) out = null;
  else out = children.every((c, i) => c === node.children[i]) && children.length === node.children.length ? node : { ...node, children };
  anthropicTrees.set(node, out);
  return out;
}

/** Each target as its count circuit names it (see `countCircuits`). */
const countTargets = new WeakMap<ResolvedTarget, ResolvedTarget>();
function asCount(target: ResolvedTarget): ResolvedTarget {
  let out = countTargets.get(target);
  if (!out) countTargets.set(target, (out = { ...target, path: `${target.path}:count_tokens` }));
  return out;
}

const countBreakers = new WeakMap<Breaker, Breaker>();

/**
 * The plan's breaker over circuits of the counts' own: Anthropic limits counting apart from messages,
 * so a run of count 429s must not open the circuit messages go through (nor an open one stop counts).
 */
function countCircuits(breaker: Breaker): Breaker {
  let out = countBreakers.get(breaker);
  if (!out) {
    out = {
      acquire: (t) => breaker.acquire(asCount(t)),
      record: (t, ok) => breaker.record(asCount(t), ok),
      release: (t, lease) => breaker.release(asCount(t), lease),
      verdict: (e) => breaker.verdict(e),
    };
    countBreakers.set(breaker, out);
  }
  return out;
}

/** Anthropic's answer, `{"input_tokens": n}`, checked before it is relayed: a count the client would misread is the provider's failure. */
function isCount(json: unknown): json is { input_tokens: number } {
  const n = (json as { input_tokens?: unknown } | null)?.input_tokens;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/**
 * The provider a count attempt uses: Anthropic targets get the client's body at
 * `/v1/messages/count_tokens`, with the target's model and key (no `override_params`: the count endpoint
 * refuses the generation parameters most of them are). Any other target (a conditional's branch) refuses
 * before sending. The answer is kept as Anthropic sent it; the router sees an empty completion.
 */
function countingProvider(gw: GatewayInternals, body: Record<string, unknown>, answered: (json: unknown) => void): (target: ResolvedTarget) => Provider {
  return (target) => {
    const base = gw.registry.get(target.provider)!;
    return {
      ...base,
      chat: {
        ...base.chat,
        request(_body, ctx) {
          if (target.provider !== 'anthropic') throw new GatewayError('not_found', `POST /v1/messages/count_tokens is answered by Anthropic targets only; ${target.path} is ${target.provider}`, { param: 'model' });
          return { url: `${ctx.target.baseURL}/messages/count_tokens`, method: 'POST', headers: anthropicHeaders(ctx), body: JSON.stringify({ ...body, model: ctx.model }) };
        },
        response(json) {
          if (!isCount(json)) throw new Error('no input_tokens count in it');
          answered(json);
          return { choices: [] } as unknown as ChatCompletion;
        },
      },
    };
  };
}

/**
 * `POST /v1/messages/count_tokens` (the Anthropic SDKs' `messages.countTokens`, Claude Code's context
 * meter): counted by an Anthropic target of the request's tree, picked by the router as for a message
 * (fallbacks, load balancing, conditions on the same body, retries, the target's own model and key;
 * circuits of its own). A model routed to no Anthropic target is a 404 in Anthropic's shape: clients
 * then estimate on their own, where a count from another tokenizer would mislead them.
 */
export async function handleCountTokens(
  gw: GatewayInternals,
  req: GatewayRequest,
  context: GatewayContext | undefined,
  traceId: string,
  startedAt = Date.now(),
): Promise<GatewayResponse> {
  let state: RequestState | undefined;
  let stages: PipelineStage[] = [];
  let env: RouteEnv | undefined;
  try {
    const raw = await readJsonBody(req.body, gw.limits.maxBodyBytes, req.headers);
    checkDepth(raw, gw.limits.maxJsonDepth);
    const original = validateMessages(raw, gw.limits.maxMessages, { count: true });
    // Routed on the body `/v1/messages` routes on, so a conditional on `params.*` picks the same branch.
    const { body } = toChatRequest(original);
    state = createState(gw, 'count_tokens', req, body as RequestState['body'], context, traceId, startedAt);
    // Read per request: an app may add stages of its own after start-up.
    stages = gw.stages.filter((s) => COUNT_STAGES.has(s.name));
    await runBefore(stages, state);
    const { root: tree, model: inferred } = gw.plans.rootFor(state.plan, original.model);
    const root = anthropicOnly(tree);
    if (!root) {
      throw new GatewayError('not_found', `POST /v1/messages/count_tokens is answered by Anthropic targets only, and model "${original.model}" routes to none; estimate the count instead`, { param: 'model' });
    }
    let count: unknown;
    const providerFor = countingProvider(gw, original as unknown as Record<string, unknown>, (json) => (count = json));
    const s = state;
    const attempt = (target: ResolvedTarget, signal: AbortSource) =>
      callChat(gw, providerFor(target), body, { target, model: modelFor(s, target, inferred), stream: false, headers: req.headers, overrides: s.overrides }, signal);
    env = await routeEnvFor(gw, state);
    if (env.breaker) env.breaker = countCircuits(env.breaker);
    const routed = await route(root, env, attempt);
    state.target = routed.target;
    state.retries = env.retries;
    // Anthropic does not charge for counting: the cost is known, and nothing.
    state.cost = 0;
    await runAfter(stages, state, { status: 200 }, gw.logger);
    return { status: 200, headers: responseHeaders(factsOf(state), copyHeaders(state.headers)), body: count };
  } catch (e) {
    let error = toGatewayError(e);
    if (state) {
      state.retries = env?.retries ?? 0;
      if (env?.last) state.failedTarget = env.last;
      await runAfter(stages, state, { status: error.status, error }, gw.logger);
      error = toGatewayError(withRoutingFacts(error, state, env));
    }
    return anthropicErrorResponse(error, traceId);
  }
}
