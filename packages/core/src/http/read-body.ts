import { GatewayError } from '../errors.js';
import { decodedBodies, isDecompressionError, payloadTooLarge, undecompressable } from './body-refusal.js';
import { readAllText, utf8 } from './bytes.js';
import { contentEncoding, header } from './headers.js';
import { nestsDeeper } from './json-depth.js';
import { rememberJsonText } from './json-text.js';

const tooLarge = (limit: number): GatewayError => payloadTooLarge(`request body exceeds ${limit} bytes`);

function parse(text: string): unknown {
  if (text.trim() === '') throw new GatewayError('invalid_json', 'request body is empty; expected a JSON object', { param: 'body' });
  try {
    const value: unknown = JSON.parse(text);
    // Sent on unchanged when nothing about the request needs it rewritten (see json-text.ts).
    rememberJsonText(value, text);
    return value;
  } catch (e) {
    throw new GatewayError('invalid_json', `request body is not valid JSON: ${(e as Error).message}`, { param: 'body' });
  }
}

const isAsyncIterable = (v: unknown): v is AsyncIterable<Uint8Array> =>
  typeof v === 'object' && v !== null && Symbol.asyncIterator in v;

/**
 * A body a parser already turned into an object is used as is — re-serialising it would cost
 * what the host app already paid. Raw bodies are read up to `limit`.
 */
export async function readJsonBody(body: unknown, limit: number, headers?: Record<string, string | string[] | undefined>): Promise<unknown> {
  if (body === undefined || body === null) throw new GatewayError('invalid_json', 'request body is missing; expected a JSON object', { param: 'body' });
  if (headers && isRaw(body) && stillEncoded(body, headers)) {
    const encoding = contentEncoding(headers);
    throw new GatewayError(
      'unsupported_media_type',
      `request body has Content-Encoding "${encoding}" and reached the gateway undecoded; pass bodyFor(req) from @llmux/core/node as the body (it inflates gzip, deflate and br under the size limit)`,
      { param: 'content-encoding' },
    );
  }
  if (headers && (body instanceof Uint8Array || isAsyncIterable(body))) checkCharset(headers, body instanceof Uint8Array);
  if (typeof body === 'string') {
    if (body.length > limit) throw tooLarge(limit);
    return parse(body);
  }
  if (body instanceof Uint8Array) {
    if (body.byteLength > limit) throw tooLarge(limit);
    return parse(utf8.decode(body));
  }
  if (isAsyncIterable(body)) return parse(await readRaw(body, limit));
  if (headers && !sizeKnown(headers)) checkParsedSize(body, limit);
  return body;
}

/** The `charset` parameter of a Content-Type, bare or quoted. */
const CHARSET = /;\s*charset\s*=\s*("([^"]*)"|([^;\s]*))/i;

/**
 * Raw bytes are decoded as UTF-8, so bytes declared in another charset would reach the provider with
 * replacement characters in place of their text: refused, as body-parser refuses a charset it cannot
 * decode (`charset.unsupported` in `node/parser-refusals.ts`), before anything is read. A string body
 * was decoded already, by whoever read it, in the charset it declared.
 */
function checkCharset(headers: Record<string, string | string[] | undefined>, read: boolean): void {
  const type = header(headers, 'content-type');
  const given = type === undefined ? undefined : CHARSET.exec(type);
  if (!given) return;
  const charset = given[2] ?? given[3] ?? '';
  const name = charset.trim().toLowerCase();
  // An empty `charset=` says nothing: read as UTF-8, as body-parser does.
  if (name === '' || name === 'utf-8' || name === 'utf8') return;
  throw new GatewayError('unsupported_media_type', `request body cannot be read: unsupported charset "${charset.toUpperCase()}"`, {
    param: 'content-type',
    // Left unread, the rest of the body would be read to reach the next request on the connection.
    ...(read ? {} : { headers: { connection: 'close' } }),
  });
}

const isRaw = (body: unknown) => typeof body === 'string' || body instanceof Uint8Array || isAsyncIterable(body);

/**
 * A body whose headers name an encoding and that nothing decoded: an unread stream `bodyFor` did not
 * inflate, or text or bytes that do not start as JSON does. A host parser (`express.raw()`,
 * `express.text()`) inflates as it reads and leaves the header behind, so its output starts with `{`.
 */
function stillEncoded(body: unknown, headers: Record<string, string | string[] | undefined>): boolean {
  if (contentEncoding(headers) === undefined) return false;
  if (typeof body === 'string') return !startsAsJson((i) => body.charCodeAt(i), body.length);
  if (body instanceof Uint8Array) return !startsAsJson((i) => body[i]!, body.length);
  return !decodedBodies.has(body as object);
}

/** Whether the first character past whitespace opens a JSON object or array. */
function startsAsJson(at: (i: number) => number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    const c = at(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xfeff) continue;
    return c === 0x7b || c === 0x5b;
  }
  return true;
}

/** Whether the body's size was checked on arrival: a declared length of the bytes as they are (`checkDeclaredBodySize`). */
const sizeKnown = (headers: Record<string, string | string[] | undefined>) =>
  headers['content-length'] !== undefined && contentEncoding(headers) === undefined;

/**
 * A body a host parser already read, sent chunked or compressed: nothing checked its size on arrival,
 * and the host's limit may be larger than the gateway's, so it is measured as the JSON the upstream
 * would be sent. UTF-16 length bounds UTF-8 bytes from below (and a third of them from above), so
 * most bodies are settled without encoding them.
 */
function checkParsedSize(body: unknown, limit: number): void {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch {
    return; // validation names what is wrong with it
  }
  if (text === undefined || text.length * 3 <= limit) return;
  if (text.length > limit || utf8Encoder.encode(text).byteLength > limit) throw tooLarge(limit);
}

const utf8Encoder = new TextEncoder();

/**
 * A raw request body's text (inflated already when it came compressed, see `bodyFor`, so the limit
 * is on what it inflates to); a client that leaves mid-upload is a client gone (499), not a gateway
 * failure, and a compressed body that does not inflate is the client's fault (400).
 */
async function readRaw(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  try {
    return await readAllText(body, limit, () => tooLarge(limit), 'discard');
  } catch (e) {
    if (e instanceof GatewayError) throw e;
    if (isDecompressionError(e)) throw undecompressable(e);
    throw new GatewayError('invalid_request', `the request body could not be read: ${(e as Error).message}`, { status: 499, param: 'body', cause: e });
  }
}

/** A body nested deeper than `max` is refused before anything walks it recursively. */
export function checkDepth(value: unknown, max: number): void {
  if (nestsDeeper(value, max)) throw new GatewayError('invalid_request', `request body is nested deeper than ${max} levels`, { param: 'body' });
}
