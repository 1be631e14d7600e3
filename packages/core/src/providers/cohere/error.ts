import { parseCommonError } from '../parse-error.js';
import type { ProviderErrorInfo } from '../types.js';

/** Cohere's error body is `{id, message}`: no type or code, so the type follows the status as OpenAI's would. */
const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

export function parseCohereError(status: number, body: string, headers: Record<string, string | string[] | undefined>): ProviderErrorInfo {
  const info = parseCommonError(status, body, headers);
  if (!info.type) info.type = TYPE_BY_STATUS[status] ?? (status >= 500 ? 'server_error' : 'provider_error');
  return info;
}
