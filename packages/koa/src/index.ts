import { Readable } from 'node:stream';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGateway, type Gateway, type GatewayContext, type GatewayOptions } from '@llmux/core';
import { abortLinkFor, addTrailers, bodyFor, gatewayPath, jsonText, markAnswering } from '@llmux/core/node';

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
  /** Set by `koa-mount` to the prefix it stripped from `url`. */
  mountPath?: string;
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
}

const isAsyncIterable = (v: unknown): v is AsyncIterable<Uint8Array | string> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/**
 * A stream body as a byte-mode Readable Koa can pipe, with backpressure; destroyed when the client
 * leaves, which ends the gateway's iterator. After the last chunk come the trailers (`x-llmux-cost`,
 * known only then), added before Koa ends the response. Pulls with `next().then` rather than
 * `Readable.from`, whose async reading loop around the gateway's generators made V8 promote each
 * stream's objects to the old generation (see `stream/hold-back.ts`).
 */
class BodyReadable extends Readable {
  private readonly source: AsyncIterator<Uint8Array | string>;

  constructor(
    body: AsyncIterable<Uint8Array | string>,
    private readonly res: ServerResponse,
    private readonly trailers: (() => Record<string, string>) | undefined,
  ) {
    super();
    this.source = body[Symbol.asyncIterator]();
  }

  override _read(): void {
    this.source.next().then(
      (step) => {
        if (!step.done) {
          // Koa 2 only sends Buffers as bytes.
          const v = step.value;
          this.push(typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength));
          return;
        }
        if (this.trailers) addTrailers(this.res, this.trailers);
        this.push(null);
      },
      (error: Error) => this.destroy(error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const stop = this.source.return?.();
    if (stop) stop.then(() => callback(error), () => callback(error));
    else callback(error);
  }
}

/** What Koa should send. Koa 2 only sends Buffers as bytes (a plain Uint8Array would be JSON-encoded). */
function koaBody(body: unknown, res: ServerResponse, trailers?: () => Record<string, string>): unknown {
  if (isAsyncIterable(body)) return new BodyReadable(body, res, trailers);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return body ?? '';
}

/** A JSON answer goes out as the upstream's own text when unchanged, not re-serialised by Koa. */
function isJsonObject(body: unknown): boolean {
  return typeof body === 'object' && body !== null && !(body instanceof Uint8Array) && !isAsyncIterable(body);
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

  const middleware = (async (ctx: Ctx, next: () => Promise<unknown>) => {
    const path = gatewayPath(ctx.url, basePath, ctx.mountPath ?? '');
    if (path === undefined) return void (await next());
    const context = identify ? await identify(ctx) : undefined;
    const { req, res } = ctx;
    const response = await gateway.handle(
      // `abortLinkFor` only listens to `close`; nothing here writes to `ctx.res`.
      { method: req.method ?? 'GET', path, headers: req.headers, body: bodyFor(req, (ctx.request as { body?: unknown }).body), signal: abortLinkFor(res, { untilAnswered: true }) },
      context,
    );
    // From here Koa ends the response with the gateway's answer; ended earlier, the host answered.
    markAnswering(res);
    ctx.status = response.status;
    // Headers before the body: Koa would otherwise pick its own content type for it.
    ctx.set(response.headers);
    if (isJsonObject(response.body)) {
      if (!response.headers['content-type']) ctx.set({ 'content-type': 'application/json; charset=utf-8' });
      ctx.body = jsonText(response.body);
    } else ctx.body = koaBody(response.body, res, response.trailers);
  }) as GatewayMiddleware<Ctx>;
  Object.defineProperty(middleware, 'gateway', { value: gateway });
  middleware.close = (deadlineMs) => gateway.close(deadlineMs);
  return middleware;
}

export type { GatewayContext, GatewayOptions } from '@llmux/core';
