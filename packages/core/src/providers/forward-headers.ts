import type { CallContext } from './types.js';

/**
 * Adds the client's headers a target forwards (`forward_headers`) to those the provider set, never
 * replacing one: the target's own key, content type and API version stay the provider's, so listing
 * `authorization` forwards the client's only to a target without a key of its own.
 */
export function withForwardedHeaders(ctx: CallContext, headers: Record<string, string>): Record<string, string> {
  add(ctx.target.forwardHeaders, ctx, headers);
  if (ctx.overrides?.forwardHeaders) add(ctx.overrides.forwardHeaders, ctx, headers);
  return headers;
}

function add(names: string[], ctx: CallContext, headers: Record<string, string>): void {
  for (const name of names) {
    const value = ctx.headers[name];
    if (typeof value === 'string' && !Object.hasOwn(headers, name)) headers[name] = value;
  }
}
