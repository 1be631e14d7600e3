import { GatewayError } from '../errors.js';
import { gatewaySetting, hasAdminKey, requireAdmin } from '../limits/admin-key.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayRequest } from '../types.js';

const notFound = (req: GatewayRequest) => new GatewayError('not_found', `no route for ${req.method} ${req.path.split('?')[0]}`);

/**
 * `playground: false` removes the page and its API: they answer 404 as if they never existed. By
 * default it is on while developing, and in production (`NODE_ENV=production`) only behind an admin
 * key — an unguarded usage view would show every caller's requests and spend to anyone.
 */
export function playgroundEnabled(gw: GatewayInternals): boolean {
  const option = gw.options.playground;
  if (option !== undefined) return option;
  return hasAdminKey(gw) || gatewaySetting(gw, 'NODE_ENV') !== 'production';
}

/**
 * Whether the playground API asks for the admin key: whenever one is configured, and always with
 * gateway keys (`auth`) — a playground that answered without a key would be a way around them.
 */
export function playgroundGuarded(gw: GatewayInternals): boolean {
  return hasAdminKey(gw) || gw.options.auth !== undefined;
}

/** With `auth` but no admin key nobody could pass the guard, so the playground is absent (404). */
function reachable(gw: GatewayInternals): boolean {
  return hasAdminKey(gw) || gw.options.auth === undefined;
}

/** The page: it holds no data, so only whether the playground exists at all is checked. */
export function requirePlaygroundPage(gw: GatewayInternals, req: GatewayRequest): void {
  if (!playgroundEnabled(gw) || !reachable(gw)) throw notFound(req);
}

/**
 * The playground's API shows spend and recent requests and can send requests to any target of the
 * config, so once guarded it takes the same admin check as `/usage` — one check, not a second one.
 */
export function requirePlaygroundAccess(gw: GatewayInternals, req: GatewayRequest): void {
  if (!playgroundEnabled(gw)) throw notFound(req);
  if (playgroundGuarded(gw)) requireAdmin(gw, req);
}
