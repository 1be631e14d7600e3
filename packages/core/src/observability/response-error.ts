import { ERROR_STATUS, GatewayError, type ErrorCode } from '../errors.js';
import type { GatewayResponse } from '../types.js';

/**
 * The error behind an error response, found through the response's headers object: ingresses
 * reshape an error's body (Anthropic's shape on `/v1/messages`) but pass its headers on as they are.
 */
const errors = new WeakMap<object, GatewayError>();

export function rememberError<T extends GatewayResponse>(res: T, error: GatewayError): T {
  errors.set(res.headers, error);
  return res;
}

function codeFor(status: number): ErrorCode {
  const known = (Object.keys(ERROR_STATUS) as ErrorCode[]).find((c) => ERROR_STATUS[c] === status);
  return known ?? (status >= 500 ? 'internal_error' : 'invalid_request');
}

/** The error an error response carries: the remembered one, else what its body says. */
export function errorOfResponse(res: GatewayResponse): GatewayError {
  const remembered = errors.get(res.headers);
  if (remembered) return remembered;
  const body = (res.body as { error?: { message?: unknown } } | undefined)?.error;
  const message = typeof body?.message === 'string' ? body.message : `HTTP ${res.status}`;
  return new GatewayError(codeFor(res.status), message, { status: res.status });
}
