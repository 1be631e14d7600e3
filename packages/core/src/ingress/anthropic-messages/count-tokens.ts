import { GatewayError, isGatewayError, toGatewayError } from '../../errors.js';
import { copyHeaders, responseHeaders } from '../../http/headers.js';
import { checkDepth, readJsonBody } from '../../http/read-body.js';
import type { Plan, PlanNode } from '../../config/plan.js';
import { upstreamModel } from '../../cost/model-names.js';
import { factsOf, modelFor, withRoutingFacts } from '../../pipeline/chat.js';
import { createState } from '../../pipeline/create-state.js';
import type { GatewayInternals } from '../../pipeline/internals.js';
import { runAfter, runBefore } from '../../pipeline/run-stages.js';
import type { PipelineStage, RequestState } from '../../pipeline/state.js';
import type { ProviderRegistry } from '../../providers/registry.js';
import type { ChatCompletion } from '../../providers/openai-types.js';
import type { Provider, ResolvedTarget, TokenCount } from '../../providers/types.js';
import type { Breaker } from '../../router/breaker.js';
import { routeEnvFor } from '../../router/env-for-request.js';
import { weightOf } from '../../router/weighted.js';
import { route, type RouteEnv } from '../../router/execute.js';
import type { AbortSource } from '../../upstream/abort-link.js';
import { callChat } from '../../upstream/call.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../../types.js';
import { anthropicErrorResponse } from './errors.js';
import { toChatRequest } from './to-chat-request.js';
import { bodyPreparer, inClientTerms, threadRefusal } from './handle-messages.js';
import type { AnthropicRequest } from '../../providers/anthropic/wire-types.js';
import { validateMessages } from './validate.js';

/**
 * The stages a count goes through: it is recorded and a gateway key's model list holds, but it is no
 * generation — free upstream, so no budget is reserved, no rate limit counts it, and no cache answers it
 * (its body is a Messages body, and a stored message is no count).
 */
const COUNT_STAGES = new Set(['observability-open', 'auth', 'observability-log']);

/** Named in refusals: the built-in providers with a `countTokens`. */
const COUNTERS = 'targets that can count tokens (Anthropic, Bedrock serving Claude, Gemini API, Vertex AI)';

/** Pruned trees per tree node and model asked for: client model names are many, so a node keeps a few. */
const countingTrees = new WeakMap<PlanNode, Map<string, PlanNode | null>>();
const MODELS_PER_TREE = 64;

/**
 * The tree with only the targets whose provider counts tokens for the model they would be asked for,
 * or null when it has none: a load balancer then picks among them by their weights, and a fallback
 * never stops at a target with no count to give (its `on_status_codes` would take that refusal for the
 * answer). A target is judged by the model it would be asked for (`upstreamModel`: its
 * `override_params.model`, else the `requested` model after aliases). A conditional keeps its children in place, since its rules name
 * them by position: a branch with no such target stays, and refuses when chosen. Kept per tree node and
 * model: plans live as long as their config, and belong to the gateway whose registry this is.
 */
