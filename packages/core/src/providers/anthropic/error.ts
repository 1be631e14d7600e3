import { GatewayError } from '../../errors.js';
import { parseCommonError } from '../parse-error.js';
import type { ProviderErrorInfo } from '../types.js';

type Headers = Record<string, string | string[] | undefined>;

/** Anthropic's error types and the HTTP status each one comes with (docs: "HTTP errors"). */
export const ANTHROPIC_ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** The Anthropic error type a client expects for a status (for `/v1/messages` answers of any origin). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 405:
    case 415:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 402:
      return 'billing_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 504:
      return 'timeout_error';
    case 529:
    case 503:
      return 'overloaded_error';
    default:
      return status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

/**
 * `{"type":"error","error":{"type","message"},"request_id"}`. The error type doubles as the code, so
 * OpenAI clients can branch on `overloaded_error` the way Anthropic clients do.
 */
export function parseAnthropicError(status: number, body: string, headers: Headers): ProviderErrorInfo {
  const info = parseCommonError(status, body, headers);
  if (info.type && info.code == null) info.code = info.type;
  return info;
}

/**
 * The `error.details` object of an Anthropic error body (`{error_code: "thread_not_found"}`), which the
 * SDKs read to recover (replay a lost thread, stop threading). It has no place in `ProviderErrorInfo`,
 * so the `/v1/messages` passthrough reads it itself.
 */
export function anthropicErrorDetails(body: string): Record<string, unknown> | undefined {
  let details: unknown;
  try {
    details = (JSON.parse(body) as { error?: { details?: unknown } } | null)?.error?.details;
  } catch {
    return undefined;
  }
  return typeof details === 'object' && details !== null && !Array.isArray(details) ? (details as Record<string, unknown>) : undefined;
}

/** An `event: error` inside a 200 stream (`overloaded_error` under load): the status comes from its type. */
export function streamError(data: string, provider: string): GatewayError {
  let error: { type?: unknown; message?: unknown } | undefined;
  try {
    const parsed = JSON.parse(data) as { error?: typeof error };
    error = parsed.error ?? undefined;
  } catch {
    error = undefined;
  }
  const type = typeof error?.type === 'string' ? error.type : 'api_error';
  const message = typeof error?.message === 'string' ? error.message : `${provider} stream error: ${data.slice(0, 300)}`;
  return new GatewayError('provider_error', message, {
    provider,
    source: 'provider',
    status: ANTHROPIC_ERROR_STATUS[type] ?? 502,
    type,
    providerCode: type,
  });
}
