import { GatewayError } from '../errors.js';
import { gatewayHeader, sentName } from '../http/headers.js';
import type { GatewayRequest } from '../types.js';

/**
 * A client's trace id goes back out in response headers and into logs and span attributes, so it
 * must be short printable ASCII (UUIDs, W3C ids, ULIDs all fit). Inner spaces are allowed — Portkey
 * takes any string, and clients send ids like "checkout flow 42" — but not at either end, where a
 * header value loses them.
 */
const TRACE_ID = /^[\x21-\x7e](?:[\x20-\x7e]{0,126}[\x21-\x7e])?$/;

/** The client's `x-llmux-trace-id` / `x-portkey-trace-id` when it is well formed, else a fresh UUID. */
export function traceIdFor(req: GatewayRequest): string {
  const sent = gatewayHeader(req.headers, 'trace-id');
  return sent !== undefined && TRACE_ID.test(sent) ? sent : crypto.randomUUID();
}

/** A trace id that cannot be echoed safely is refused with 400 naming the header. */
export function checkTraceId(req: GatewayRequest): void {
  const sent = gatewayHeader(req.headers, 'trace-id');
  if (sent !== undefined && sent !== '' && !TRACE_ID.test(sent)) {
    const name = sentName(req, 'trace-id');
    throw new GatewayError('invalid_request', `${name} must be 1 to 128 printable ASCII characters, not starting or ending with a space`, { param: name });
  }
}
