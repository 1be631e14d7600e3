import type { ProviderErrorInfo } from './types.js';

type Headers = Record<string, string | string[] | undefined>;

/** Seconds from a Retry-After header: delta-seconds or an HTTP date. */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/**
 * Reads the error bodies of OpenAI-style APIs (`{error:{message,type,code,param}}`), Mistral
 * (`{object:"error",message}`), and plain `{message}` / `{detail}` ones; falls back to the raw text.
 */
export function parseCommonError(status: number, body: string, headers: Headers): ProviderErrorInfo {
  const json = parseJson(body) as Record<string, unknown> | undefined;
  const inner = (json && typeof json.error === 'object' && json.error !== null ? json.error : json) as
    | Record<string, unknown>
    | undefined;
  const message =
    str(inner?.message) ?? str(json?.error) ?? str(json?.message) ?? str(json?.detail) ?? (body.trim().slice(0, 500) || `HTTP ${status}`);
  const info: ProviderErrorInfo = { message };
  const type = str(inner?.type);
  if (type) info.type = type;
  const code = inner?.code;
  if (typeof code === 'string' || typeof code === 'number') info.code = String(code);
  const param = str(inner?.param);
  if (param) info.param = param;
  const retryAfter = retryAfterSeconds(headers);
  if (retryAfter !== undefined) info.retryAfter = retryAfter;
  return info;
}
