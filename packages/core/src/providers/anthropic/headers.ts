import { gatewayHeader, header } from '../../http/headers.js';
import type { CallContext } from '../types.js';
import { withForwardedHeaders } from '../forward-headers.js';
import { GatewayError } from '../../errors.js';
import { isHeaderSafe } from '../../http/header-safe.js';

/** The API version every request pins; newer features arrive as `anthropic-beta` flags instead. */
export const ANTHROPIC_VERSION = '2023-06-01';

const list = (v: unknown): string[] =>
  typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Beta flags from a comma-separated string or a list, trimmed, without empty ones. */
export const betaList = (v: unknown): string[] => list(v).map((b) => b.trim()).filter(Boolean);

/**
 * The beta flags of one call, each once: the target's own (`anthropic_beta`), then the client's from
 * the request body and its `anthropic-beta` header (or Portkey's `x-portkey-anthropic-beta`).
 * `keepClient` filters the client's only: what the operator configured always goes.
 */
export function betaFlags(ctx: CallContext, bodyBeta?: unknown, keepClient: (flag: string) => boolean = () => true): string[] {
  const client = [...betaList(bodyBeta), ...betaList(gatewayHeader(ctx.headers, 'anthropic-beta')), ...betaList(header(ctx.headers, 'anthropic-beta'))];
  return [...new Set([...betaList(ctx.target.extra.anthropic_beta), ...client.filter(keepClient)])];
}

/**
 * Auth and version headers for one upstream call. Beta flags are merged from the target, the request
 * body and the client's headers (`betaFlags`), so features such as 1h cache TTLs can be switched on per call.
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
  const betas = betaFlags(ctx, bodyBeta);
  if (betas.length) {
    const joined = betas.join(',');
    // Refused here as the client's mistake: undici would refuse the header, and that reads as the
    // upstream being unreachable, which retries, falls back and opens the circuit for everyone.
    if (!isHeaderSafe(joined)) {
      throw new GatewayError('invalid_request', 'anthropic_beta holds a character that cannot go in an HTTP header (a line break, or one outside Latin-1)', { param: 'anthropic_beta' });
    }
    headers['anthropic-beta'] = joined;
  }
  return withForwardedHeaders(ctx, headers);
}
