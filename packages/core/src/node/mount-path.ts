import { matchRoute } from '../http/routes.js';

/** `scheme://authority` at the start of an absolute-form request target. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The request target in origin form. RFC 9112 §3.2.2 has servers accept the absolute form
 * (`GET http://host/llm/v1/models`), which Node leaves in `req.url`; the frameworks route it by its
 * path (parseurl), so the gateway must too, or such a request reaches the host's routes but not it.
 */
export function originForm(url: string): string {
  if (url.charCodeAt(0) === 47) return url;
  const authority = ABSOLUTE_FORM.exec(url);
  if (!authority) return url;
  const rest = url.slice(authority[0].length);
  return rest.charCodeAt(0) === 47 ? rest : `/${rest}`;
}

/**
 * The path relative to the gateway's mount point, or undefined when the request is not for the gateway.
 * Works both for `app.use(mw)` (the URL still starts with `basePath`) and `app.use('/llm', mw)`
 * (the framework stripped the mount, and `mountedAt` is what it stripped).
 */
export function gatewayPath(target: string, basePath: string, mountedAt = ''): string | undefined {
  const url = originForm(target);
  const base = basePath.length > 1 && basePath.endsWith('/') ? basePath.slice(0, -1) : basePath;
  if (base === '/' || base === '') return url;
  // Mounted at its base path, the framework already took it off: a URL that starts with it again
  // (`/llm/llm/v1/models`) is another path, not the gateway's `/v1/models`.
  // The framework matched the mount itself, ignoring case as Express does by default (`/LLM` reaches a
  // mount at `/llm`), so its spelling is compared the same way.
  if (mountedAt && (mountedAt === base || mountedAt.toLowerCase().endsWith(base.toLowerCase()))) return url;
  if (url.startsWith(base)) {
    const next = url.charCodeAt(base.length);
    // `/llm`, `/llm/…`, `/llm?…` — but not `/llmfoo`.
    if (Number.isNaN(next) || next === 47 || next === 63) return url.slice(base.length) || '/';
  }
  return undefined;
}

/**
 * Whether the gateway has a route at `path` (below its mount), for any method: the error handlers
 * that answer host parsers' refusals take only requests the gateway would have served, never a host
 * route's under a mount of `/`.
 */
export function isGatewayRoute(method: string, path: string): boolean {
  const match = matchRoute(method, path);
  return !('error' in match) || match.error === 405;
}
