import { formatCost } from '../http/headers.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import type { ChunkOut } from '../providers/types.js';
import { computeCost, costScratch, costStatusHeaders } from './request-cost.js';

/** Names declared in the `Trailer` header of a stream, so clients know to look for them. */
export const COST_TRAILER_NAMES = 'x-llmux-cost, x-llmux-cost-status';

/**
 * Adds `usage.cost` (USD) to the usage chunk a client asked for (`stream_options.include_usage`):
 * a stream's cost is known only at its end, after the headers left. The raw upstream text is
 * dropped so the chunk is serialised with the field.
 */
export function withStreamCost(gw: GatewayInternals, state: RequestState, out: ChunkOut): ChunkOut {
  if (out.chunk.model) costScratch(state).reportedModel = out.chunk.model;
  computeCost(gw, state);
  if (state.cost === undefined || !out.chunk.usage) return out;
  return { chunk: { ...out.chunk, usage: { ...out.chunk.usage, cost: Number(formatCost(state.cost)) } } };
}

/** The HTTP trailers of a finished stream: its cost, or why it has none. */
export function costTrailers(state: RequestState): Record<string, string> {
  return state.cost !== undefined ? { 'x-llmux-cost': formatCost(state.cost) } : costStatusHeaders(state);
}
