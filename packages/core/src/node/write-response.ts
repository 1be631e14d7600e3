import type { ServerResponse } from 'node:http';
import { takeJsonText } from '../http/json-text.js';
import type { GatewayResponse } from '../types.js';
import type { AbortSource } from '../upstream/abort-link.js';
import { markAnswering } from './abort-signal.js';

type Flushable = ServerResponse & { flush?: () => void };

const isAsyncIterable = (v: unknown): v is AsyncIterable<Uint8Array | string> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/** Resolves when the socket drained, or when the client left (then writing stops). */
function drained(res: ServerResponse): Promise<void> {
  // Already gone: its 'close' fired before anyone listened, and waiting for it would never end.
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Adds a stream's trailers (`x-llmux-cost`, known only after its last chunk) before the response
 * ends. Trailers need chunked encoding (HTTP/1.1 without content-length); a failing producer costs
 * only the trailers. For adapters whose framework ends the response itself (Koa).
 */
export function addTrailers(res: ServerResponse, produce: () => Record<string, string>): void {
  try {
    const trailers = produce();
    if (Object.keys(trailers).length && res.chunkedEncoding !== false && !res.hasHeader('content-length')) res.addTrailers(trailers);
  } catch {
    // Trailers are extra facts; the body already went out complete.
  }
}

/**
 * A JSON body as the text to send: the upstream's own bytes when nothing changed them (see
 * `http/json-text.ts`), else serialised. For adapters whose framework writes the response itself.
 */
export function jsonText(body: unknown): string {
  return takeJsonText(body) ?? JSON.stringify(body);
}

/**
 * While a stream is written, a host that ends the response (a timeout interceptor or middleware firing
 * mid-stream) would close it as if complete — and SSE clients take a clean end for the whole answer,
 * so they would keep half of it without a word. Its `end` cuts the connection instead, which every
 * client reports as an error. Returns what puts the host's `end` back.
 */
function cutInsteadOfEnd(res: ServerResponse): () => void {
  const end = res.end;
  res.end = function cut(this: ServerResponse) {
    res.destroy();
    return this;
  } as ServerResponse['end'];
  // Put back by assignment even when `end` was the prototype's: `delete` on a response that gained
  // properties since turns it into a slow dictionary-mode object (~9 µs a stream in a CPU profile on Node 20).
  return () => {
    res.end = end;
  };
}

/**
 * Writes a gateway response to Node's `ServerResponse`: JSON and bytes in one `end`, streams chunk by
 * chunk honouring backpressure, flushing compression middleware after each chunk so SSE is not held
 * back, and stopping the source as soon as the client is gone. `link` is the request's signal from
 * `abortLinkFor(res, { untilAnswered: true })`: the writer marks it answering as it ends the response
 * (see `markAnswering`), so the response closing then is no sign of the host having answered first.
 */
export async function writeResponse(res: ServerResponse, response: GatewayResponse, link?: AbortSource): Promise<void> {
  const { status, headers, body } = response;
  if (res.headersSent || res.writableEnded) {
    // The host answered first (a timeout): writing would throw, and a stream left unread holds its upstream.
    if (isAsyncIterable(body)) await body[Symbol.asyncIterator]().return?.(undefined);
    return;
  }
  if (!isAsyncIterable(body)) {
    // An answer the upstream sent and nothing changed leaves as the upstream's own text (json-text.ts).
    const payload =
      typeof body === 'string' || body instanceof Uint8Array ? body : body === undefined ? '' : jsonText(body);
    if (!headers['content-type']) res.setHeader('content-type', typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json');
    for (const name in headers) res.setHeader(name, headers[name]!);
    res.statusCode = status;
    res.setHeader('content-length', typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength);
    markAnswering(link);
    res.end(payload);
    return;
  }
  res.statusCode = status;
  for (const name in headers) res.setHeader(name, headers[name]!);
  // No flushHeaders(): a stream's first batch is ready when its headers are (the pipeline holds the
  // stream back until the first content token), so they leave together in one write.
  const flush = (res as Flushable).flush;
  const iterator = body[Symbol.asyncIterator]();
  let complete = false;
  const restoreEnd = cutInsteadOfEnd(res);
  try {
    for (;;) {
      if (res.destroyed) break;
      const next = await iterator.next();
      if (next.done) {
        complete = true;
        break;
      }
      // Ended by the host meanwhile (a timeout interceptor): a write now emits an 'error' nobody handles.
      if (res.writableEnded) break;
      if (!res.write(next.value)) {
        // A write to a response whose client left returns false too: stop rather than wait.
        if (res.destroyed) break;
        await drained(res);
      }
      flush?.call(res);
    }
  } finally {
    restoreEnd();
    // Ends the source (and with it the upstream call) when we stopped early.
    await iterator.return?.(undefined);
    if (complete && response.trailers && !res.destroyed && !res.writableEnded) addTrailers(res, response.trailers);
    if (!res.destroyed && !res.writableEnded) {
      markAnswering(link);
      res.end();
    }
  }
}
