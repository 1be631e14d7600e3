import { matchRoute } from '../http/routes.js';

/**
 * The path relative to the gateway's mount point, or undefined when the request is not for the gateway.
 * Works both for `app.use(mw)` (the URL still starts with `basePath`) and `app.use('/llm', mw)`
 * (the framework stripped the mount, and `mountedAt` is what it stripped).
 */
export function gatewayPath(url: string, basePath: string, mountedAt = ''): string | undefined {
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
