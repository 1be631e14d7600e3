import type { RouteHandler } from '../pipeline/routes.js';
import { requirePlaygroundPage } from './access.js';
import { handleInfo } from './info.js';
import { pageHeaders, renderPage } from './page.js';
import { handlePinnedChat } from './pinned-chat.js';
import { handlePlaygroundUsage, handleRecentRequests } from './usage.js';

/**
 * The playground's route handlers, by the route names `http/routes.ts` maps its paths to. The page
 * itself holds no data and is served without the key (a browser cannot send a header when it
 * navigates); the key is typed into it and every API call below checks it.
 */
export const playgroundRoutes: Record<string, RouteHandler> = {
  playground(gw, req, _context, traceId) {
    requirePlaygroundPage(gw, req);
    const nonce = crypto.randomUUID();
    return { status: 200, headers: pageHeaders(nonce, traceId), body: renderPage(nonce) };
  },
  'playground-info': (gw, req, _context, traceId) => handleInfo(gw, req, traceId),
  'playground-chat': handlePinnedChat,
  'playground-usage': (gw, req, _context, traceId) => handlePlaygroundUsage(gw, req, traceId),
  'playground-requests': (gw, req, _context, traceId) => handleRecentRequests(gw, req, traceId),
};
