import { billedUsageOf } from '../upstream/billed-failure.js';
import { noteBilled } from './billed.js';
import { upstreamModel } from '../cost/model-names.js';
import { costTrailers } from '../cost/stream-cost.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { copyHeaders, responseHeaders, type ResponseFacts } from '../http/headers.js';
import { forgetJsonText } from '../http/json-text.js';
import type { ChatCompletion, ChatRequest } from '../providers/openai-types.js';
import type { CallContext, ChunkOut, Provider, ResolvedTarget } from '../providers/types.js';
import { routeEnvFor } from '../router/env-for-request.js';
import { route, type RouteEnv } from '../router/execute.js';
import { assembleCompletion, completionToChunks } from '../stream/assemble.js';
import { batchesOf, batchOf } from '../stream/batches.js';
import { sseHeaders, toOpenAISse } from '../stream/encode.js';
import { startedOnRead } from '../stream/started-on-read.js';
import { callChat, callChatStream } from '../upstream/call.js';
import type { GatewayResponse } from '../types.js';
import type { GatewayInternals } from './internals.js';
import type { AbortSource } from '../upstream/abort-link.js';
import { finishAnswered, runAfter, runBefore } from './run-stages.js';
import { observe } from './observed-stream.js';
import type { RequestState } from './state.js';

/** The answer of a chat request before it is encoded for the client's wire format. */
export type ChatResult = { kind: 'completion'; completion: ChatCompletion } | { kind: 'stream'; chunks: AsyncIterable<ChunkOut> };

/** The facts a response's headers state. Assigned field by field: conditional spreads build a temporary object each. */
export function factsOf(state: RequestState): ResponseFacts {
  const facts: ResponseFacts = { traceId: state.traceId, cache: state.cache, retries: state.retries };
  // A failed request names the target it tried last, as an answer names the one that answered.
  const target = state.target ?? state.failedTarget;
  if (target) {
    facts.provider = target.provider;
    facts.target = target.path;
  }
  if (state.cost !== undefined) facts.cost = state.cost;
  if (state.semanticLookup) facts.semantic = true;
  return facts;
}

/**
 * A failed request's headers say what routing did, as an answer's do (`factsOf`: the retries made,
 * the target tried last, the cache's verdict), once routing ran — a refusal before it has none of
 * these. What earlier stages said stays said (an admitted request's x-ratelimit-*); the error's own win.
 */
export function withRoutingFacts(error: GatewayError, state: RequestState, env: RouteEnv | undefined): GatewayError {
  if (!env) return error;
  (error as { headers?: Record<string, string> }).headers = responseHeaders(factsOf(state), copyHeaders(error.headers, copyHeaders(state.headers)));
  return error;
}

/** The model sent upstream (`upstreamModel`: the target's `override_params.model`, then aliases, then the request). */
export function modelFor(state: RequestState, target: ResolvedTarget, inferred: string | undefined): string {
  return upstreamModel(state.plan, target, inferred ?? state.body.model);
}

/** A stream body's encoder, made on the first read; let go unread, it still lets go of `chunks` (see `startedOnRead`). */
export function encodedOnRead<T>(chunks: AsyncIterable<ChunkOut>, encode: () => AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  return startedOnRead(encode, () => batchesOf(chunks).return(undefined));
}

/** How an ingress may adjust the attempts of `runChat`; without options it behaves as before. */
export interface RunChatOptions {
  /**
   * The provider for one target, instead of the registry's. `/v1/messages` uses it to send the
   * client's own Anthropic body unchanged to Anthropic targets while stages and routing stay the same.
   */
  providerFor?: (target: ResolvedTarget) => Provider | undefined;
}

