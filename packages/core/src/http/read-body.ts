import { GatewayError } from '../errors.js';
import { readAllText, utf8 } from './bytes.js';
import { nestsDeeper } from './json-depth.js';
import { rememberJsonText } from './json-text.js';

function tooLarge(limit: number): GatewayError {
  return new GatewayError('payload_too_large', `request body exceeds ${limit} bytes`);
}

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
export async function readJsonBody(body: unknown, limit: number): Promise<unknown> {
  if (body === undefined || body === null) throw new GatewayError('invalid_json', 'request body is missing; expected a JSON object', { param: 'body' });
  if (typeof body === 'string') {
    if (body.length > limit) throw tooLarge(limit);
    return parse(body);
  }
  if (body instanceof Uint8Array) {
    if (body.byteLength > limit) throw tooLarge(limit);
    return parse(utf8.decode(body));
  }
  if (isAsyncIterable(body)) return parse(await readRaw(body, limit));
  return body;
}

/** A raw request body's text; a client that leaves mid-upload is a client gone (499), not a gateway failure. */
async function readRaw(body: AsyncIterable<Uint8Array>, limit: number): Promise<string> {
  try {
    return await readAllText(body, limit, () => tooLarge(limit), 'discard');
  } catch (e) {
    if (e instanceof GatewayError) throw e;
    throw new GatewayError('invalid_request', `the request body could not be read: ${(e as Error).message}`, { status: 499, param: 'body', cause: e });
  }
}

/** A body nested deeper than `max` is refused before anything walks it recursively. */
export function checkDepth(value: unknown, max: number): void {
  if (nestsDeeper(value, max)) throw new GatewayError('invalid_request', `request body is nested deeper than ${max} levels`, { param: 'body' });
}
