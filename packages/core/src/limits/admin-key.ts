import { GatewayError } from '../errors.js';
import { header } from '../http/headers.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayRequest } from '../types.js';
import { keyringOf } from '../auth/keyring-of.js';

/** Compares in time independent of where the strings differ, so the key cannot be guessed byte by byte. */
function sameKey(given: string, expected: string): boolean {
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) diff |= (given.charCodeAt(i) || 0) ^ expected.charCodeAt(i);
  return diff === 0;
}

/**
 * One of the gateway's own settings from the environment (`LLMUX_ADMIN_KEY`, `NODE_ENV`): the `env`
 * option first, then the process's. An `env` given for provider keys alone must not hide the process's
 * `NODE_ENV=production` or admin key — that opened the playground and its usage view to anyone.
 */
export function gatewaySetting(gw: GatewayInternals, name: string): string | undefined {
  return gw.options.env?.[name] ?? process.env[name];
}

/** The configured admin key: `adminKey`, else `LLMUX_ADMIN_KEY` from the gateway's env or the process's. */
export function adminKeyOf(gw: GatewayInternals): string | undefined {
  return gw.options.adminKey ?? gatewaySetting(gw, 'LLMUX_ADMIN_KEY') ?? undefined;
}

/** Whether any admin key is configured: `adminKey`, `LLMUX_ADMIN_KEY` or `auth.adminKeys`. */
export function hasAdminKey(gw: GatewayInternals): boolean {
  return !!adminKeyOf(gw) || keyringOf(gw)?.hasAdminKeys === true;
}

/**
 * Admin routes exist only when an admin key is configured — without one they answer 404, as if absent,
 * so a gateway never exposes spend by accident. With one, a missing or wrong key is a 401.
 */
export function requireAdmin(gw: GatewayInternals, req: GatewayRequest): void {
  const expected = adminKeyOf(gw);
  // `auth.adminKeys` (gateway keys) are admin keys too, kept as digests.
  const keyring = keyringOf(gw);
  if (!hasAdminKey(gw)) throw new GatewayError('not_found', `no route for ${req.method} ${req.path.split('?')[0]}`);
  const bearer = header(req.headers, 'authorization')?.replace(/^Bearer\s+/i, '');
  const given = [header(req.headers, 'x-llmux-admin-key'), bearer].filter((k): k is string => !!k);
  if (!given.some((k) => (!!expected && sameKey(k, expected)) || keyring?.isAdmin(k) === true)) {
    throw new GatewayError('unauthorized', 'this route needs the admin key (Authorization: Bearer <key> or x-llmux-admin-key)', {
      param: 'authorization',
      // RFC 9110 §15.5.2: a 401 says how to authenticate, as the gateway-key 401 does.
      headers: { 'www-authenticate': 'Bearer realm="llmux"' },
    });
  }
}
