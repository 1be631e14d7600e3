import { header } from '../http/headers.js';
import type { RouteName } from '../http/routes.js';
import type { GatewayRequest } from '../types.js';

/** Headers that carry a gateway key; with `auth` set they are the gateway's and never travel upstream. */
const CREDENTIAL_HEADERS = ['authorization', 'x-llmux-api-key', 'x-portkey-api-key', 'x-api-key'] as const;

/**
 * The key a client presented: `x-llmux-api-key`, Portkey's `x-portkey-api-key` (the portkey-ai SDK's
 * `apiKey`), `Authorization: Bearer` (the openai SDK's `apiKey`), and on `/v1/messages` Anthropic's
 * `x-api-key` (the @anthropic-ai/sdk's `apiKey`).
 */
export function presentedKey(route: RouteName, headers: GatewayRequest['headers']): string | undefined {
  const named = header(headers, 'x-llmux-api-key') ?? header(headers, 'x-portkey-api-key');
  if (named) return named.trim();
  const auth = header(headers, 'authorization');
  if (auth) return /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1]?.trim() ?? auth.trim();
  return route === 'messages' ? header(headers, 'x-api-key')?.trim() || undefined : undefined;
}

/** A copy of the request without any credential header, so no later stage can forward the gateway key. */
export function withoutCredentials(req: GatewayRequest): GatewayRequest {
  // Copied name by name, leaving the credentials out: a spread copy and `delete` both leave V8 a slow
  // object, and every later stage reads these headers.
  const headers: GatewayRequest['headers'] = {};
  for (const name in req.headers) if (!(CREDENTIAL_HEADERS as readonly string[]).includes(name)) headers[name] = req.headers[name];
  return { ...req, headers };
}
