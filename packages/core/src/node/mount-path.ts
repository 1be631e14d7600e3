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

/**
 * Where a host app mounted the gateway, learnt from the requests it served (Express's `req.baseUrl`,
 * koa-mount's `ctx.mountPath`), so an error handler at the app's root — ahead of a body parser that
 * refused a request before the gateway ever saw it — can tell a request for the gateway by its full
 * URL. A mount with parameters (`/t/:tenant`) shows up as many prefixes, and one never served yet as
 * none: those fall back to the URL below the first `basePath` in it.
 */
export class MountPoints {
  private readonly seen = new Set<string>();
  /** Every gateway's mount points in the process, weakly: a closed gateway's go with it. */
  private static readonly live = new Set<WeakRef<MountPoints>>();

  constructor(private readonly basePath: string) {
    MountPoints.live.add(new WeakRef(this));
  }

  /** Notes the prefix the framework stripped before the gateway's middleware ran ('' for none). */
  note(mountedAt: string): void {
    // Bounded: prefixes of a parameterised mount would otherwise grow with every tenant.
    if (this.seen.size < 16) this.seen.add(mountedAt);
  }

  /** The path below the gateway's mount for a full URL seen at the app's root, or undefined. */
  pathFor(url: string): string | undefined {
    const served = this.underSeen(url);
    if (served !== undefined) return served;
    const direct = gatewayPath(url, this.basePath);
    if (direct !== undefined) return direct;
    // Under none of its own mounts: a URL another gateway of the process was served under is that one's
    // (two gateways' error handlers at one root); anything else is guessed, as a parameterised mount
    // (`/t/:tenant`) shows a new prefix for every tenant.
    for (const ref of MountPoints.live) {
      const other = ref.deref();
      if (!other) MountPoints.live.delete(ref);
      else if (other !== this && other.underSeen(url) !== undefined) return undefined;
    }
    return this.belowFirstBase(originForm(url));
  }

  /** A closed gateway claims nothing any more. */
  forget(): void {
    for (const ref of MountPoints.live) if (ref.deref() === this) MountPoints.live.delete(ref);
  }

  /** The path below the gateway for a full URL under one of the mounts it was served under, or undefined. */
  private underSeen(url: string): string | undefined {
    for (const at of this.seen) {
      // The URL below that mount (a root mount, '', leaves it whole), then below `basePath` as the middleware cuts it.
      const below = gatewayPath(url, at);
      const path = below === undefined ? undefined : gatewayPath(below, this.basePath, at);
      if (path !== undefined) return path;
    }
    return undefined;
  }

  private belowFirstBase(url: string): string | undefined {
    const base = this.basePath;
    const at = base === '/' ? -1 : url.indexOf(`${base}/`);
    return at > 0 ? gatewayPath(url.slice(at), base) : undefined;
  }
}
