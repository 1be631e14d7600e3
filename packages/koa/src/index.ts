import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGateway, type Gateway, type GatewayContext, type GatewayOptions } from '@llmux/core';
import { abortLinkFor, bodyFor, gatewayPath, MountPoints, refusedRequest } from '@llmux/core/node';
import { respond } from './respond.js';

/** The parts of Koa's context we use; typed structurally so Koa 2 and 3 both fit. */
export interface KoaLikeContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: string;
  /** Koa's request; a body parser such as `@koa/bodyparser` sets its `body`. */
  request: object;
  status: number;
  body: unknown;
  set(headers: Record<string, string>): void;
  /** Set by `koa-mount` to the prefix it stripped from `url` (and left set once it put `url` back). */
  mountPath?: string;
  /** The URL as it arrived, before any mount stripped a prefix. */
  originalUrl?: string;
}

export interface KoaGatewayOptions<Ctx extends KoaLikeContext = KoaLikeContext> extends Omit<GatewayOptions, 'identify'> {
  /** Maps the app's own context (`ctx.state.user`, …) to budget and limit scopes. Default: none. */
  identify?: (ctx: Ctx) => GatewayContext | undefined | Promise<GatewayContext | undefined>;
}

export interface GatewayMiddleware<Ctx extends KoaLikeContext = KoaLikeContext> {
  (ctx: Ctx, next: () => Promise<unknown>): Promise<void>;
  /** The core gateway, for direct calls and tests. */
  readonly gateway: Gateway;
  /** Lets in-flight requests finish (up to the deadline), then frees sockets and the store. */
  close(deadlineMs?: number): Promise<void>;
  /**
   * For apps whose body parser must run before the gateway: `app.use(llm.errors)` ahead of the parser
   * wraps it, and the parser's refusal of a gateway request (malformed JSON, over its limit) gets the
   * gateway's OpenAI-shaped 400/413 instead of Koa's plain text. Every other error goes on.
   */
  readonly errors: (ctx: Ctx, next: () => Promise<unknown>) => Promise<void>;
}

/**
 * `app.use(gatewayMiddleware(options))` serves the gateway under `basePath` (default `/llm`) and
 * passes every other request to `next()`. Works with or without a body parser before it, and under
 * `koa-mount`. It only sets `ctx.status`, headers and `ctx.body`, so Koa's own response handling
 * (and any middleware wrapping it) stays in charge. Koa 3 pipes stream bodies with `pipeline`, so a
 * client that leaves mid-stream reaches `app.on('error')` as `ERR_STREAM_PREMATURE_CLOSE`.
 */
export function gatewayMiddleware<Ctx extends KoaLikeContext = KoaLikeContext>(
  options: KoaGatewayOptions<Ctx> = {},
): GatewayMiddleware<Ctx> {
  const { identify, ...gatewayOptions } = options;
  const gateway = createGateway(gatewayOptions);
  const basePath = options.basePath ?? '/llm';

  // koa-mount restores `url` when its middleware calls `next()` but leaves `mountPath` set: only a URL
  // that differs from the original one was stripped.
  const mountedAt = (ctx: Ctx) => (ctx.originalUrl !== undefined && ctx.url === ctx.originalUrl ? '' : (ctx.mountPath ?? ''));
  const mounts = new MountPoints(basePath);

  const middleware = (async (ctx: Ctx, next: () => Promise<unknown>) => {
    const at = mountedAt(ctx);
    const path = gatewayPath(ctx.url, basePath, at);
    if (path === undefined) return void (await next());
    mounts.note(at);
    // Linked before `identify`: a client that leaves while it runs (a session lookup) must stop the call.
    const signal = abortLinkFor(ctx.res, { untilAnswered: true });
    const context = identify ? await identify(ctx) : undefined;
    const { req } = ctx;
    // `abortLinkFor` only listens to `close`; nothing here writes to `ctx.res`.
    const body = bodyFor(req, (ctx.request as { body?: unknown }).body);
    respond(ctx, await gateway.handle({ method: req.method ?? 'GET', path, headers: req.headers, body, signal }, context), signal);
  }) as GatewayMiddleware<Ctx>;

  const errors = async (ctx: Ctx, next: () => Promise<unknown>) => {
    try {
      await next();
    } catch (err) {
      const at = mountedAt(ctx);
      // At the app's root, ahead of the parser, the URL is whole: the mounts the gateway was served under say.
      const path = at ? gatewayPath(ctx.url, basePath, at) : mounts.pathFor(ctx.url);
      const refused = path === undefined ? undefined : refusedRequest(err, ctx.req, ctx.res, path);
      if (!refused) throw err;
      respond(ctx, await gateway.handle(refused), refused.signal);
    }
  };

  Object.defineProperty(middleware, 'gateway', { value: gateway });
  Object.defineProperty(middleware, 'errors', { value: errors });
  middleware.close = (deadlineMs) => (mounts.forget(), gateway.close(deadlineMs));
  return middleware;
}

export type { GatewayContext, GatewayOptions } from '@llmux/core';
