import { GatewayError, type GatewayErrorInit } from '../errors.js';

/** What Node refuses in a header value (`checkInvalidHeaderChar`). */
const NOT_HEADER_SAFE = /[^\t\x20-\x7e\x80-\xff]/;

export const isHeaderSafe = (value: string): boolean => !NOT_HEADER_SAFE.test(value);

/**
 * A credential undici cannot send (a line break from a pasted key, a NUL) fails every call as a network
 * error blamed on the provider, and sets fallbacks and circuit breakers off. The error names where the
 * value came from and never the value itself.
 */
export function headerUnsafe(source: string, init: Omit<GatewayErrorInit, 'param'> = {}): GatewayError {
  return new GatewayError('invalid_config', `${source} cannot be sent in an HTTP header: it holds a line break, a control character or a character outside Latin-1`, {
    param: source,
    ...init,
  });
}
