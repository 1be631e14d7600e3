import type { GatewayLogger } from '../options.js';
import type { Outcome, PipelineStage, RequestState, ShortCircuit } from './state.js';

export async function runBefore(stages: readonly PipelineStage[], state: RequestState): Promise<ShortCircuit | undefined> {
  for (const stage of stages) stage.prefetch?.(state);
  for (const stage of stages) {
    if (!stage.before) continue;
    const result = await stage.before(state);
    if (result) return result;
  }
  return undefined;
}

/**
 * Runs every stage's `after`, in order, exactly once per request. A failing stage is logged and the
 * rest still run: a broken log sink must never lose a budget settlement.
 */
export async function runAfter(stages: readonly PipelineStage[], state: RequestState, outcome: Outcome, logger?: GatewayLogger): Promise<void> {
  if (state.scratch.finished) return;
  state.scratch.finished = true;
  for (const stage of stages) {
    if (!stage.after) continue;
    try {
      await stage.after(state, outcome);
    } catch (e) {
      logger?.error({ err: e, stage: stage.name, traceId: state.traceId }, 'llmux stage failed after response');
    }
  }
}
