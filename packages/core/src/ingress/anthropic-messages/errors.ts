import { errorResponse } from '../../gateway.js';
import { toGatewayError, type GatewayError } from '../../errors.js';
import { ANTHROPIC_ERROR_STATUS, anthropicErrorType } from '../../providers/anthropic/error.js';
import type { AnthropicErrorBody } from '../../providers/anthropic/wire-types.js';
import type { GatewayResponse } from '../../types.js';

/** With `error.details`, where the SDKs look for the `error_code` they recover by (a lost thread, a request that cannot be threaded). */
type ErrorBody = AnthropicErrorBody & { error: { details?: Record<string, unknown> } };

/**
 * Keeps an Anthropic upstream's own error type; anything else gets the type Anthropic uses for that
 * status (OpenAI, for one, calls its 401 an `invalid_request_error`).
 */
export function anthropicErrorBody(error: GatewayError, requestId: string): ErrorBody {
  const type = ANTHROPIC_ERROR_STATUS[error.type] === error.status ? error.type : anthropicErrorType(error.status);
  const body: ErrorBody['error'] = { type, message: error.message };
  if (error.details) body.details = error.details;
  return { type: 'error', error: body, request_id: requestId };
}

/**
 * Failures on `/v1/messages` leave in Anthropic's shape, so `@anthropic-ai/sdk` raises its typed
 * errors (`RateLimitError`, `OverloadedError`, …); status and headers (Retry-After) are the gateway's usual.
 */
export function anthropicErrorResponse(e: unknown, traceId: string): GatewayResponse {
  const error = toGatewayError(e);
  const res = errorResponse(error, traceId);
  return { ...res, body: anthropicErrorBody(error, traceId) };
}
