import type { Context } from '@opentelemetry/api';
import type { RequestState } from '../pipeline/state.js';

/** What observability keeps on a request between its stages, at `state.scratch.observability`. */
export interface ObservabilityScratch {
  /** The app's trace the request's span belongs to. */
  parent?: Context;
  /** When routing began (the last `before` hook ran). */
  routedAt?: number;
  /** Resolves once the request's record is written, so `close()` can wait for streams. */
  done?: () => void;
}

export function observabilityScratch(state: RequestState): ObservabilityScratch {
  return ((state.scratch.observability as ObservabilityScratch | undefined) ??= {});
}
