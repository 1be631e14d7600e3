import type { GatewayError } from '../errors.js';
import type { Usage } from '../providers/openai-types.js';

/**
 * Failures that came with the usage the provider billed for them (a 200 whose choice finished with
 * "error", Cohere's `ERROR`): the error stays the client's answer, and the usage is charged, as the
 * same failure streamed is. Kept beside the error, not on it: `GatewayError` fields reach clients.
 */
const billed = new WeakMap<GatewayError, Usage>();

export function withBilledUsage(error: GatewayError, usage: unknown): GatewayError {
  if (typeof usage === 'object' && usage !== null && typeof (usage as Usage).prompt_tokens === 'number') billed.set(error, usage as Usage);
  return error;
}

export const billedUsageOf = (error: unknown): Usage | undefined => (typeof error === 'object' && error !== null ? billed.get(error as GatewayError) : undefined);
