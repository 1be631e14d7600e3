import type { GatewayContext } from '../types.js';

/**
 * What conditional routing may look at — never a provider's wire format. Queries name fields as
 * `metadata.<path>`, `params.<path>` (the request body), `identity.<field>` (from `identify`/auth)
 * and `model`.
 */
export interface RouteInput {
  metadata: Record<string, unknown>;
  identity: GatewayContext;
  params: Record<string, unknown>;
  model?: string;
}

export const ROUTE_INPUT_ROOTS = ['metadata', 'params', 'identity', 'model'] as const;

/**
 * `metadata.org.tier` → input.metadata.org.tier; undefined when any step is missing. Steps follow own
 * properties only: the client sends metadata and params, and `metadata.constructor` must not "exist"
 * because every object inherits one.
 */
export function fieldOf(input: RouteInput, path: string): unknown {
  const parts = path.split('.');
  let value: unknown = parts[0] === 'model' ? (input.model ?? input.params.model) : (input as unknown as Record<string, unknown>)[parts[0]!];
  for (let i = 1; i < parts.length; i++) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, parts[i]!)) return undefined;
    value = (value as Record<string, unknown>)[parts[i]!];
  }
  return value;
}
