import type { GatewayInternals } from '../pipeline/internals.js';
import type { PipelineStage, RequestState } from '../pipeline/state.js';
import { recordFromState } from './build-record.js';
import { observabilityOf, type PendingRecord } from './observability.js';
import { observabilityScratch } from './request-scratch.js';
import { markRecorded } from './opened-requests.js';
import { forgetJsonText } from '../http/json-text.js';
import { presentedKeyOf } from '../auth/credentials.js';

const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * Last of all stages: its `after` sees the cost, the cache's result and the settled budget, and
 * queues the request's one record. Building it is a synchronous snapshot; redaction, logging,
 * metrics and spans happen on a later event-loop turn.
 */
export function logStage(gw: GatewayInternals): PipelineStage {
  const obs = observabilityOf(gw);
  const tracing = obs.spans;
  return {
    name: 'observability-log',
    afterOthers: true,
    // When routing began, for the spans' timeline; nothing else reads it.
    ...(tracing ? { before: (state: RequestState) => void (observabilityScratch(state).routedAt = Date.now()) } : {}),
    after(state, outcome) {
      const scratch = observabilityScratch(state);
      try {
        const body = state.body;
        const pending: PendingRecord = { record: recordFromState(gw, state, outcome), plan: state.plan, targets: [state.target ?? state.failedTarget] };
        // What only spans read, set only when spans are made (assigned, not spread: a spread builds a
        // temporary object, and this runs on every request).
        if (tracing) {
          if (scratch.parent) pending.parent = scratch.parent;
          if (scratch.routedAt !== undefined) pending.routedAt = scratch.routedAt;
          pending.params = {
            max_tokens: num(body.max_completion_tokens) ?? num(body.max_tokens),
            temperature: num(body.temperature),
            top_p: num(body.top_p),
            frequency_penalty: num(body.frequency_penalty),
            presence_penalty: num(body.presence_penalty),
          };
        }
        const presented = presentedKeyOf(state.request);
        if (presented) pending.presentedKey = presented;
        if (gw.options.logBodies) pending.bodies = { request: body, completion: outcome.completion, chunks: outcome.chunks };
        obs.emit(pending);
      } finally {
        // Let go of what only this request needed (see opened-requests.ts on why it matters for GC).
        markRecorded(state);
        forgetJsonText(state.body);
        if (scratch.done) {
          obs.metrics?.inFlight.dec();
          scratch.done();
        }
      }
    },
  };
}
