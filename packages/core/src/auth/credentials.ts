import { header } from '../http/headers.js';
import type { RouteName } from '../http/routes.js';
import type { GatewayRequest } from '../types.js';

/** Headers named for a gateway key: with `auth` set they are the gateway's and never travel upstream. */
const KEY_HEADERS = ['x-llmux-api-key', 'x-portkey-api-key', 'x-api-key'] as const;

/** A gateway key and the header it came in. */
export interface PresentedKey {
  key: string;
  /** `authorization` when the key came as `Authorization: Bearer`; otherwise one of `KEY_HEADERS`. */
  header: string;
}

/**
 * The key a client presented: `x-llmux-api-key`, Portkey's `x-portkey-api-key` (the portkey-ai SDK's
 * `apiKey`), `Authorization: Bearer` (the openai SDK's `apiKey`), and on the routes Anthropic's SDKs
 * call (`/v1/messages`, `/v1/models`) their `x-api-key`.
 */
export function presentedKey(route: RouteName, headers: GatewayRequest['headers']): PresentedKey | undefined {
  for (const name of ['x-llmux-api-key', 'x-portkey-api-key'] as const) {
    const named = header(headers, name);
    if (named) return { key: named.trim(), header: name };
  }
  const auth = header(headers, 'authorization');
  if (auth) return { key: /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1]?.trim() ?? auth.trim(), header: 'authorization' };
  const anthropic = route === 'messages' || route === 'count_tokens' || route === 'models' || route === 'model' ? header(headers, 'x-api-key')?.trim() : undefined;
  return anthropic ? { key: anthropic, header: 'x-api-key' } : undefined;
}

/**
 * A copy of the request without the gateway's credentials, so no later stage can forward the gateway
 * key. `Authorization` goes only when it carried that key: next to a key sent as `x-portkey-api-key`
 * (the portkey-ai SDK), it is the client's own provider key, which a request-level provider uses
 * where the server allows it (DESIGN: "the client's own Authorization is the provider key").
 */
const PRESENTED = Symbol('llmux.presented-key');

/** The gateway key a request admitted by `withoutCredentials` presented: its record must not show it. */
export const presentedKeyOf = (req: GatewayRequest): string | undefined => (req as { [PRESENTED]?: string })[PRESENTED];

export function withoutCredentials(req: GatewayRequest, presented: PresentedKey): GatewayRequest {
  // Copied name by name, leaving the credentials out: a spread copy and `delete` both leave V8 a slow
  // object, and every later stage reads these headers.
  const headers: GatewayRequest['headers'] = {};
  for (const name in req.headers) {
    if ((KEY_HEADERS as readonly string[]).includes(name) || name === presented.header) continue;
    headers[name] = req.headers[name];
  }
  const admitted: GatewayRequest & { [PRESENTED]?: string } = { ...req, headers };
  admitted[PRESENTED] = presented.key;
  return admitted;
}
