import { request, type Agent, type Dispatcher } from 'undici';
import { GatewayError } from '../../errors.js';
import { connectGuard, standingOf } from '../../router/ssrf-guard.js';
import { guardedAgent, readText } from '../../upstream/client.js';
import type { ResolvedTarget } from '../types.js';

/** Connections for token endpoints whose every address must be public, re-checked as the socket connects. */
let publicOnly: Promise<Agent> | undefined;

/**
 * Where a token request may connect. Google's endpoint and one on a server-chosen host: as any upstream
 * call. One on a client-chosen host (a request config's `custom_host`, whose origin a `token_uri` must
 * share): as the SSRF guard judged that host before routing — freely when `allowedHosts` lists it, else
 * only to public addresses, checked again by the socket (DNS rebinding); never when it was not judged.
 */
async function dispatcherFor(target: ResolvedTarget, clientChosen: boolean, param: string): Promise<Dispatcher | undefined> {
  if (!clientChosen) return undefined;
  const standing = standingOf(target);
  if (standing === 'listed') return undefined;
  if (standing === 'public') {
    publicOnly ??= guardedAgent(connectGuard([]), { connections: 4, keepAliveTimeout: 5_000 });
    return publicOnly;
  }
  throw new GatewayError('forbidden', `${param}: a token endpoint on a host the client chose cannot be used here; use Google's`, { param });
}

export interface TokenAnswer {
  status: number;
  json: { access_token?: string; expires_in?: number; error?: string; error_description?: string };
}

/**
 * POSTs the form to the token endpoint. A redirect is never followed (undici's `request` does not): it
 * is an answer without a token, so a token endpoint cannot send the gateway on to a host nobody checked.
 */
export async function postTokenRequest(
  uri: string,
  form: string,
  target: ResolvedTarget,
  clientChosen: boolean,
  param: string,
  timeoutMs: number,
): Promise<TokenAnswer> {
  const dispatcher = await dispatcherFor(target, clientChosen, param);
  const res = await request(uri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    signal: AbortSignal.timeout(timeoutMs),
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await readText(res.body, 64 * 1024).catch(() => '');
  let json: TokenAnswer['json'] = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) json = parsed as TokenAnswer['json'];
  } catch {
    // Not JSON: no token, and the status says why.
  }
  return { status: res.statusCode, json };
}
