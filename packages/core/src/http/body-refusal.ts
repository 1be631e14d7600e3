import { GatewayError } from '../errors.js';

/**
 * Marks a request body a host's parser refused (see `bodyRefusedBy` in `@llmux/core/node`). A
 * registry symbol, so the ESM and CJS builds of the package agree on it.
 */
export const BODY_REFUSAL = Symbol.for('llmux.body-refusal');

/** The refusal a request body carries, if it is one. */
export function refusalOf(body: unknown): GatewayError | undefined {
  return typeof body === 'object' && body !== null ? ((body as { [BODY_REFUSAL]?: GatewayError })[BODY_REFUSAL] ?? undefined) : undefined;
}

/**
 * Refusals sent while the client may still be sending the body also close the connection (RFC 9110
 * §15.5.14): kept alive, Node would read the rest of it to reach the next request — without end for
 * a client that never stops.
 */
const CLOSE = 'close';

/** A 413 for a body over a limit, declared or counted. */
export function payloadTooLarge(message: string): GatewayError {
  return new GatewayError('payload_too_large', message, { param: 'body', headers: { connection: CLOSE } });
}

/** A 415 for a `Content-Encoding` the gateway cannot undo; the body is left unread. */
export function unsupportedEncoding(encoding: string): GatewayError {
  return new GatewayError('unsupported_media_type', `request body has Content-Encoding "${encoding}", which cannot be decoded; send it as gzip, deflate, br or identity`, {
    param: 'content-encoding',
    headers: { connection: CLOSE },
  });
}

/** A 400 for a compressed body that does not inflate. */
export function undecompressable(e: unknown): GatewayError {
  const said = typeof (e as { message?: unknown }).message === 'string' ? `: ${(e as { message: string }).message}` : '';
  return new GatewayError('invalid_request', `request body could not be decompressed${said}`, { param: 'body', headers: { connection: CLOSE }, cause: e });
}

/**
 * zlib's codes for input that does not inflate. A brotli decoder's own are `ERR_` and its error's
 * name (`ERR__ERROR_FORMAT_PADDING_2`); `ERR_BROTLI_…` are its setup failures.
 */
const DECOMPRESSION_CODE = /^(?:Z_DATA_ERROR|Z_BUF_ERROR|ERR_BROTLI|ERR__ERROR_)/;

/**
 * Whether `e` is zlib's failure to inflate (gzip, deflate, brotli), or carries one as its `cause`:
 * a corrupt body, not a client gone or a gateway fault. Told by `code`, so nothing here loads `node:zlib`.
 */
export function isDecompressionError(e: unknown, depth = 0): boolean {
  if (typeof e !== 'object' || e === null || depth > 3) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && DECOMPRESSION_CODE.test(code)) return true;
  return isDecompressionError((e as { cause?: unknown }).cause, depth + 1);
}

/**
 * Bodies already decoded from their Content-Encoding (`bodyFor` in `@llmux/core/node`, or any reader
 * that registers its own): a raw body whose headers name an encoding and that is not among them
 * reached `handle()` still compressed.
 */
export const decodedBodies = new WeakSet<object>();
