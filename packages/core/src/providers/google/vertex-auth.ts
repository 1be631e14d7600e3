import { GatewayError } from '../../errors.js';
import { bytesToBase64, utf8Bytes } from '../../http/bytes.js';
import type { CallContext } from '../types.js';
import { postTokenRequest } from './token-request.js';

/**
 * Vertex AI wants a short-lived OAuth token. A static `api_key` token expires within the hour, so a
 * target may instead carry Portkey's `vertex_service_account_json` (the key file Google issues); the
 * gateway then signs a JWT (RS256, WebCrypto) and trades it for a token, cached until shortly before
 * it expires. https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */

export interface ServiceAccount {
  client_email: string;
  private_key: string;
  project_id?: string;
  token_uri?: string;
}

const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Tokens live 3600 s; renewing 5 minutes early keeps a slow request from carrying an expired one. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const TOKEN_TIMEOUT_MS = 10_000;
const MAX_CACHED = 64;

const tokens = new Map<string, { token: Promise<string>; expires: number }>();
const parsed = new Map<string, ServiceAccount>();

function invalid(ctx: CallContext, message: string): GatewayError {
  const param = `${ctx.target.path}.vertex_service_account_json`;
  return new GatewayError('invalid_config', `${param}: ${message}`, { param });
}

/** The target's service account, if it has one; parsed once per distinct JSON text. */
export function serviceAccountOf(ctx: CallContext): ServiceAccount | undefined {
  const raw = ctx.target.extra.vertex_service_account_json;
  if (raw === undefined || raw === null || raw === '') return undefined;
  const key = typeof raw === 'string' ? raw : JSON.stringify(raw);
  let sa = parsed.get(key);
  if (!sa) {
    let value: unknown = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        throw invalid(ctx, 'is not valid JSON');
      }
    }
    const v = value as Partial<ServiceAccount> | null;
    if (typeof v?.client_email !== 'string' || typeof v.private_key !== 'string' || !v.private_key.includes('PRIVATE KEY')) {
      throw invalid(ctx, 'needs client_email and private_key (the JSON key file of a service account)');
    }
    sa = v as ServiceAccount;
    if (parsed.size >= MAX_CACHED) parsed.clear();
    parsed.set(key, sa);
  }
  return sa;
}

/**
 * The token endpoint is Google's. Another one is accepted only on the target's own host: the server's,
 * or a client's `custom_host`, which the SSRF guard has judged by then (token-request.ts connects under
 * that judgement), so a client-supplied key file cannot make the gateway post to an arbitrary address.
 */
function tokenUri(sa: ServiceAccount, ctx: CallContext): string {
  const uri = sa.token_uri ?? GOOGLE_TOKEN_URI;
  if (uri === GOOGLE_TOKEN_URI) return uri;
  let origin: string;
  try {
    origin = new URL(uri).origin;
  } catch {
    throw invalid(ctx, `token_uri "${uri}" is not a URL`);
  }
  if (origin !== new URL(ctx.target.baseURL.replace('{vertex_region}', 'x')).origin) {
    throw invalid(ctx, `token_uri must be ${GOOGLE_TOKEN_URI} (or on the target's custom_host)`);
  }
  return uri;
}

const base64url = (bytes: Uint8Array | string): string =>
  bytesToBase64(typeof bytes === 'string' ? utf8Bytes(bytes) : bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
}

type SigningKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

const signingKeys = new Map<string, Promise<SigningKey>>();

/**
 * The service account's key, imported once per distinct key text. A key WebCrypto cannot read (bad
 * base64, a truncated PKCS#8 body) is the config's fault: reported naming the setting, not as a 500.
 */
