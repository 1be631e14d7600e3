import type { CallContext } from './types.js';

/**
 * Adds the client's headers a target forwards (`forward_headers`) to those the provider set, never
 * replacing one: the target's own key, content type and API version stay the provider's, so listing
 * `authorization` forwards the client's only to a target without a key of its own.
 */
export function withForwardedHeaders(ctx: CallContext, headers: Record<string, string>): Record<string, string> {
  for (const name of ctx.target.forwardHeaders) {
    const value = ctx.headers[name];
    if (typeof value === 'string' && !Object.hasOwn(headers, name)) headers[name] = value;
  }
  return headers;
}