function countingOnly(node: PlanNode, registry: ProviderRegistry, plan: Plan, requested: string): PlanNode | null {
  if (node.kind === 'target') {
    const counter = registry.get(node.target.provider)?.countTokens;
    if (!counter || counter.accepts?.(upstreamModel(plan, node.target, requested)) === false) return null;
    return node;
  }
  let byModel = countingTrees.get(node);
  let out = byModel?.get(requested);
  if (out !== undefined) return out;
  const pruned = node.children.map((c) => countingOnly(c, registry, plan, requested));
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
  if (!byModel) countingTrees.set(node, (byModel = new Map()));
  if (byModel.size < MODELS_PER_TREE) byModel.set(requested, out);
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

/** A count as the client gets it, checked before it is relayed: a count the client would misread is the provider's failure. */
function isCount(count: TokenCount | undefined): count is TokenCount {
  const n = count?.input_tokens;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0;
}

/**
 * The provider a count attempt uses: its chat call is the provider's `countTokens` on the client's body
 * (with the target's model and credentials, no `override_params`). Counters that take their provider's
 * generation request get the translated body as `/v1/messages` would hand that provider (`bodyPreparer`),
 * refused as it would be (content only Anthropic reads, a thread), and their refusals name the client's
 * fields as there. A target whose provider cannot count (a conditional's branch) refuses before
 * sending. The count is kept in Anthropic's shape; the router sees an empty completion.
 */
function countingProvider(
  gw: GatewayInternals,
  original: AnthropicRequest,
  translation: ReturnType<typeof toChatRequest>,
  answered: (count: TokenCount) => void,
): (target: ResolvedTarget) => Provider {
  const refusal = threadRefusal(original) ?? translation.unsupported;
  // The refusal names the client's fields already; only the translators' errors are renamed.
  const inTerms = (e: unknown) => {
    throw e === refusal ? e : inClientTerms(e, translation.clientParam);
  };
  return (target) => {
    const base = gw.registry.get(target.provider)!;
    const counter = base.countTokens;
    return {
      ...base,
      chat: {
        ...base.chat,
        request(chat, ctx) {
          if (!counter) throw new GatewayError('not_found', `POST /v1/messages/count_tokens is answered by ${COUNTERS} only; ${target.path} is ${target.provider}`, { param: 'model' });
          const prepared = () => {
            if (refusal) throw refusal;
            return bodyPreparer(base.id, translation)(chat, ctx.model);
          };
          try {
            const out = counter.request(original as unknown as Record<string, unknown>, ctx, prepared);
            return out instanceof Promise ? out.catch(inTerms) : out;
          } catch (e) {
            return inTerms(e);
          }
        },
        response(json) {
          const count = counter!.response(json);
          if (!isCount(count)) throw new Error('no input_tokens count in it');
          answered(count);
          return { choices: [] } as unknown as ChatCompletion;
        },
      },
    };
  };
}

/**
 * A count the provider refused with a 400 for the model as the target names it, asked once more under
 * the model's other id (`TokenCounting.alternateModel`) when it has one. Refused again, the client gets
 * the first refusal — it names the model they configured — with the second's reason after it. Any
 * other failure (a throttle, an outage) is reported as it came, with no second call.
 */
async function countedAgain<T>(first: unknown, alternate: string | undefined, countAs: (model: string) => Promise<T>): Promise<T> {
  if (alternate === undefined || !isGatewayError(first) || first.source !== 'provider' || first.status !== 400) throw first;
  try {
    return await countAs(alternate);
  } catch (second) {
    if (isGatewayError(second)) first.message += ` (counted again as "${alternate}": ${second.message})`;
    throw first;
  }
}

/**
 * `POST /v1/messages/count_tokens` (the Anthropic SDKs' `messages.countTokens`, Claude Code's context
 * meter): counted by a target of the request's tree whose provider counts (`Provider.countTokens`:
 * Anthropic, Bedrock serving Claude, the Gemini API, Vertex AI, the mock), picked by the router as for a message (fallbacks, load balancing,
 * conditions on the same body, retries, the target's own model and credentials; circuits of its own),
 * and answered in Anthropic's shape whichever counted. A model routed to no such target is a 404 in
 * Anthropic's shape: clients then estimate on their own, where a count from another tokenizer would
 * mislead them.
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
    const translation = toChatRequest(original);
    const { body } = translation;
    state = createState(gw, 'count_tokens', req, body as RequestState['body'], context, traceId, startedAt);
    // Read per request: an app may add stages of its own after start-up.
    stages = gw.stages.filter((s) => COUNT_STAGES.has(s.name));
    await runBefore(stages, state);
    const { root: tree, model: inferred } = gw.plans.rootFor(state.plan, original.model);
    const root = countingOnly(tree, gw.registry, state.plan, inferred ?? state.body.model);
    if (!root) {
      throw new GatewayError('not_found', `POST /v1/messages/count_tokens is answered by ${COUNTERS} only, and model "${original.model}" routes to none; estimate the count instead`, { param: 'model' });
    }
    let count: TokenCount | undefined;
    const providerFor = countingProvider(gw, original, translation, (answer) => (count = answer));
    const s = state;
    const attempt = (target: ResolvedTarget, signal: AbortSource) => {
      const provider = providerFor(target);
      const model = modelFor(s, target, inferred);
      const countAs = (as: string) => callChat(gw, provider, body, { target, model: as, stream: false, headers: req.headers, overrides: s.overrides }, signal);
      return countAs(model).catch((e: unknown) => countedAgain(e, provider.countTokens?.alternateModel?.(model), countAs));
    };
    env = await routeEnvFor(gw, state);
    if (env.breaker) env.breaker = countCircuits(env.breaker);
    const routed = await route(root, env, attempt);
    state.target = routed.target;
    state.retries = env.retries;
    // No provider charges for counting: the cost is known, and nothing.
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
