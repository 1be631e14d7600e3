/**
 * Every failure leaves the gateway as one `GatewayError`, rendered in the OpenAI error shape.
 * The code list is closed so clients and tests can branch on it; the status comes from one table.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  invalid_config: 400,
  request_config_not_allowed: 403,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  budget_exceeded: 402,
  rate_limited: 429,
  provider_error: 502,
  all_targets_failed: 502,
  upstream_timeout: 504,
  network_error: 502,
  stream_interrupted: 502,
  gateway_closing: 503,
  store_unavailable: 503,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** `gateway`: llmux refused or failed; `provider`: the upstream failed and we pass that on. */
export type ErrorSource = 'gateway' | 'provider';

export interface AttemptSummary {
  target: string;
  provider: string;
  status?: number;
  error?: string;
  latency_ms?: number;
}

export interface GatewayErrorInit {
  status?: number;
  param?: string | null;
  type?: string;
  source?: ErrorSource;
  provider?: string;
  attempts?: AttemptSummary[];
  headers?: Record<string, string>;
  /** Provider's own error code (e.g. `model_not_found`), kept when present. */
  providerCode?: string | null;
  /** Seconds the client should wait, from a provider's Retry-After or our own limiters. */
  retryAfter?: number;
  details?: Record<string, unknown>;
  cause?: unknown;
}

const TYPE_BY_CODE: Partial<Record<ErrorCode, string>> = {
  invalid_request: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  invalid_config: 'invalid_request_error',
  request_config_not_allowed: 'permission_error',
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'not_found_error',
  method_not_allowed: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  budget_exceeded: 'budget_exceeded',
  rate_limited: 'rate_limit_error',
};

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;
  readonly type: string;
  readonly source: ErrorSource;
  readonly provider?: string;
  readonly attempts?: AttemptSummary[];
  readonly headers?: Record<string, string>;
  readonly providerCode?: string | null;
  readonly retryAfter?: number;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, init: GatewayErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = init.status ?? ERROR_STATUS[code];
    this.param = init.param ?? null;
    this.source = init.source ?? (code === 'provider_error' ? 'provider' : 'gateway');
    this.type = init.type ?? TYPE_BY_CODE[code] ?? (this.source === 'provider' ? 'provider_error' : 'gateway_error');
    if (init.provider !== undefined) this.provider = init.provider;
    if (init.attempts !== undefined) this.attempts = init.attempts;
    if (init.headers !== undefined) this.headers = init.headers;
    if (init.providerCode !== undefined) this.providerCode = init.providerCode;
    if (init.retryAfter !== undefined) this.retryAfter = init.retryAfter;
    if (init.details !== undefined) this.details = init.details;
  }

  /**
   * `status` under the name Nest's exception layer reads: a host controller that calls
   * `GatewayService.chat()` and lets a refusal propagate answers its 400/429 instead of Nest's 500.
   */
  get statusCode(): number {
    return this.status;
  }

  /** The OpenAI error shape, plus where the failure came from. */
  toJSON(): { error: Record<string, unknown> } {
    const error: Record<string, unknown> = {
      message: this.message,
      type: this.type,
      code: this.providerCode ?? this.code,
      param: this.param,
      source: this.source,
    };
    if (this.provider) error.provider = this.provider;
    if (this.attempts?.length) error.attempts = this.attempts;
    if (this.details) Object.assign(error, this.details);
    return { error };
  }
}

/**
 * `e` with some of its fields changed, for facts learnt only after it was made (the fields are
 * read-only): a copy that keeps every other field and has `e` as its cause.
 */
export function copyError(e: GatewayError, changes: { message?: string; param?: string; details?: Record<string, unknown> }): GatewayError {
  const { code, status, type, source, provider, attempts, headers, providerCode, retryAfter } = e;
  const details = changes.details ?? e.details;
  return new GatewayError(code, changes.message ?? e.message, {
    status,
    param: changes.param ?? e.param,
    type,
    source,
    cause: e,
    ...(details === undefined ? {} : { details }),
    ...(provider === undefined ? {} : { provider }),
    ...(attempts === undefined ? {} : { attempts }),
    ...(headers === undefined ? {} : { headers }),
    ...(providerCode === undefined ? {} : { providerCode }),
    ...(retryAfter === undefined ? {} : { retryAfter }),
  });
}

/** `e` with `details` added (see `copyError`). */
export const withDetails = (e: GatewayError, details: Record<string, unknown>): GatewayError => copyError(e, { details });

export const isGatewayError = (e: unknown): e is GatewayError => e instanceof GatewayError;

/** Anything thrown that is not ours becomes an opaque 500 — its message may hold secrets, so it is not echoed. */
export function toGatewayError(e: unknown): GatewayError {
  if (isGatewayError(e)) return e;
  return new GatewayError('internal_error', 'The gateway failed to handle this request.', { cause: e });
}

/** The client left before its answer was done: a 499, neither the gateway's failure nor the provider's. */
export const clientClosed = (provider?: string): GatewayError =>
  new GatewayError('stream_interrupted', 'the client closed the request', provider === undefined ? { status: 499 } : { provider, status: 499 });
