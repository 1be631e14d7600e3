import { GatewayError } from '../../errors.js';
import { parseCommonError, retryAfterSeconds } from '../parse-error.js';
import type { ProviderErrorInfo } from '../types.js';

/**
 * Google's error body: `{error:{code, message, status:"RESOURCE_EXHAUSTED", details:[{"@type":
 * "type.googleapis.com/google.rpc.RetryInfo", retryDelay:"34.4s"}, {"@type":"…ErrorInfo", reason}]}}`.
 * Streams answer errors the same way (a plain JSON body despite `text/event-stream`).
 */
interface GoogleErrorBody {
  code?: number;
  message?: string;
  status?: string;
  details?: Array<{ '@type'?: string; retryDelay?: string; reason?: string; [k: string]: unknown }>;
}

type Headers = Record<string, string | string[] | undefined>;

/** google.rpc status → the OpenAI error `type` clients branch on. */
const TYPE_BY_STATUS: Record<string, string> = {
  INVALID_ARGUMENT: 'invalid_request_error',
  FAILED_PRECONDITION: 'invalid_request_error',
  OUT_OF_RANGE: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  PERMISSION_DENIED: 'permission_error',
  NOT_FOUND: 'not_found_error',
  RESOURCE_EXHAUSTED: 'rate_limit_error',
  DEADLINE_EXCEEDED: 'timeout_error',
  INTERNAL: 'server_error',
  UNAVAILABLE: 'server_error',
  UNKNOWN: 'server_error',
};

/** `"34.4s"` (a protobuf Duration in JSON) → 34.4 */
function durationSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return m ? Number(m[1]) : undefined;
}

function googleError(body: string): GoogleErrorBody | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  // Without `alt=sse`, stream endpoints wrap everything in a JSON array, errors included.
  if (Array.isArray(json)) json = json[0];
  const error = (json as { error?: unknown } | undefined)?.error;
  return typeof error === 'object' && error !== null ? (error as GoogleErrorBody) : undefined;
}

export function infoFromGoogleError(error: GoogleErrorBody, headers: Headers = {}): ProviderErrorInfo {
  const message = error.message || error.status || 'Google returned an error';
  const info: ProviderErrorInfo = { message };
  const reason = error.details?.find((d) => d['@type']?.endsWith('google.rpc.ErrorInfo'))?.reason;
  if (reason === 'API_KEY_INVALID') info.type = 'authentication_error';
  else if (error.status && TYPE_BY_STATUS[error.status]) info.type = TYPE_BY_STATUS[error.status]!;
  // OpenAI's code for an over-long prompt, so clients and fallbacks written for OpenAI recognise it.
  if (/input token count.*exceeds the maximum/i.test(message)) info.code = 'context_length_exceeded';
  else if (reason || error.status) info.code = reason ?? error.status!;
  const retry = error.details?.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'));
  const retryAfter = durationSeconds(retry?.retryDelay) ?? retryAfterSeconds(headers);
  if (retryAfter !== undefined) info.retryAfter = retryAfter;
  return info;
}

/** Non-2xx answers of the Gemini API and Vertex AI. */
export function parseGoogleError(status: number, body: string, headers: Headers): ProviderErrorInfo {
  const error = googleError(body);
  return error ? infoFromGoogleError(error, headers) : parseCommonError(status, body, headers);
}

/** An `{"error": …}` event inside a 200 stream. */
export function streamError(provider: string, error: GoogleErrorBody): GatewayError {
  const info = infoFromGoogleError(error);
  const status = typeof error.code === 'number' && error.code >= 400 && error.code < 600 ? error.code : 502;
  return new GatewayError('provider_error', info.message, {
    provider,
    source: 'provider',
    status,
    type: info.type ?? 'provider_error',
    providerCode: info.code ?? null,
    ...(info.retryAfter !== undefined ? { retryAfter: info.retryAfter } : {}),
  });
}
