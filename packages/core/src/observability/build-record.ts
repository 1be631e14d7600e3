import type { CacheScratch } from '../cache/cache-stage.js';
import { upstreamModel } from '../cost/model-names.js';
import type { CostScratch } from '../cost/request-cost.js';
import { tokenCounts } from '../cost/token-counts.js';
import type { AttemptSummary, GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { Outcome, RequestState } from '../pipeline/state.js';
import type { GatewayContext, GatewayRequest } from '../types.js';
import type { LogAttempt, RequestLogRecord, RequestOutcome } from './log-record.js';

const IDENTITY_FIELDS = ['user', 'team', 'tenant', 'key'] as const;

/** Only the identity fields scopes use: an app's `identify` may return anything, tokens included. */
function identityOf(context: GatewayContext | undefined): RequestLogRecord['identity'] {
  if (!context) return undefined;
  let out: RequestLogRecord['identity'];
  for (const f of IDENTITY_FIELDS) {
    const v = context[f];
    if (typeof v === 'string' || typeof v === 'number') (out ??= {})[f] = String(v);
  }
  return out;
}

/** Moves from one target to another, circuit skips included; retries of the same target are not fallbacks. */
export function countFallbacks(attempts: readonly AttemptSummary[]): number {
  let n = 0;
  for (let i = 1; i < attempts.length; i++) if (attempts[i]!.target !== attempts[i - 1]!.target) n++;
  return n;
}

function errorOf(error: GatewayError): Pick<RequestLogRecord, 'error' | 'limit'> {
  const out: Pick<RequestLogRecord, 'error' | 'limit'> = {
    error: {
      code: error.code,
      message: error.message,
      type: error.type,
      source: error.source,
      param: error.param,
      ...(error.providerCode ? { provider_code: error.providerCode } : {}),
    },
  };
  if (error.code === 'budget_exceeded' || error.code === 'rate_limited') {
    const d = error.details ?? {};
    const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
    out.limit = {
      kind: error.code === 'budget_exceeded' ? 'budget' : 'rate_limit',
      ...(text(d.scope) ? { scope: text(d.scope)! } : {}),
      ...(text(d.scope_value) ? { scope_value: text(d.scope_value)! } : {}),
      ...(text(d.metric) ?? text(d.unit) ? { metric: (text(d.metric) ?? text(d.unit))! } : {}),
    };
  }
  return out;
}

function outcomeOf(outcome: Outcome): RequestOutcome {
  if (outcome.incomplete) return outcome.status === 499 ? 'client_closed' : 'stream_cut';
  return outcome.status < 400 ? 'success' : 'error';
}

function pathOf(req: GatewayRequest): string {
  const q = req.path.indexOf('?');
  return q === -1 ? req.path : req.path.slice(0, q);
}

/** The model sent upstream: `override_params.model`, then aliases, then what the client asked for. */
function resolvedModel(gw: GatewayInternals, state: RequestState): string | undefined {
  if (!state.target) return undefined;
  let requested = state.body.model;
  if (!state.plan.root) {
    try {
      requested = gw.plans.rootFor(state.plan, requested).model ?? requested;
    } catch {
      // A target answered, so the model was placed; keep the client's name if not.
    }
  }
  return upstreamModel(state.plan, state.target, requested);
}

/**
 * The record of a request that went through the pipeline, built in its `after` hook: a snapshot of
 * plain values (cheap, synchronous) — redaction and every sink run later, off the response path.
 */
export function recordFromState(gw: GatewayInternals, state: RequestState, outcome: Outcome, now = Date.now()): RequestLogRecord {
  const cost = state.scratch.cost as CostScratch | undefined;
  const cache = state.scratch.cache as CacheScratch | undefined;
  const completion = outcome.completion;
  const usage = state.usage && tokenCounts(state.usage);
  const identity = identityOf(state.identity);
  const model = resolvedModel(gw, state);
  const responseModel = cost?.reportedModel ?? completion?.model;
  const finish = completion?.choices?.map((c) => c.finish_reason).filter((r): r is NonNullable<typeof r> => typeof r === 'string');
  const attempts: LogAttempt[] = state.attempts.map((a) => ({ ...a }));
  const record: RequestLogRecord = {
    type: 'llmux.request',
    trace_id: state.traceId,
    started_at: new Date(state.startedAt).toISOString(),
    route: state.route,
    method: state.request.method,
    path: pathOf(state.request),
    stream: state.stream,
    ...(identity ? { identity } : {}),
    ...(Object.keys(state.metadata).length ? { metadata: state.metadata } : {}),
    requested_model: state.body.model,
    ...(model ? { model } : {}),
    ...(responseModel ? { response_model: responseModel } : {}),
    ...(completion?.id ? { response_id: completion.id } : {}),
    ...(finish?.length ? { finish_reasons: finish } : {}),
    ...(state.target ? { provider: state.target.provider, target: state.target.path } : cache?.provider ? { provider: cache.provider } : {}),
    attempts,
    retries: state.retries,
    fallbacks: countFallbacks(state.attempts),
    cache: {
      status: state.cache,
      ...(cache ? { mode: cache.mode } : {}),
      ...(cache?.savedCost !== undefined ? { saved_cost_usd: cache.savedCost } : {}),
      ...(cache?.similarity !== undefined ? { similarity: cache.similarity } : {}),
      ...(cache?.ageSeconds !== undefined ? { age_seconds: cache.ageSeconds } : {}),
    },
    ...(usage
      ? {
          usage: {
            input_tokens: usage.input,
            output_tokens: usage.output,
            total_tokens: usage.input + usage.output,
            ...(usage.cacheRead ? { cached_input_tokens: usage.cacheRead } : {}),
            ...(usage.reasoning ? { reasoning_tokens: usage.reasoning } : {}),
          },
        }
      : {}),
    ...(state.cost !== undefined ? { cost_usd: state.cost } : {}),
    unpriced: state.cost === undefined && cost?.status === 'unpriced',
    ...(state.cost === undefined && cost?.status ? { cost_status: cost.status } : {}),
    ...(state.firstTokenAt !== undefined ? { ttft_ms: state.firstTokenAt - state.startedAt } : {}),
    duration_ms: now - state.startedAt,
    status: outcome.status,
    outcome: outcomeOf(outcome),
    ...(outcome.error ? errorOf(outcome.error) : {}),
  };
  return record;
}

/**
 * The record of a request refused before the pipeline had a state for it (bad JSON, a wrong gateway
 * key, an unknown route, a closing gateway): what is known from the request alone.
 */
export function recordWithoutState(
  route: string,
  req: GatewayRequest,
  context: GatewayContext | undefined,
  traceId: string,
  startedAt: number,
  error: GatewayError,
  now = Date.now(),
): RequestLogRecord {
  const identity = identityOf(context);
  return {
    type: 'llmux.request',
    trace_id: traceId,
    started_at: new Date(startedAt).toISOString(),
    route,
    method: req.method,
    path: pathOf(req),
    ...(identity ? { identity } : {}),
    attempts: [],
    retries: 0,
    fallbacks: 0,
    cache: { status: 'DISABLED' },
    unpriced: false,
    duration_ms: now - startedAt,
    status: error.status,
    outcome: 'error',
    ...errorOf(error),
  };
}
