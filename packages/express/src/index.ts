import { createGateway, type Gateway, type GatewayContext, type GatewayOptions } from '@llmux/core';
import { abortLinkFor, answerRefusal, bodyFor, gatewayPath, MountPoints, writeResponse } from '@llmux/core/node';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The parts of Express's request we use; typed structurally so Express 4 and 5 both fit. */
export interface ExpressLikeRequest extends IncomingMessage {
  url: string;
  baseUrl?: string;
  originalUrl?: string;
  body?: unknown;
}

export interface ExpressGatewayOptions<Req extends ExpressLikeRequest = ExpressLikeRequest> extends Omit<GatewayOptions, 'identify'> {
  /** Maps the app's own request (its authenticated user, team…) to budget and limit scopes. */
  identify?: (req: Req) => GatewayContext | undefined | Promise<GatewayContext | undefined>;
}

export interface GatewayMiddleware<Req extends ExpressLikeRequest = ExpressLikeRequest> {
  (req: Req, res: ServerResponse, next: (err?: unknown) => void): void;
  /** The core gateway, for direct calls and tests. */
  readonly gateway: Gateway;
  /** Lets in-flight streams finish (up to the deadline), then frees sockets and the store. */
  close(deadlineMs?: number): Promise<void>;
  /**
   * An error handler for apps that mount the gateway behind `express.json()`: `app.use(llm.errors)`
   * after it turns the parser's refusal of a gateway request (malformed JSON, over its limit) into
   * the gateway's OpenAI-shaped 400/413 instead of Express's error page. Every other error goes on.
   */
  readonly errors: (err: unknown, req: Req, res: ServerResponse, next: (err?: unknown) => void) => void;
}

/**
 * `app.use(gatewayMiddleware(options))` serves the gateway under `basePath` (default `/llm`) and
 * passes every other request to `next()`. Works with or without `express.json()` before it.
 */
export function gatewayMiddleware<Req extends ExpressLikeRequest = ExpressLikeRequest>(
  options: ExpressGatewayOptions<Req> = {},
): GatewayMiddleware<Req> {
  const { identify, ...gatewayOptions } = options;
  const gateway = createGateway(gatewayOptions);
  const basePath = options.basePath ?? '/llm';

  async function serve(req: Req, res: ServerResponse, path: string): Promise<void> {
    // Linked before `identify`: a client that leaves while it runs (a session lookup) must stop the call.
    const signal = abortLinkFor(res, { untilAnswered: true });
    const context = identify ? await identify(req) : undefined;
    const response = await gateway.handle({ method: req.method ?? 'GET', path, headers: req.headers, body: bodyFor(req, req.body), signal }, context);
    await writeResponse(res, response, signal);
  }

  // Express 4 ignores rejected promises; errors must reach `next` ourselves.
  const settle = (work: Promise<void>, res: ServerResponse, next: (err?: unknown) => void) =>
    void work.catch((err) => (res.headersSent ? res.destroy(err) : next(err)));
  const pathOf = (req: Req) => gatewayPath(String(req.url), basePath, String(req.baseUrl ?? ''));
  // Where the app mounted the gateway (`req.baseUrl` of requests it served): a parser error reaches
  // `errors` wherever that is mounted, often the root, and only the full URL says if it was ours.
  const mounts = new MountPoints(basePath);

  const middleware = ((req: Req, res: ServerResponse, next: (err?: unknown) => void) => {
    const path = pathOf(req);
    if (path === undefined) return next();
    mounts.note(String(req.baseUrl ?? ''));
    settle(serve(req, res, path), res, next);
  }) as GatewayMiddleware<Req>;
  // Mounted beside the gateway, as the README shows, the request's own path says; at the root with the
  // gateway under a prefix, the mounts it was served under (or the URL below the first `basePath`).
  const refusedPath = (req: Req): string | undefined => pathOf(req) ?? mounts.pathFor(String(req.originalUrl ?? req.url));
  const errors = (err: unknown, req: Req, res: ServerResponse, next: (err?: unknown) => void) => {
    const path = refusedPath(req);
    const answered = path === undefined ? undefined : answerRefusal(gateway, err, req, res, path);
    if (!answered) return next(err);
    settle(answered, res, () => next(err));
  };
  Object.defineProperty(middleware, 'gateway', { value: gateway });
  Object.defineProperty(middleware, 'errors', { value: errors });
  middleware.close = (deadlineMs) => (mounts.forget(), gateway.close(deadlineMs));
  return middleware;
}

export type { GatewayContext, GatewayOptions } from '@llmux/core';
