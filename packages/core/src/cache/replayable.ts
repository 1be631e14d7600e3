import type { RequestState } from '../pipeline/state.js';

const NOT_REPLAYABLE = Symbol('llmux.not-replayable');
type Marked = RequestState & { [NOT_REPLAYABLE]?: true };

/**
 * Says this request's answer holds more than the entry it would be stored as can give back (an
 * Anthropic answer relayed as it came to `/v1/messages`, with server-tool blocks or citations): a hit
 * would answer differently from the miss, so it is not stored.
 */
export function markNotReplayable(state: RequestState): void {
  (state as Marked)[NOT_REPLAYABLE] = true;
}

export const isReplayable = (state: RequestState): boolean => (state as Marked)[NOT_REPLAYABLE] !== true;
