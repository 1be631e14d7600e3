import type { GatewayInternals } from '../pipeline/internals.js';
import type { PipelineStage } from '../pipeline/state.js';
import { observabilityOf } from './observability.js';
import { markOpened } from './opened-requests.js';
import { observabilityScratch } from './request-scratch.js';
import { parentContextFor } from './spans.js';

/**
 * First of all stages: notes the request as begun (so a later refusal still gets its record), the
 * trace it belongs to, and keeps it among the gateway's in-flight work until its record is written
 * — for a stream, after its last chunk — so `close()` waits for streams, not just their headers.
 */
export function openStage(gw: GatewayInternals): PipelineStage {
  const obs = observabilityOf(gw);
  const tracing = obs.spans;
  return {
    name: 'observability-open',
    before(state) {
      markOpened(state);
      const scratch = observabilityScratch(state);
      if (tracing) scratch.parent = parentContextFor(state.request);
      // The answer is needed whole to be logged; the pipeline hands a stream over only if it ends normally.
      if (gw.options.logBodies && state.stream) {
        state.recordChunks = true;
        // The log wants every answer whole, however long.
        state.recordLimit = Infinity;
      }
      gw.inflight.enter();
      scratch.done = gw.inflight.leave;
      obs.metrics?.inFlight.inc();
    },
  };
}
