import { Readable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { AbortSource, GatewayResponse } from '@llmux/core';
import { addTrailers, jsonText, markAnswering } from '@llmux/core/node';

/** What `respond` sets on Koa's context. */
interface KoaResponseContext {
  res: ServerResponse;
  status: number;
  body: unknown;
  set(headers: Record<string, string>): void;
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
  /** A `next()` is pending: the gateway's iterators take one read at a time. */
  private reading = false;

  constructor(
    body: AsyncIterable<Uint8Array | string>,
    private readonly res: ServerResponse,
    private readonly trailers: (() => Record<string, string>) | undefined,
  ) {
    super();
    this.source = body[Symbol.asyncIterator]();
  }

  override _read(): void {
    if (!this.reading) this.pull();
  }

  /**
   * Reads on at once while the consumer wants more, instead of waiting for the stream to call
   * `_read` again on a later tick: what is ready together (an upstream read's last batch, `[DONE]`)
   * then reaches the response within one tick, and Node's HTTP response, corked for the tick,
   * sends it in one socket write rather than one each.
   */
  private pull(): void {
    this.reading = true;
    this.source.next().then(
      (step) => {
        this.reading = false;
        if (step.done) {
          if (this.trailers) addTrailers(this.res, this.trailers);
          this.push(null);
          return;
        }
        // Koa 2 only sends Buffers as bytes.
        const v = step.value;
        if (this.push(typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)) && !this.destroyed) this.pull();
      },
      (error: Error) => {
        this.reading = false;
        this.destroy(error);
      },
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
 * Hands a gateway response to Koa: status, headers, then the body (JSON as the upstream's own text when
 * unchanged, streams as a Readable). Koa ends the response itself; nothing here writes to `ctx.res`.
 */
export function respond(ctx: KoaResponseContext, response: GatewayResponse, link: AbortSource | undefined): void {
  const { res } = ctx;
  // From here Koa ends the response with the gateway's answer; ended earlier, the host answered.
  markAnswering(link);
  ctx.status = response.status;
  // Headers before the body: Koa would otherwise pick its own content type for it.
  ctx.set(response.headers);
  if (isJsonObject(response.body)) {
    if (!response.headers['content-type']) ctx.set({ 'content-type': 'application/json; charset=utf-8' });
    ctx.body = jsonText(response.body);
  } else ctx.body = koaBody(response.body, res, response.trailers);
}
