import type { GatewayError } from '../errors.js';

/**
 * Marks a request body a host's parser refused (see `bodyRefusedBy` in `@llmux/core/node`). A
 * registry symbol, so the ESM and CJS builds of the package agree on it.
 */
export const BODY_REFUSAL = Symbol.for('llmux.body-refusal');

/** The refusal a request body carries, if it is one. */
export function refusalOf(body: unknown): GatewayError | undefined {
  return typeof body === 'object' && body !== null ? ((body as { [BODY_REFUSAL]?: GatewayError })[BODY_REFUSAL] ?? undefined) : undefined;
}
