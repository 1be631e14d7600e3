import { GatewayError } from '../errors.js';
import type { RouteName } from '../http/routes.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayContext, GatewayRequest } from '../types.js';
import { presentedKey, withoutCredentials } from './credentials.js';
import { keyringOf } from './keyring-of.js';

/**
 * The routes that spend money need a gateway key. The admin routes (usage, metrics, the playground)
 * check the admin key themselves, through `requireAdmin`.
 */
const KEYED_ROUTES: ReadonlySet<RouteName> = new Set(['chat', 'embeddings', 'messages', 'count_tokens', 'models', 'model']);

const WWW_AUTHENTICATE = { 'www-authenticate': 'Bearer realm="llmux"' };

/** What admission may change about a request on its way to the route handler. */
export interface AdmittedCall {
  req: GatewayRequest;
  context: GatewayContext | undefined;
}

/**
 * With `auth` set, an inference request must present a configured gateway key (401 otherwise). The
 * key's name becomes `identity.key` (what `scope: "key"` budgets count), its metadata fills identity
 * fields the app's `identify` left empty, and the credential headers are removed from the request.
 */
export function authenticate(gw: GatewayInternals, route: RouteName, call: AdmittedCall): void {
  const keyring = keyringOf(gw);
  if (!keyring || !KEYED_ROUTES.has(route)) return;
  const presented = presentedKey(route, call.req.headers);
  if (!presented) {
    throw new GatewayError('unauthorized', 'missing gateway key: send it as Authorization: Bearer <key>, x-llmux-api-key or x-portkey-api-key', {
      param: 'authorization',
      headers: WWW_AUTHENTICATE,
    });
  }
  const key = keyring.find(presented.key);
  if (!key) throw new GatewayError('unauthorized', 'invalid gateway key', { param: 'authorization', headers: WWW_AUTHENTICATE });
  call.req = withoutCredentials(call.req, presented);
  // The app's identity wins over the key's metadata, field by field — but a field `identify` left
  // undefined (`team: req.user?.org`) must not wipe the key's value for it.
  const context: GatewayContext = { ...key.metadata };
  for (const [field, value] of Object.entries(call.context ?? {})) if (value !== undefined) context[field] = value;
  context.key = key.name;
  call.context = context;
}
