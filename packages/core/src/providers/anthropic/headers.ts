import { gatewayHeader, header } from '../../http/headers.js';
import type { CallContext } from '../types.js';
import { withForwardedHeaders } from '../forward-headers.js';

/** The API version every request pins; newer features arrive as `anthropic-beta` flags instead. */
export const ANTHROPIC_VERSION = '2023-06-01';

const list = (v: unknown): string[] =>
  typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/**
 * Auth and version headers for one upstream call. Beta flags are merged from the target
 * (`anthropic_beta`), the request body and the client's `anthropic-beta` header (or Portkey's
 * `x-portkey-anthropic-beta`), so features such as 1h cache TTLs can be switched on per call.
 */
export function anthropicHeaders(ctx: CallContext, bodyBeta?: unknown): Record<string, string> {
  const extra = ctx.target.extra;
  const version =
    (typeof extra.anthropic_version === 'string' && extra.anthropic_version) ||
    gatewayHeader(ctx.headers, 'anthropic-version') ||
    header(ctx.headers, 'anthropic-version') ||
    ANTHROPIC_VERSION;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'anthropic-version': version };
  if (ctx.target.apiKey) headers['x-api-key'] = ctx.target.apiKey;
  const betas = new Set(
    [...list(extra.anthropic_beta), ...list(bodyBeta), ...list(gatewayHeader(ctx.headers, 'anthropic-beta')), ...list(header(ctx.headers, 'anthropic-beta'))]
      .map((b) => b.trim())
      .filter(Boolean),
  );
  if (betas.size) headers['anthropic-beta'] = [...betas].join(',');
  return withForwardedHeaders(ctx, headers);
}
