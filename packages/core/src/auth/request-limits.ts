import { GatewayError } from '../errors.js';
import { payloadTooLarge } from '../http/body-refusal.js';
import { header } from '../http/headers.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { GatewayRequest } from '../types.js';

/*
 * Limits checked on arrival, from the headers alone, before any body is read or any header parsed.
 */

/** Default `limits.maxHeaderBytes`: twice Node's own 16 KiB, so behind Node it only matters for direct `handle` calls. */
export const DEFAULT_MAX_HEADER_BYTES = 32 * 1024;

/**
 * Refuses requests whose headers together exceed `limits.maxHeaderBytes` with 431 before anything
 * parses them (config and metadata headers are JSON the gateway would otherwise read). Counted as on
 * the wire: `name: value\r\n` per value.
 */
export function checkHeaderSize(gw: GatewayInternals, req: GatewayRequest): void {
  const limit = gw.options.limits?.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  let total = 0;
  for (const name in req.headers) {
    const value = req.headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) total += name.length + String(v).length + 4;
    else total += name.length + String(value).length + 4;
  }
  if (total > limit) {
    throw new GatewayError('invalid_request', `request headers total ${total} bytes; the limit is ${limit} (limits.maxHeaderBytes)`, {
      status: 431,
      param: 'headers',
    });
  }
}

/**
 * A declared `content-length` above `limits.maxBodyBytes` is refused with 413 at once: also when a
 * body parser before the gateway already read the body (its own limit may be larger), so the limit
 * holds the same behind every adapter. Bodies without a length are bounded while they are read.
 * The 413 closes the connection: the body it refuses is not read.
 */
export function checkDeclaredBodySize(gw: GatewayInternals, req: GatewayRequest): void {
  const declared = header(req.headers, 'content-length');
  if (declared === undefined || !/^\d+$/.test(declared.trim())) return;
  const limit = gw.limits.maxBodyBytes;
  if (Number(declared) > limit) throw payloadTooLarge(`request body exceeds ${limit} bytes`);
}
