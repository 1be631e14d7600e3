import { formatCost } from '../http/headers.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import type { ChatCompletionChunk, Usage } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';
import { computeCost, costScratch, costStatusHeaders } from './request-cost.js';

/**
 * Keeps a stream's usage and the model its usage chunk reports (an Azure deployment's real model, a
 * dated snapshot), whether or not the client asked to see them: the cost must not depend on it.
 */
export function noteStreamUsage(state: RequestState, chunk: ChatCompletionChunk, usage: Usage): void {
  state.usage = usage;
  if (chunk.model) costScratch(state).reportedModel = chunk.model;
}

/**
 * Adds `usage.cost` (USD) to the usage chunk a client asked for (`stream_options.include_usage`):
 * a stream's cost is known only at its end, after the headers left. The raw upstream text is
 * dropped so the chunk is serialised with the field.
 */
export function withStreamCost(gw: GatewayInternals, state: RequestState, out: ChunkOut): ChunkOut {
  computeCost(gw, state);
  if (state.cost === undefined || !out.chunk.usage) return out;
  return { chunk: { ...out.chunk, usage: { ...out.chunk.usage, cost: Number(formatCost(state.cost)) } } };
}

/**
 * A usage chunk for a client that did not ask for usage (the gateway asked upstream for its own
 * costing): dropped when it carries nothing else (`choices: []`), else relayed without `usage` —
 * Groq and Mistral put it on the last content chunk, Groq a second time under `x_groq`. A changed
 * chunk loses its raw text, so it is serialised as changed.
 */
export function withoutUsage(out: ChunkOut): ChunkOut | undefined {
  const { usage: _usage, ...chunk } = out.chunk;
  if (!chunk.choices?.length) return undefined;
  const groq = chunk.x_groq;
  if (groq && typeof groq === 'object' && 'usage' in groq) {
    const { usage: _groqUsage, ...rest } = groq as Record<string, unknown>;
    chunk.x_groq = rest;
  }
  return { chunk: chunk as ChatCompletionChunk };
}

/** The HTTP trailers of a finished stream: its cost, or why it has none. */
export function costTrailers(state: RequestState): Record<string, string> {
  return state.cost !== undefined ? { 'x-llmux-cost': formatCost(state.cost) } : costStatusHeaders(state);
}