/** Runs stages, routing and the upstream call for an OpenAI-shaped chat body; used by every chat ingress. */
export async function runChat(gw: GatewayInternals, state: RequestState, options: RunChatOptions = {}): Promise<ChatResult> {
  const short = await runBefore(gw.stages, state);
  if (short?.kind === 'json') throw new GatewayError('internal_error', 'a stage answered a chat request with raw JSON');
  if (short) {
    if (state.stream) {
      // A stored completion streamed out never leaves as its JSON text: the text is let go now, as the
      // writer would have taken it. The completion goes out as one batch (one write).
      if (short.kind === 'completion') forgetJsonText(short.completion);
      const chunks = short.kind === 'stream' ? short.chunks : batchOf(completionToChunks(short.completion, state.wantsStreamUsage));
      return { kind: 'stream', chunks: observe(gw, state, chunks) };
    }
    const completion = short.kind === 'completion' ? short.completion : assembleCompletion(await collect(short.chunks));
    state.usage = completion.usage;
    await finishAnswered(gw, state, { status: 200, completion });
    return { kind: 'completion', completion };
  }

  const body = state.body as ChatRequest;
  const { root, model: inferred } = gw.plans.rootFor(state.plan, body.model);
  let env: RouteEnv | undefined;
  const attempt = (target: ResolvedTarget, signal: AbortSource): Promise<ChatResult> => {
    const provider = options.providerFor?.(target) ?? gw.registry.get(target.provider)!;
    const ctx: CallContext = {
      target,
      model: modelFor(state, target, inferred),
      stream: state.stream,
      headers: state.request.headers,
      // The target's own: a silence the client's shorter timeout cut would count against the circuit.
      silenceLimit: state.stream ? (target.requestTimeout ?? state.plan.deadline) : undefined,
      overrides: state.overrides,
    };
    return state.stream
      ? callChatStream(gw, provider, body, ctx, signal).then((chunks) => ({ kind: 'stream' as const, chunks }))
      : callChat(gw, provider, body, ctx, signal).then(
          (completion) => ({ kind: 'completion' as const, completion }),
          (e: unknown) => {
            const usage = billedUsageOf(e);
            if (usage) {
              // When nothing answers, this usage is the request's own.
              state.billedUsage = usage;
              noteBilled(gw, state, target.provider, ctx.model, usage);
            }
            throw e;
          },
        );
  };
  let routed;
  try {
    const pending = routeEnvFor(gw, state);
    env = pending instanceof Promise ? await pending : pending;
    routed = await route(root, env, attempt);
  } catch (e) {
    const error = toGatewayError(e);
    state.retries = env?.retries ?? 0;
    if (env?.last) state.failedTarget = env.last;
    // Nothing answered, yet a failed generation was billed: its usage is the request's, and what every
    // billed attempt cost (each at its model's price) is the request's cost, charged as a stream's would be.
    if (state.billedUsage && !state.usage) {
      state.usage = state.billedUsage;
      if (state.billed?.cost) state.cost = state.billed.cost;
    }
    await runAfter(gw.stages, state, { status: error.status, error }, gw.logger);
    throw withRoutingFacts(error, state, env);
  }
  state.target = routed.target;
  state.retries = env.retries;
  if (routed.release) state.releaseClient = routed.release;
  const result = routed.value;
  if (result.kind === 'stream') return { kind: 'stream', chunks: observe(gw, state, result.chunks) };
  state.firstTokenAt = Date.now();
  state.usage = result.completion.usage;
  await finishAnswered(gw, state, { status: 200, completion: result.completion });
  return result;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export async function handleChat(gw: GatewayInternals, state: RequestState): Promise<GatewayResponse> {
  const result = await runChat(gw, state);
  if (result.kind === 'completion') {
    return { status: 200, headers: responseHeaders(factsOf(state), copyHeaders(state.headers)), body: result.completion };
  }
  return {
    status: 200,
    headers: responseHeaders(factsOf(state), sseHeaders(state.headers)),
    body: encodedOnRead(result.chunks, () => toOpenAISse(result.chunks, toGatewayError)),
    // A stream's cost is known only after its last chunk, when the headers are long gone.
    trailers: () => costTrailers(state),
  };
}
