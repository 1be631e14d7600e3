import type { GatewayLogger } from '../options.js';
import type { GatewayInternals } from './internals.js';
import type { Outcome, PipelineStage, RequestState, ShortCircuit } from './state.js';

const isThenable = <T>(v: T | PromiseLike<T>): v is PromiseLike<T> => typeof (v as { then?: unknown } | undefined)?.then === 'function';

/**
 * Runs every stage's `before`, in order, until one answers. A stage with nothing to do returns
 * synchronously and is not awaited: an `await` per stage per request is a microtask turn and a
 * promise each, for six stages most of which are off for most requests.
 */
export async function runBefore(stages: readonly PipelineStage[], state: RequestState): Promise<ShortCircuit | undefined> {
  for (const stage of stages) stage.prefetch?.(state);
  for (const stage of stages) {
    if (!stage.before) continue;
    let result = stage.before(state);
    if (isThenable(result)) result = await result;
    if (result) return result;
  }
  return undefined;
}

/**
 * Runs every stage's `after` exactly once per request, started in order: each hook's synchronous
 * part (the cost) is done before the next one starts, and hooks that wait on a store (settling a
 * budget, writing the cache) overlap, so Redis gets their commands in one round trip. A stage with
 * `afterOthers` (the log) starts only once every earlier hook has finished. A failing stage is
 * logged and the rest still run: a broken log sink must never lose a budget settlement.
 */
export async function runAfter(stages: readonly PipelineStage[], state: RequestState, outcome: Outcome, logger?: GatewayLogger): Promise<void> {
  if (state.scratch.finished) return;
  state.scratch.finished = true;
  // The request is over: a stream's link to the client's signal goes now, not at some later GC (one
  // long-lived signal serving many streams would gather a listener per stream until then).
  const release = state.releaseClient;
  if (release) {
    state.releaseClient = undefined;
    release();
  }
  const failed = (stage: PipelineStage, e: unknown) =>
    logger?.error({ err: e, stage: stage.name, traceId: state.traceId }, 'llmux stage failed after response');
  let running: Array<PromiseLike<void>> | undefined;
  for (const stage of stages) {
    if (!stage.after) continue;
    if (stage.afterOthers && running) {
      await Promise.all(running);
      running = undefined;
    }
    try {
      const done = stage.after(state, outcome);
      if (isThenable(done)) (running ??= []).push(done.then(undefined, (e: unknown) => void failed(stage, e)));
    } catch (e) {
      failed(stage, e);
    }
  }
  if (running) await Promise.all(running);
}

const NOTHING_TO_WAIT_FOR: Promise<void> = Promise.resolve();

/**
 * `runAfter` for a request that was answered. By default awaited: the answer leaves once its budget
 * is settled, its cache entry written and its record made. With `finishAfterResponse` it is not: its
 * synchronous part still runs now — the cost the response's headers and trailers carry, and each
 * hook up to its first wait, which is where a store's commands are issued — and the rest finishes
 * after the answer left. `close()` still waits for it: the open stage keeps every request in flight
 * until its record is made, and the record comes after every other hook.
 */
export function finishAnswered(gw: GatewayInternals, state: RequestState, outcome: Outcome): Promise<void> {
  const after = runAfter(gw.stages, state, outcome, gw.logger);
  if (!gw.options.finishAfterResponse) return after;
  // runAfter catches each hook's failure; should anything still escape, it must not be an unhandled rejection in the host.
  after.then(undefined, (e: unknown) => gw.logger?.error({ err: e, traceId: state.traceId }, 'llmux: finishing a request after its response failed'));
  return NOTHING_TO_WAIT_FOR;
}
