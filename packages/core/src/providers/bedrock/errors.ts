import { GatewayError } from '../../errors.js';
import { parseCommonError } from '../parse-error.js';
import type { ProviderErrorInfo } from '../types.js';

type Headers = Record<string, string | string[] | undefined>;

/** Statuses of the exceptions ConverseStream sends inside a 200 stream (AWS API reference). */
const EXCEPTION_STATUS: Record<string, number> = {
  throttlingException: 429,
  validationException: 400,
  modelStreamErrorException: 424,
  serviceUnavailableException: 503,
  internalServerException: 500,
  modelTimeoutException: 408,
  accessDeniedException: 403,
  resourceNotFoundException: 404,
};

/** `ValidationException:http://internal.amazon.com/coral/…` → `ValidationException`. */
const errorType = (raw: string | string[] | undefined): string | undefined => {
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value ? value.split(':')[0] || undefined : undefined;
};

/**
 * A non-2xx Bedrock answer: `{"message": …}` (`{"Message": …}` from the AWS front door, e.g. on a bad
 * signature) with the exception name in the `x-amzn-errortype` header.
 */
export function parseBedrockError(status: number, body: string, headers: Headers): ProviderErrorInfo {
  const info = parseCommonError(status, body, headers);
  try {
    const json = JSON.parse(body) as { Message?: unknown };
    if (typeof json?.Message === 'string' && json.Message) info.message = json.Message;
  } catch {
    // Not JSON: the common parser already kept the text.
  }
  const type = errorType(headers['x-amzn-errortype']);
  if (type) info.type = type;
  return info;
}

/**
 * An exception frame inside ConverseStream (`:message-type: exception`), or an event-stream protocol
 * error (`:message-type: error` with `:error-code` / `:error-message` headers).
 */
export function streamException(headers: Record<string, string>, data: string): GatewayError {
  const type = headers[':exception-type'] ?? headers[':error-code'] ?? 'unknownException';
  let message = headers[':error-message'];
  try {
    const json = JSON.parse(data) as { message?: unknown; Message?: unknown };
    const m = json?.message ?? json?.Message;
    if (typeof m === 'string' && m) message = m;
  } catch {
    // A payload that is not JSON: the type alone still says what failed.
  }
  const status = EXCEPTION_STATUS[type] ?? 502;
  return new GatewayError('provider_error', message ?? `bedrock stream failed with ${type}`, {
    provider: 'bedrock',
    source: 'provider',
    status,
    type,
    providerCode: type,
  });
}
