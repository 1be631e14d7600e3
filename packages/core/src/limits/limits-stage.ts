import { candidatesFor } from '../cost/model-names.js';
import { clientClosed, GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { Outcome, PipelineStage, RequestState } from '../pipeline/state.js';
import type { SettleAmounts } from '../store/limit-store.js';
import { buildClaims, toNano, type ClaimPolicy, type Claims } from './claims.js';
import { rateHeaders } from './rate-headers.js';
import { budgetExceeded, rateLimited } from './refusals.js';
import { settleClaims } from './settle.js';

function totalTokens(state: RequestState): number {
  const u = state.usage!;
  return typeof u.total_tokens === 'number' ? u.total_tokens : (u.prompt_tokens ?? 0) + (u.completion_tokens ?? 0);
}

/**
 * What the request really used. A cache hit used nothing; reported usage is exact; an answer whose
 * usage never came (a stream cut after content, a provider that reports none) is charged the reserved
 * worst case, so leaving early can never dodge a budget (nor can a split call failing part-way, after
 * the upstream billed its first parts); a failure before any answer costs nothing.
 */
function actuals(state: RequestState, outcome: Outcome, claims: Claims): { nano: number; tokens: number } {
  if (state.cache === 'HIT' || state.cache === 'SEMANTIC_HIT') return { nano: 0, tokens: 0 };
  const used = answered(state, outcome, claims);
  const billed = state.billed;
  if (!billed || outcome.status >= 400) return used;
  // A retry or fallback answered after attempts billed part-way: those calls were spent too. One
  // without a token count is charged the reservation, which bounds any part of the request's input.
  return {
    nano: used.nano + toNano(billed.cost) + (billed.uncounted ? claims.reservedNano : 0),
    tokens: used.tokens + billed.tokens + (billed.uncounted ? claims.reservedTokens : 0),
  };
}

function answered(state: RequestState, outcome: Outcome, claims: Claims): { nano: number; tokens: number } {
  if (state.usage) return { nano: state.cost !== undefined ? toNano(state.cost) : 0, tokens: totalTokens(state) };
  if (state.firstTokenAt !== undefined || outcome.status < 400 || state.billedWithoutAnswer) return { nano: claims.reservedNano, tokens: claims.reservedTokens };
  return { nano: 0, tokens: 0 };
}

/**
 * Adds what attempts billed part-way cost before another answered to the answer's usage and cost, so
 * the record and `x-llmux-cost` state what the providers billed in total, as the budget counts it.
 * The first hook after the cost stage, this runs before anything else reads them; the client's body
 * keeps the answer's own usage.
 */
function addBilled(state: RequestState, outcome: Outcome): void {
  const billed = state.billed;
  const u = state.usage;
  if (!billed || !u || outcome.status >= 400 || state.cache === 'HIT' || state.cache === 'SEMANTIC_HIT') return;
  state.usage = { ...u, prompt_tokens: u.prompt_tokens + billed.tokens, total_tokens: u.total_tokens + billed.tokens };
  if (state.cost !== undefined) state.cost += billed.cost;
}

function settleAmounts(claims: Claims, used: { nano: number; tokens: number }): SettleAmounts {
  return {
    counters: claims.counters.map((c) => (c.metric === 'cost' ? used.nano : used.tokens)),
    windows: claims.windows.map((w) => (w.metric === 'tokens' ? used.tokens : undefined)),
  };
}

/**
 * Rate limits and budgets in one stage, so one store call (one Redis round trip) checks every window
 * and reserves every budget before the upstream call. Budgets reserve the worst case (input bound +
 * the largest `max_tokens` any target may be sent, priced at the dearest target that may serve) and
 * settle with the real cost afterwards, retried while the reservation lives when the store fails.
 */
export function limitsStage(gw: GatewayInternals): PipelineStage {
  const policy: ClaimPolicy = {
    defaultMaxTokens: gw.options.limitOptions?.defaultMaxTokens ?? 4096,
    ttlMs: (gw.options.limitOptions?.reservationTtl ?? 600) * 1000,
  };
  return {
    name: 'limits',
    before(state) {
      // Without budgets or limits, nothing to wait for (the pipeline does not await a plain return).
      if (state.plan.budgets.length === 0 && state.plan.rateLimits.length === 0) return;
      return admit(state);
    },
    after(state, outcome) {
      const claims = state.scratch.limits as Claims | undefined;
      // Counted before the billed parts join the answer's usage, which `actuals` adds itself.
      const used = claims && actuals(state, outcome, claims);
      addBilled(state, outcome);
      if (!claims || !used) return;
      // Undefined rather than deleted: a delete that is not of the last property added turns the object slow.
      state.scratch.limits = undefined;
      return settleClaims(gw, claims, settleAmounts(claims, used), state.traceId);
    },
  };

  async function admit(state: RequestState): Promise<void> {
    // A model no target can serve fails in the router before any `after` hook would settle a claim.
    if (candidatesFor(gw, state).length === 0) return;
    const now = Date.now();
    const claims = buildClaims(gw, state, policy, now);
    if (claims.request.counters.length === 0 && claims.request.windows.length === 0) return;
    // A client that left while `identify` or the body upload ran is not counted against its limits:
    // the request would end with a 499 before any upstream call, and the window would still hold it.
    const signal = state.request.signal;
    if (signal?.aborted) throw clientClosed();
    let result;
    try {
      result = await gw.store.admit(claims.request);
    } catch (e) {
      throw new GatewayError('store_unavailable', `the ${gw.store.kind} store holding budgets and rate limits cannot be reached`, {
        cause: e,
        retryAfter: 1,
      });
    }
    if (!result.ok) throw result.reason === 'window' ? rateLimited(claims, result) : budgetExceeded(claims, result, now);
    if (result.unchecked) {
      gw.logger?.warn({ traceId: state.traceId, store: gw.store.kind }, 'llmux: limit store unreachable; request admitted unchecked (failMode open)');
      return;
    }
    rateHeaders(claims.windows, result.windows, state.headers);
    state.scratch.limits = claims;
  }
}
