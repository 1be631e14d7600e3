import type { CacheScratch } from '../cache/cache-stage.js';
import { targetsOf, type PlanNode } from '../config/plan.js';
import { upstreamModel } from '../cost/model-names.js';
import type { CostScratch } from '../cost/request-cost.js';
import { tokenCounts } from '../cost/token-counts.js';
import type { AttemptSummary, GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { Outcome, RequestState } from '../pipeline/state.js';
import type { ResolvedTarget } from '../providers/types.js';
import type { GatewayContext, GatewayRequest } from '../types.js';
import type { LogAttempt, RequestLogRecord, RequestOutcome } from './log-record.js';
import { isoTime } from './iso-time.js';

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
  // 499 is the client leaving, stream or not: nothing failed on the gateway's side.
  if (outcome.status === 499) return 'client_closed';
  if (outcome.incomplete) return 'stream_cut';
  return outcome.status < 400 ? 'success' : 'error';
}

function pathOf(req: GatewayRequest): string {
  const q = req.path.indexOf('?');
  return q === -1 ? req.path : req.path.slice(0, q);
}

/** The model sent upstream: `override_params.model`, then aliases, then what the client asked for. */
function resolvedModel(gw: GatewayInternals, state: RequestState): string | undefined {
  const target = state.target ?? state.failedTarget;
  if (!target) return undefined;
  let requested = state.body.model;
  if (!state.plan.root) {
    try {
      requested = gw.plans.rootFor(state.plan, requested).model ?? requested;
    } catch {
      // A target answered, so the model was placed; keep the client's name if not.
    }
  }
  return upstreamModel(state.plan, target, requested);
}

/** A plan's targets by config path, found once per plan: attempts name their target by path only. */
const targetsByPath = new WeakMap<PlanNode, Map<string, ResolvedTarget>>();

function targetAtPath(root: PlanNode, path: string): ResolvedTarget | undefined {
  let byPath = targetsByPath.get(root);
  if (!byPath) {
    byPath = new Map();
    for (const t of targetsOf(root)) byPath.set(t.path, t);
    targetsByPath.set(root, byPath);
  }
  return byPath.get(path);
}

/**
 * The model one attempt sent, as `modelFor` chose it: a fallback's own `override_params.model` may
 * differ from the model of the target that answered. A skipped attempt sent nothing.
 */
function attemptModel(state: RequestState, attempt: AttemptSummary, last: ResolvedTarget | undefined, model: string | undefined): string | undefined {
  if (attempt.status === undefined) return undefined;
  if (attempt.target === last?.path) return model;
  // Without a config root every attempt is of the one target the model name picked (`last`).
  const root = state.plan.root;
  const target = root && targetAtPath(root, attempt.target);
  return target ? upstreamModel(state.plan, target, state.body.model) : undefined;
}

/**
 * The record of a request that went through the pipeline, built in its `after` hook: a snapshot of
 * plain values (cheap, synchronous) — redaction and every sink run later, off the response path.
 * Fields are assigned one by one, in the record's documented order: conditional object spreads
 * cost a temporary object each, and this runs on every request.
 */
export function recordFromState(gw: GatewayInternals, state: RequestState, outcome: Outcome, now = Date.now()): RequestLogRecord {
  const cost = state.scratch.cost as CostScratch | undefined;
  const cache = state.scratch.cache as CacheScratch | undefined;
  const completion = outcome.completion;
  const r = {
    type: 'llmux.request',
    trace_id: state.traceId,
    started_at: isoTime(state.startedAt),
    route: state.route,
    method: state.request.method,
    path: pathOf(state.request),
    stream: state.stream,
  } as RequestLogRecord;
  const identity = identityOf(state.identity);
  if (identity) r.identity = identity;
  for (const _ in state.metadata) {
    r.metadata = state.metadata;
    break;
  }
  r.requested_model = state.body.model;
  const model = resolvedModel(gw, state);
  if (model) r.model = model;
  const responseModel = cost?.reportedModel ?? completion?.model;
  if (responseModel) r.response_model = responseModel;
  // A stream has no completion: its chunks left their id and finish reasons on the state.
  const responseId = completion ? completion.id : state.streamId;
  if (responseId) r.response_id = responseId;
  const choices = completion?.choices;
  if (choices?.length) {
    const finish: string[] = [];
    for (const c of choices) if (typeof c.finish_reason === 'string') finish.push(c.finish_reason);
    if (finish.length) r.finish_reasons = finish;
  } else if (!completion && state.streamFinishReasons) {
    const finish: string[] = [];
    // Indexed by choice: a choice that never finished leaves a hole, which `for…of` reads as undefined.
    for (const reason of state.streamFinishReasons) if (reason !== undefined) finish.push(reason);
    if (finish.length) r.finish_reasons = finish;
  }
  const target = state.target ?? state.failedTarget;
  if (target) {
    r.provider = target.provider;
    r.target = target.path;
  } else if (cache?.provider) {
    // A hit names the target that made the answer, as its `x-llmux-target` header does.
    r.provider = cache.provider;
    if (cache.target) r.target = cache.target;
  }
  const attempts: LogAttempt[] = new Array(state.attempts.length);
  for (let i = 0; i < attempts.length; i++) {
    const attempt = state.attempts[i]!;
    const sent = attemptModel(state, attempt, target, model);
    // One literal, not a property added to a copy: the added property would move every record's
    // attempts to a new hidden class on the per-request path.
    attempts[i] = sent ? { ...attempt, model: sent } : { ...attempt };
  }
  r.attempts = attempts;
  r.retries = state.retries;
  r.fallbacks = countFallbacks(state.attempts);
  const cacheInfo: RequestLogRecord['cache'] = { status: state.cache };
  if (cache) {
    cacheInfo.mode = cache.mode;
    if (cache.savedCost !== undefined) cacheInfo.saved_cost_usd = cache.savedCost;
    if (cache.similarity !== undefined) cacheInfo.similarity = cache.similarity;
    if (cache.ageSeconds !== undefined) cacheInfo.age_seconds = cache.ageSeconds;
  }
  r.cache = cacheInfo;
  const usage = state.usage && tokenCounts(state.usage);
  if (usage) {
    const u: NonNullable<RequestLogRecord['usage']> = { input_tokens: usage.input, output_tokens: usage.output, total_tokens: usage.input + usage.output };
    if (usage.cacheRead) u.cached_input_tokens = usage.cacheRead;
    if (usage.reasoning) u.reasoning_tokens = usage.reasoning;
    r.usage = u;
  }
  if (state.cost !== undefined) r.cost_usd = state.cost;
  r.unpriced = state.cost === undefined && cost?.status === 'unpriced';
  if (state.cost === undefined && cost?.status) r.cost_status = cost.status;
  if (state.firstTokenAt !== undefined) r.ttft_ms = state.firstTokenAt - state.startedAt;
  r.duration_ms = now - state.startedAt;
  r.status = outcome.status;
  r.outcome = outcomeOf(outcome);
  if (outcome.error) Object.assign(r, errorOf(outcome.error));
  return r;
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
    started_at: isoTime(startedAt),
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
    outcome: outcomeOf({ status: error.status }),
    ...errorOf(error),
  };
}
