import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { decodedBodies, unsupportedEncoding } from '../http/body-refusal.js';
import { contentEncoding } from '../http/headers.js';

/**
 * The request body as the core wants it: whatever a body parser produced when one consumed the
 * stream (used as is — no re-serialising), else the unread stream itself, which the core reads
 * under its size limit — inflated first when it came compressed, as body parsers do. A parser that
 * skipped a request (wrong content type) leaves the stream unread, so its placeholder `{}` is ignored.
 */
export function bodyFor(req: IncomingMessage, parsed: unknown): unknown {
  // body-parser's own mark first: a plain field, where `readableEnded` is a getter (slow to reach on
  // Express's requests, which each get a hidden class of their own).
  const consumed = (req as { _body?: boolean })._body === true || req.readableEnded;
  if (consumed) return parsed;
  const encoding = contentEncoding(req.headers);
  return encoding === undefined ? req : decoded(req, encoding);
}

const decoders: Record<string, () => Transform> = {
  gzip: createGunzip,
  // RFC 9110 §8.4.1.3: x-gzip is gzip.
  'x-gzip': createGunzip,
  // HTTP's deflate is the zlib format (RFC 9110 §8.4.1.2), as body-parser and co-body read it.
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * `req` through the decoder of its encoding, which the core counts against `maxBodyBytes` as it
 * inflates — a zip bomb is a 413, not gigabytes in memory. An encoding without a decoder (or
 * several stacked) reads as a 415 naming it.
 */
function decoded(req: IncomingMessage, encoding: string): AsyncIterable<Uint8Array> {
  const make = decoders[encoding];
  if (!make) return refused(encoding);
  const decoder = make();
  const gone = () => new Error('the body closed before its end');
  // Left during `identify`: its 'close' came before anyone listened.
  if (req.destroyed && !req.complete) return decoder.destroy(gone());
  // `pipe`, not `pipeline`: a decoder that fails (a corrupt body) must leave the request, and with it
  // the socket the 400 goes out on, alive; a decoder destroyed past the limit unpipes the request,
  // which then pauses.
  req.pipe(decoder);
  // `pipe` does not pass on a request cut short: the decoder would wait for an end that never comes.
  const stop = () => {
    req.off('close', onClose);
    req.off('error', onError);
  };
  const onClose = () => {
    stop();
    if (!req.complete && !decoder.destroyed) decoder.destroy(gone());
  };
  const onError = (e: Error) => {
    stop();
    if (!decoder.destroyed) decoder.destroy(e);
  };
  req.on('close', onClose);
  req.on('error', onError);
  decodedBodies.add(decoder);
  return decoder;
}

/** A body whose first read fails with the 415: the core answers it as it answers any unreadable body. */
function refused(encoding: string): AsyncIterable<Uint8Array> {
  const body = {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(unsupportedEncoding(encoding)) }),
  };
  decodedBodies.add(body);
  return body;
}
