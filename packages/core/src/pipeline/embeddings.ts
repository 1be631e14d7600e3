import { GatewayError, toGatewayError } from '../errors.js';
import { copyHeaders, responseHeaders } from '../http/headers.js';
import type { EmbeddingsRequest, EmbeddingsResponse, Usage } from '../providers/openai-types.js';
import type { ResolvedTarget } from '../providers/types.js';
import { routeEnvFor } from '../router/env-for-request.js';
import { route, type RouteEnv } from '../router/execute.js';
import { callEmbeddings } from '../upstream/call.js';
import type { GatewayResponse } from '../types.js';
import { factsOf, modelFor, withRoutingFacts } from './chat.js';
import type { GatewayInternals } from './internals.js';
import type { AbortSource } from '../upstream/abort-link.js';
import { noteBilled } from './billed.js';
import { finishAnswered, runAfter, runBefore } from './run-stages.js';
import type { RequestState } from './state.js';

const asUsage = (usage: NonNullable<EmbeddingsResponse['usage']>): Usage => ({ prompt_tokens: usage.prompt_tokens, completion_tokens: 0, total_tokens: usage.total_tokens });

function useUsage(state: RequestState, usage: EmbeddingsResponse['usage']): void {
  if (usage) state.usage = asUsage(usage);
}

export async function handleEmbeddings(gw: GatewayInternals, state: RequestState): Promise<GatewayResponse> {
  const short = await runBefore(gw.stages, state);
  if (short) {
    if (short.kind !== 'json') throw new GatewayError('internal_error', 'a stage answered an embeddings request with a chat answer');
    // A stored answer (a cache hit): its usage goes to the log as the chat route's hits do; it costs nothing.
    const answer = short.body as EmbeddingsResponse | undefined;
    useUsage(state, answer?.usage);
    await finishAnswered(gw, state, { status: short.status });
    return { status: short.status, headers: responseHeaders(factsOf(state), copyHeaders(state.headers)), body: short.body };
  }
  const body = state.body as EmbeddingsRequest;
  const { root, model: inferred } = gw.plans.rootFor(state.plan, body.model);
  let env: RouteEnv | undefined;
  const attempt = (target: ResolvedTarget, signal: AbortSource) => {
    const provider = gw.registry.get(target.provider)!;
    const model = modelFor(state, target, inferred);
    return callEmbeddings(gw, provider, body, { target, model, stream: false, headers: state.request.headers, overrides: state.overrides }, signal, (usage) =>
      noteBilled(gw, state, target.provider, model, usage && asUsage(usage)),
    );
  };
  try {
    env = await routeEnvFor(gw, state);
    const routed = await route(root, env, attempt);
    state.target = routed.target;
    state.retries = env.retries;
    useUsage(state, routed.value.usage);
    await finishAnswered(gw, state, { status: 200, embeddings: routed.value });
    return { status: 200, headers: responseHeaders(factsOf(state), copyHeaders(state.headers)), body: routed.value };
  } catch (e) {
    const error = toGatewayError(e);
    state.retries = env?.retries ?? 0;
    if (env?.last) state.failedTarget = env.last;
    await runAfter(gw.stages, state, { status: error.status, error }, gw.logger);
    throw withRoutingFacts(error, state, env);
  }
}
