import { errorTypeForStatus, parseCommonError } from '../parse-error.js';
import type { ProviderErrorInfo } from '../types.js';

/** Cohere's error body is `{id, message}`: no type or code, so the type follows the status as OpenAI's would. */
export function parseCohereError(status: number, body: string, headers: Record<string, string | string[] | undefined>): ProviderErrorInfo {
  const info = parseCommonError(status, body, headers);
  info.type ??= errorTypeForStatus(status);
  return info;
}
