import { GatewayError } from '../errors.js';
import { gatewayHeader, sentName } from '../http/headers.js';
import { nestsDeeper } from '../http/json-depth.js';
import { attemptOverrides } from '../upstream/attempt-overrides.js';
import type { RouteName } from '../http/routes.js';
import type { GatewayContext, GatewayRequest } from '../types.js';
import type { GatewayInternals } from './internals.js';
import type { RequestState } from './state.js';

function readMetadata(req: GatewayRequest, maxDepth: number): Record<string, unknown> {
  const raw = gatewayHeader(req.headers, 'metadata');
  if (raw === undefined) return {};
  const name = sentName(req, 'metadata');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new GatewayError('invalid_request', `${name} must be a JSON object`, { param: name });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GatewayError('invalid_request', `${name} must be a JSON object`, { param: name });
  }
  // Bounded as bodies and config headers are: the cache key, conditional routing and the logs walk it recursively.
  if (nestsDeeper(parsed, maxDepth)) {
    throw new GatewayError('invalid_request', `${name} is nested deeper than ${maxDepth} levels`, { param: name });
  }
  return parsed as Record<string, unknown>;
}

export function createState(
  gw: GatewayInternals,
  route: RouteName,
  req: GatewayRequest,
  body: RequestState['body'],
  context: GatewayContext | undefined,
  traceId: string,
  startedAt: number,
): RequestState {
  const stream = body.stream === true;
  const streamOptions = body.stream_options as { include_usage?: boolean } | null | undefined;
  return {
    traceId,
    route,
    request: req,
    identity: context ?? {},
    metadata: readMetadata(req, gw.limits.maxJsonDepth),
    plan: gw.plans.forRequest(req),
    overrides: attemptOverrides(req, gw.options.allowRequestConfig === true),
    body,
    stream,
    wantsStreamUsage: streamOptions?.include_usage === true,
    startedAt,
    attempts: [],
    retries: 0,
    cache: 'DISABLED',
    recordChunks: false,
    headers: {},
    scratch: {},
  };
}
