import type { ProviderErrorInfo } from './types.js';

type Headers = Record<string, string | string[] | undefined>;

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * Seconds from a provider's wait hint: OpenAI's and Azure's `retry-after-ms` (more precise, and sent
 * where `Retry-After` would round a sub-second wait up or is absent), else `Retry-After` as
 * delta-seconds or an HTTP date.
 */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const ms = Number(first(headers['retry-after-ms']));
  if (first(headers['retry-after-ms']) && Number.isFinite(ms)) return Math.max(0, ms / 1000);
  const value = first(headers['retry-after']);
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

const httpStatus = (v: unknown): number | undefined => (typeof v === 'number' && v >= 400 && v < 600 ? v : undefined);

/**
 * The HTTP status an error object inside a 200 names: Groq's `status_code`, OpenRouter's numeric
 * `code` (`402` for insufficient credits); undefined when it names none.
 */
export function statusNamedBy(error: Record<string, unknown>): number | undefined {
  return httpStatus(error.status_code) ?? httpStatus(error.code);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/**
 * The message of an OpenAI-style error object. OpenRouter wraps the real cause as
 * `{message: "Provider returned error", metadata: {provider_name, raw}}`; the raw text is what users need.
 */
export function errorMessageOf(error: Record<string, unknown> | undefined): string | undefined {
  const message = str(error?.message);
  const meta = error?.metadata as { raw?: unknown; provider_name?: unknown } | undefined;
  const raw = typeof meta?.raw === 'string' ? meta.raw : meta?.raw !== undefined && meta?.raw !== null ? JSON.stringify(meta.raw) : undefined;
  if (!raw || !message || message.includes(raw)) return message;
  const from = str(meta?.provider_name);
  return `${message}${from ? ` (${from})` : ''}: ${raw.slice(0, 500)}`;
}

/**
 * FastAPI-style validation details, `[{loc: ["body", "stream_options"], msg: "Extra inputs are not
 * permitted"}]`: Mistral nests them in `message`, vLLM sends them as `detail`.
 */
function validationText(value: unknown): string | undefined {
  const detail = Array.isArray(value) ? value : (value as { detail?: unknown } | undefined)?.detail;
  if (!Array.isArray(detail) || !detail.length) return undefined;
  return detail
    .map((d: { loc?: unknown; msg?: unknown }) => {
      const loc = Array.isArray(d?.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
      return `${loc ? `${loc}: ` : ''}${typeof d?.msg === 'string' ? d.msg : JSON.stringify(d)}`;
    })
    .join('; ');
}

/** The error type OpenAI would send for a status, for providers whose error bodies carry none. */
export function errorTypeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/**
 * Reads the error bodies of OpenAI-style APIs (`{error:{message,type,code,param}}`), Mistral
 * (`{object:"error",message}`), and plain `{message}` / `{detail}` ones; falls back to the raw text.
 * A numeric `code` (OpenRouter's `code: 429`) only repeats the status, so it is not kept as the code.
 */
export function parseCommonError(status: number, body: string, headers: Headers): ProviderErrorInfo {
  const json = parseJson(body) as Record<string, unknown> | undefined;
  const inner = (json && typeof json.error === 'object' && json.error !== null ? json.error : json) as
    | Record<string, unknown>
    | undefined;
  const message =
    errorMessageOf(inner) ??
    str(json?.error) ??
    str(json?.message) ??
    str(json?.detail) ??
    validationText(json?.message) ??
    validationText(json?.detail) ??
    (body.trim().slice(0, 500) || `HTTP ${status}`);
  const info: ProviderErrorInfo = { message };
  const type = str(inner?.type);
  if (type) info.type = type;
  const code = str(inner?.code);
  if (code) info.code = code;
  const param = str(inner?.param);
  if (param) info.param = param;
  const retryAfter = retryAfterSeconds(headers);
  if (retryAfter !== undefined) info.retryAfter = retryAfter;
  return info;
}
