import { compileConfig } from './config/compile.js';
import { GatewayError, toGatewayError } from './errors.js';
import { matchRoute, routePath } from './http/routes.js';
import { refusalOf } from './http/body-refusal.js';
import { copyHeaders } from './http/headers.js';
import { forgetJsonText } from './http/json-text.js';
import { validateOptions, type GatewayOptions } from './options.js';
import { defaultsById } from './config/provider-defaults.js';
import type { GatewayInternals } from './pipeline/internals.js';
import { InFlight } from './pipeline/in-flight.js';
import { PlanResolver } from './pipeline/resolve-plan.js';
import { routeHandlers } from './pipeline/routes.js';
import { buildStages } from './pipeline/stages.js';
import { builtinProviders, ProviderRegistry } from './providers/registry.js';
import { resolveStore } from './store/resolve-store.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from './types.js';
import { UpstreamClient } from './upstream/client.js';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from './providers/openai-types.js';
import type { ChunkOut } from './providers/types.js';
import { runChat } from './pipeline/chat.js';
import { createState } from './pipeline/create-state.js';
import { validateChat } from './http/validate.js';
import { authenticate } from './auth/authenticate.js';
import { checkDeclaredBodySize, checkHeaderSize } from './auth/request-limits.js';
import { finishRequest, recordFailure, type CallInfo } from './observability/finish-request.js';
import { rememberError } from './observability/response-error.js';
import { checkTraceId, traceIdFor } from './observability/trace-id.js';
import type { RequestState } from './pipeline/state.js';
import { anthropicErrorResponse } from './ingress/anthropic-messages/errors.js';
import { connectGuard } from './router/ssrf-guard.js';
import { defaultLogger } from './observability/default-logger.js';
import { observabilityOf } from './observability/observability.js';

export interface DirectCallOptions {
  context?: GatewayContext;
  /** Extra request headers (`x-llmux-metadata`, `x-llmux-trace-id`, …). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface Gateway {
  /** Handles one request under the mount point. Never rejects: failures come back as OpenAI-shaped errors. */
  handle(request: GatewayRequest, context?: GatewayContext): Promise<GatewayResponse>;
  /** Stops accepting requests, waits for in-flight ones up to `deadlineMs` (default 10000), then frees sockets and the store. */
  close(deadlineMs?: number): Promise<void>;
  /**
   * Calls the gateway from app code with the same routing, cache, budgets and logs as HTTP requests.
   * Rejects with a `GatewayError`.
   */
  chat(body: ChatRequest, options?: DirectCallOptions): Promise<ChatCompletion>;
  /** Like `chat`, streaming: yields OpenAI chunks; throws a `GatewayError` if the stream breaks. */
  chatStream(body: ChatRequest, options?: DirectCallOptions): AsyncIterable<ChatCompletionChunk>;
  readonly options: GatewayOptions;
  /** For adapters and tests; not a stable API. */
  readonly internals: GatewayInternals;
}

