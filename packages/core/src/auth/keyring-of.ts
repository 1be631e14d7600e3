import type { GatewayInternals } from '../pipeline/internals.js';
import { Keyring } from './keyring.js';

const keyrings = new WeakMap<GatewayInternals, Keyring | null>();

/** The gateway's compiled `auth` option, built once (on the first call, made in `createGateway`); undefined without `auth`. */
export function keyringOf(gw: GatewayInternals): Keyring | undefined {
  let ring = keyrings.get(gw);
  if (ring === undefined) keyrings.set(gw, (ring = gw.options.auth ? new Keyring(gw.options.auth) : null));
  return ring ?? undefined;
}
