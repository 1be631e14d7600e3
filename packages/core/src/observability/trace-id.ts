import { GatewayError } from '../errors.js';
import { gatewayHeader } from '../http/headers.js';
import type { GatewayRequest } from '../types.js';

/**
 * A client's trace id goes back out in response headers and into logs and span attributes, so it
 * must be a short token: printable ASCII without spaces (UUIDs, W3C ids, ULIDs all fit).
 */
const TRACE_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's `x-llmux-trace-id` / `x-portkey-trace-id` when it is well formed, else a fresh UUID. */
export function traceIdFor(req: GatewayRequest): string {
  const sent = gatewayHeader(req.headers, 'trace-id');
  return sent !== undefined && TRACE_ID.test(sent) ? sent : crypto.randomUUID();
}

/** A trace id that cannot be echoed safely is refused with 400 naming the header. */
export function checkTraceId(req: GatewayRequest): void {
  const sent = gatewayHeader(req.headers, 'trace-id');
  if (sent !== undefined && sent !== '' && !TRACE_ID.test(sent)) {
    const name = req.headers['x-llmux-trace-id'] !== undefined ? 'x-llmux-trace-id' : 'x-portkey-trace-id';
    throw new GatewayError('invalid_request', `${name} must be 1 to 128 printable ASCII characters without spaces`, { param: name });
  }
}