function signingKey(sa: ServiceAccount, ctx: CallContext): Promise<SigningKey> {
  let key = signingKeys.get(sa.private_key);
  if (!key) {
    key = (async () => {
      try {
        return await crypto.subtle.importKey('pkcs8', pemToDer(sa.private_key), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
      } catch {
        throw invalid(ctx, 'private_key is not a usable PKCS#8 RSA key (bad base64 or a truncated key)');
      }
    })();
    if (signingKeys.size >= MAX_CACHED) signingKeys.clear();
    signingKeys.set(sa.private_key, key);
    // A failed import is not kept: its error names the target path of the request that hit it.
    const failed = key;
    failed.catch(() => signingKeys.get(sa.private_key) === failed && signingKeys.delete(sa.private_key));
  }
  return key;
}

async function signedAssertion(sa: ServiceAccount, key: SigningKey, audience: string, now: number): Promise<string> {
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const iat = Math.floor(now / 1000);
  const claims = base64url(JSON.stringify({ iss: sa.client_email, scope: SCOPE, aud: audience, iat, exp: iat + 3600 }));
  const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, new TextEncoder().encode(`${header}.${claims}`));
  return `${header}.${claims}.${base64url(new Uint8Array(signature))}`;
}

async function fetchToken(sa: ServiceAccount, uri: string, ctx: CallContext): Promise<{ token: string; expiresIn: number }> {
  const provider = ctx.target.provider;
  // An endpoint on a host the client chose may be anything: what it answers never reaches the client.
  const clientChosen = ctx.target.clientHost === true && uri !== GOOGLE_TOKEN_URI;
  const param = `${ctx.target.path}.vertex_service_account_json.token_uri`;
  const assertion = await signedAssertion(sa, await signingKey(sa, ctx), uri, Date.now());
  const form = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString();
  let res;
  try {
    res = await postTokenRequest(uri, form, ctx.target, clientChosen, param, TOKEN_TIMEOUT_MS);
  } catch (e) {
    if (e instanceof GatewayError) throw e;
    throw new GatewayError('network_error', `${provider} could not reach the token endpoint: ${e instanceof Error ? e.message : String(e)}`, { provider, source: 'provider' });
  }
  const { status, json } = res;
  const ok = status >= 200 && status < 300;
  if (!ok || typeof json.access_token !== 'string' || !json.access_token) {
    const redirect = status >= 300 && status < 400;
    const why = redirect ? `HTTP ${status}, a redirect (not followed)` : clientChosen ? `HTTP ${status}` : (json.error_description ?? json.error ?? `HTTP ${status}`);
    throw new GatewayError('provider_error', `${provider}: the token endpoint refused a token for ${sa.client_email}: ${why}`, {
      provider,
      source: 'provider',
      status: 401,
      type: 'authentication_error',
      providerCode: clientChosen || typeof json.error !== 'string' ? null : json.error,
    });
  }
  return { token: json.access_token, expiresIn: typeof json.expires_in === 'number' ? json.expires_in : 3600 };
}

/** The Bearer token for a Vertex call: the target's `api_key`, or one minted from its service account. */
export async function vertexToken(ctx: CallContext): Promise<string | undefined> {
  if (ctx.target.apiKey) return ctx.target.apiKey;
  const sa = serviceAccountOf(ctx);
  if (!sa) return undefined;
  const uri = tokenUri(sa, ctx);
  // The key itself is part of the cache key: another caller naming the same account must not get its token.
  const cacheKey = `${sa.client_email}\n${uri}\n${sa.private_key}`;
  const now = Date.now();
  const cached = tokens.get(cacheKey);
  if (cached && cached.expires > now) return cached.token;
  if (tokens.size >= MAX_CACHED) tokens.clear();
  // Concurrent requests share one exchange; a failed one is forgotten so the next request retries.
  const entry = { token: Promise.resolve(''), expires: Number.POSITIVE_INFINITY };
  entry.token = fetchToken(sa, uri, ctx).then(
    ({ token, expiresIn }) => {
      entry.expires = Date.now() + expiresIn * 1000 - REFRESH_MARGIN_MS;
      return token;
    },
    (e) => {
      if (tokens.get(cacheKey) === entry) tokens.delete(cacheKey);
      throw e;
    },
  );
  tokens.set(cacheKey, entry);
  return entry.token;
}
