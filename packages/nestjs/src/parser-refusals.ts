import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '@llmux/core';
import { abortLinkFor, bodyRefusedBy, gatewayPath, writeResponse } from '@llmux/core/node';

type ErrorHandler = (err: unknown, req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The URL prefixes (global prefix, parameters filled in, and basePath) each gateway's route was reached under. */
const mounts = new WeakMap<Gateway, Set<string>>();

/** Called for each request the controller serves: the URL above the gateway's own path is a mount. */
export function rememberMount(gateway: Gateway, url: string, below: string): void {
  if (!url.endsWith(below)) return;
  let known = mounts.get(gateway);
  if (!known) mounts.set(gateway, (known = new Set()));
  if (known.size < 16) known.add(url.slice(0, url.length - below.length));
}

/**
 * An Express error handler placed after the routes and ahead of Nest's own exception layer: Nest's
 * body parser runs before any route, so its refusal of a gateway request (malformed JSON, over its
 * limit) would reach the client in Nest's error shape. On a gateway route it gets the gateway's own
 * 400/413/415 instead (OpenAI shape, Anthropic's on /v1/messages, a trace id, a log record); anything
 * else goes on to Nest. `guess` is the mount before any request was served (global prefix + basePath).
 */
export function parserRefusals(gateway: Gateway, guess: () => string | undefined): ErrorHandler {
  const pathOf = (url: string): string | undefined => {
    const known = mounts.get(gateway);
    for (const mount of known?.size ? known : [guess()]) {
      if (mount === undefined) continue;
      const path = gatewayPath(url, mount === '' ? '/' : mount);
      if (path !== undefined) return path;
    }
    return undefined;
  };
  return (err, req, res, next) => {
    const body = res.headersSent ? undefined : bodyRefusedBy(err);
    const path = body && pathOf(String(req.originalUrl ?? req.url));
    if (!body || path === undefined) return next(err);
    // No `identify`: the guards it may rely on never ran for a request refused before routing.
    gateway
      .handle({ method: req.method ?? 'POST', path, headers: req.headers, body, signal: abortLinkFor(res, { untilAnswered: true }) })
      .then((response) => writeResponse(res, response))
      .catch(() => (res.headersSent ? res.destroy() : next(err)));
  };
}