/** Builds a gateway: options and config are validated and compiled here, once. Throws a TypeError naming the bad field. */
export function createGateway(options: GatewayOptions = {}): Gateway {
  validateOptions(options);
  const registry = new ProviderRegistry(builtinProviders(options.env));
  for (const p of options.customProviders ?? []) registry.register(p);
  const env = { registry, providers: options.providers ?? {}, env: options.env ?? process.env };
  defaultsById(registry, env.providers);
  let serverPlan;
  try {
    serverPlan = compileConfig(options.config, env, 'config');
  } catch (e) {
    throw new TypeError(`llmux: ${(e as Error).message}`);
  }
  const limits = {
    maxBodyBytes: options.limits?.maxBodyBytes ?? 10 * 1024 * 1024,
    maxMessages: options.limits?.maxMessages ?? 5000,
    maxJsonDepth: options.limits?.maxJsonDepth ?? 64,
  };
  const logger = options.logger === undefined ? defaultLogger(process.env) : options.logger || undefined;
  const gw: GatewayInternals = {
    options,
    registry,
    plans: new PlanResolver(serverPlan, env, {
      allowRequestConfig: options.allowRequestConfig ?? false,
      maxJsonDepth: limits.maxJsonDepth,
      allowedHosts: options.allowedHosts ?? [],
    }),
    client: new UpstreamClient(options.upstream, connectGuard(options.allowedHosts ?? [])),
    // Memory by default; a Keyv instance becomes the cache; anything that is not a store is refused here.
    store: resolveStore(options.store),
    stages: [],
    ...(logger ? { logger } : {}),
    limits,
    inflight: new InFlight(),
    closing: false,
    cutting: false,
    backingOff: new Set(),
  };
  gw.stages = buildStages(gw);
  let shutdown: Promise<void> | undefined;

  async function dispatch(call: CallInfo): Promise<GatewayResponse> {
    const { req } = call;
    if (gw.closing) throw new GatewayError('gateway_closing', 'the gateway is shutting down');
    const match = matchRoute(req.method, req.path);
    if ('error' in match) {
      if (match.error === 405) {
        const allowed = match.allowed?.join(', ') ?? '';
        throw new GatewayError('method_not_allowed', `${req.method} is not allowed here; use ${allowed}`, { headers: { allow: allowed } });
      }
      throw new GatewayError('not_found', `no route for ${req.method} ${req.path.split('?')[0]}`);
    }
    const handler = routeHandlers[match.name];
    if (!handler) throw new GatewayError('not_found', `no route for ${req.method} ${req.path.split('?')[0]}`);
    call.route = match.name;
    const refused = refusalOf(req.body);
    if (refused) throw refused;
    checkHeaderSize(gw, req);
    checkDeclaredBodySize(gw, req);
    checkTraceId(req);
    // The gateway's own `identify` when the adapter's gave none (or `handle` was called without one):
    // without it, every caller would share one cache scope and one budget bucket.
    if (call.context === undefined && options.identify) call.context = (await options.identify(req)) ?? undefined;
    // With `auth`: 401 without a valid gateway key; the handler gets the request without it.
    authenticate(gw, match.name, call);
    return handler(gw, call.req, call.context, call.traceId, call.startedAt);
  }

  /** A direct call that failed still leaves its record (and settles what its stages reserved). */
  async function failed(state: RequestState, e: unknown): Promise<never> {
    const call = { req: state.request, context: state.identity, traceId: state.traceId, startedAt: state.startedAt };
    await recordFailure(gw, call, toGatewayError(e));
    throw e;
  }

  async function direct(body: ChatRequest, call: DirectCallOptions, stream: boolean) {
    if (gw.closing) throw new GatewayError('gateway_closing', 'the gateway is shutting down');
    const req: GatewayRequest = { method: 'POST', path: '/v1/chat/completions', headers: call.headers ?? {}, body };
    if (call.signal) req.signal = call.signal;
    const startedAt = Date.now();
    let traceId: string | undefined;
    try {
      traceId = traceIdFor(req);
      const checked = validateChat({ ...body, stream }, gw.limits.maxMessages);
      return { req, state: createState(gw, 'chat', req, checked as never, call.context, traceId, startedAt) };
    } catch (e) {
      // Refused before it had a state (a bad body or header): its record is written here, as over HTTP.
      await recordFailure(gw, { req, context: call.context, traceId: traceId ?? '-', startedAt, route: 'chat' }, toGatewayError(e));
      throw e;
    }
  }

  return {
    options,
    internals: gw,
    // Not `async`: the promise it returns is `work` itself, not one more wrapped around it (resolving
    // a promise with a promise costs a job and two microtask turns).
    handle(req, context) {
      let call: CallInfo;
      try {
        call = { req, context, traceId: traceIdFor(req), startedAt: Date.now() };
      } catch (e) {
        return Promise.reject(e);
      }
      // Every error response passes `finishRequest`, which makes sure a refused request leaves its log
      // record too; an answer is handed back as it is.
      const work = dispatch(call).then(
        (res) => (res.status < 400 ? res : finishRequest(gw, call, res)),
        (e: unknown) => finishRequest(gw, call, (speaksAnthropic(call) ? anthropicErrorResponse : errorResponse)(e, call.traceId), e),
      );
      gw.inflight.enter();
      work.then(gw.inflight.leave, gw.inflight.leave);
      return work;
    },
    async chat(body, call = {}) {
      const { state, req } = await direct(body, call, false);
      const result = await runChat(gw, state).catch((e: unknown) => failed(state, e));
      if (result.kind !== 'completion') throw new GatewayError('internal_error', 'expected a complete answer');
      void req;
      // The caller gets the object, never its text: forgotten now rather than held in a WeakMap entry.
      forgetJsonText(result.completion);
      return result.completion;
    },
    async *chatStream(body, call = {}) {
      const { state } = await direct(body, call, true);
      const result = await runChat(gw, state).catch((e: unknown) => failed(state, e));
      if (result.kind !== 'stream') throw new GatewayError('internal_error', 'expected a stream');
      // While the cache records this stream it holds these very chunks until the end: a caller that
      // edits what it relays (redacts, rewrites) must get its own copies, or every later hit serves the edit.
      const own = (out: ChunkOut) => (!state.recordChunks ? out.chunk : out.raw !== undefined ? (JSON.parse(out.raw) as ChatCompletionChunk) : structuredClone(out.chunk));
      for await (const out of result.chunks) yield own(out);
    },
    close(deadlineMs = 10_000) {
      // Idempotent: a Nest module's destroy hook and the app may both close the gateway.
      return (shutdown ??= (async () => {
        gw.closing = true;
        // In flight: requests, their records, and settlements being retried (woken now, not after their backoff).
        const finished = await gw.inflight.settled(deadlineMs);
        if (finished) await gw.client.close();
        else {
          // Past the deadline, upstream calls still running are cut (their clients get an error event);
          // a short grace lets those requests settle their budgets and write their records.
          gw.cutting = true;
          for (const run of gw.backingOff) run.cut(new GatewayError('gateway_closing', 'the gateway is shutting down; the retry was not made'));
          await gw.client.destroy();
          await gw.inflight.settled(1000);
        }
        // Settlements still failing give up here (logged as lost) rather than retry against a closed store.
        gw.inflight.shut();
        await gw.store.close();
        // Records still queued reach their sinks now: an app that exits once close() resolves keeps them.
        observabilityOf(gw).drain();
      })());
    },
  };
}

/**
 * Errors on `/v1/messages` and below it (`/v1/messages/count_tokens`, `/v1/messages/batches`, which
 * the Anthropic SDKs also call) leave in Anthropic's shape, so those SDKs raise their typed errors
 * with the gateway's message. Decided by the path as routes are matched (no query, no trailing
 * slash), since a 405 or a refusal while closing comes before any route is chosen.
 */
const speaksAnthropic = (call: CallInfo): boolean => {
  const path = routePath(call.req.path);
  return path === '/v1/messages' || path.startsWith('/v1/messages/');
};

export function errorResponse(e: unknown, traceId: string): GatewayResponse {
  const error = toGatewayError(e);
  const headers = copyHeaders(error.headers, { 'x-llmux-trace-id': traceId, 'x-portkey-trace-id': traceId });
  if (error.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(error.retryAfter));
  if (error.provider) {
    headers['x-llmux-provider'] = error.provider;
    headers['x-portkey-provider'] = error.provider;
  }
  // The log record finds the error through the headers even where an ingress reshapes the body.
  return rememberError({ status: error.status, headers, body: error.toJSON() }, error);
}
