import { checkDepth, readJsonBody } from '../http/read-body.js';
import { validateChat, validateEmbeddings } from '../http/validate.js';
import { handleCountTokens } from '../ingress/anthropic-messages/count-tokens.js';
import { handleMessages } from '../ingress/anthropic-messages/handle-messages.js';
import { handleUsage } from '../limits/usage-view.js';
import { handleMetrics } from '../observability/metrics-route.js';
import { withLogStats } from '../observability/log-stats.js';
import { playgroundRoutes } from '../playground/routes.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../types.js';
import { handleChat } from './chat.js';
import { createState } from './create-state.js';
import { handleEmbeddings } from './embeddings.js';
import type { GatewayInternals } from './internals.js';
import { handleModel, handleModels } from './models.js';
import type { RequestState } from './state.js';

/** `startedAt`: when `handle()` took the request (ms since the epoch), which its record counts from, upload included. */
export type RouteHandler = (
  gw: GatewayInternals,
  req: GatewayRequest,
  context: GatewayContext | undefined,
  traceId: string,
  startedAt: number,
) => Promise<GatewayResponse> | GatewayResponse;

/** Reads, bounds and depth-checks a JSON body. */
export async function readBody(gw: GatewayInternals, req: GatewayRequest): Promise<unknown> {
  const body = await readJsonBody(req.body, gw.limits.maxBodyBytes, req.headers);
  checkDepth(body, gw.limits.maxJsonDepth);
  return body;
}

/** Route name → handler. Later features (messages ingress, usage, playground, metrics) add theirs. */
export const routeHandlers: Record<string, RouteHandler> = {
  async chat(gw, req, context, traceId, startedAt) {
    const body = validateChat(await readBody(gw, req), gw.limits.maxMessages);
    return handleChat(gw, createState(gw, 'chat', req, body as RequestState['body'], context, traceId, startedAt));
  },
  async embeddings(gw, req, context, traceId, startedAt) {
    const body = validateEmbeddings(await readBody(gw, req));
    return handleEmbeddings(gw, createState(gw, 'embeddings', req, body as RequestState['body'], context, traceId, startedAt));
  },
  models: (gw, req, context, traceId) => handleModels(gw, req, context, traceId),
  model: (gw, req, context, traceId) => handleModel(gw, req, context, traceId),
  messages: handleMessages,
  count_tokens: handleCountTokens,
  usage: async (gw, req, _context, traceId) => withLogStats(gw, await handleUsage(gw, req, traceId)),
  metrics: (gw, req, _context, traceId) => handleMetrics(gw, req, traceId),
  ...playgroundRoutes,
};
