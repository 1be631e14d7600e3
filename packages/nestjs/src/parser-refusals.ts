import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '@llmux/core';
import { answerRefusal, originForm } from '@llmux/core/node';
import { segmentsOf } from './served-paths.js';

type ErrorHandler = (err: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** A route's mount as Express matches it: literal segments regardless of case (lower-cased here), `:` for a parameter. */
type Mount = readonly string[];

/**
 * The mount of a gateway route (`/t/:tenant/llm/{*path}` → `t`, `:`, `llm`), or undefined for a
 * path this reader does not follow (a regular-expression route), which is then never claimed.
 */
export function mountOf(routePath: string): Mount | undefined {
  const segments = routePath.slice(0, routePath.lastIndexOf('/')).split('/').filter(Boolean);
  if (segments.some((s) => /[()*?{}[\]+]/.test(s))) return undefined;
  return segments.map((s) => (s.startsWith(':') ? ':' : s.toLowerCase()));
}

/** The path below `mount` in `url` (query kept), or undefined when the URL is not under it. */
function below(url: string, mount: Mount): string | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let at = 0;
  for (const segment of mount) {
    if (path.charCodeAt(at) !== 47) return undefined;
    const next = path.indexOf('/', at + 1);
    const end = next === -1 ? path.length : next;
    const got = path.slice(at + 1, end);
    if (got === '' || (segment !== ':' && got.toLowerCase() !== segment)) return undefined;
    at = end;
  }
  const rest = url.slice(at);
  if (rest === '' || rest.startsWith('?')) return `/${rest}`;
  return rest.startsWith('/') ? rest : undefined;
}

/** Whether the mount's last segments are `tail`'s. */
const endsWith = (mount: Mount, tail: Mount) => tail.length <= mount.length && tail.every((s, i) => s === mount[mount.length - tail.length + i]);

/**
 * The mounts of the gateway's catch-all routes registered so far that end with `basePath` (a global
 * prefix, its parameters and exclusions applied) — except those that end with the longer basePath of
 * another GatewayModule in `basePaths`: `/team/llm/{*path}` is the `/team/llm` module's, not the
 * `/llm` module's under a prefix `team`, and a refusal there must reach the gateway that serves it.
 */
export function registeredMounts(app: unknown, basePath: string, wildcard: string, basePaths: readonly string[]): Mount[] {
  const express = app as { router?: { stack?: unknown[] }; _router?: { stack?: unknown[] } } | undefined;
  let stack: unknown[] = [];
  try {
    // Express 4 keeps its router at `_router` (its `router` getter throws); Express 5 at `router`.
    stack = (express?._router ?? express?.router)?.stack ?? [];
  } catch {
    // An app object of another shape: no mount is known, and refusals keep Nest's own errors.
  }
  const own = segmentsOf(basePath);
  const longer = basePaths.map(segmentsOf).filter((other) => other.length > own.length);
  const out: Mount[] = [];
  for (const layer of stack) {
    const path = (layer as { route?: { path?: unknown } }).route?.path;
    if (typeof path !== 'string' || !path.endsWith(`/${wildcard}`)) continue;
    const mount = mountOf(path);
    if (mount && endsWith(mount, own) && !longer.some((other) => endsWith(mount, other))) out.push(mount);
  }
  return out;
}

/**
 * An Express error handler placed after the routes and ahead of Nest's own exception layer: Nest's
 * body parser runs before any route, so its refusal of a gateway request (malformed JSON, over its
 * limit) would reach the client in Nest's error shape. A request under the gateway's route (as
 * registered: global prefix, its parameters and exclusions included) to a path the gateway serves
 * gets the gateway's own 400/413/415 instead — the core answers it before any route handler runs,
 * so nothing behind the app's guards is served. So does a path Express's router could not decode
 * below a basePath of the gateway's own (`ownsMount`), which Express and Koa hand to the gateway
 * undecoded. Anything else goes on to Nest.
 */
export function parserRefusals(gateway: Gateway, mounts: readonly Mount[], ownsMount: boolean): ErrorHandler {
  return (err, req, res, next) => {
    // `req.url` is relative to the Nest app, where its routes were registered (an outer app may mount it).
    const url = originForm(String(req.url));
    let path: string | undefined;
    for (const mount of mounts) if ((path = below(url, mount)) !== undefined) break;
    const answered = path === undefined ? undefined : answerRefusal(gateway, err, req, res, path, ownsMount);
    if (!answered) return next(err);
    answered.catch(() => (res.headersSent ? res.destroy() : next(err)));
  };
}
