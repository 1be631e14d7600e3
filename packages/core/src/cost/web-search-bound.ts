import { EXTRAS_FIELD } from '../ingress/anthropic-messages/to-chat-request.js';

/**
 * Server-side web searches reserved for a search tool without `max_uses`. Anthropic sets no limit of
 * its own, so this is a guess like `defaultMaxTokens`: a request may search more and exceed its
 * reservation; a tool with `max_uses` is reserved for exactly that many.
 */
export const DEFAULT_WEB_SEARCHES = 10;

/**
 * Searches reserved for a provider that searches on its own, unasked: Perplexity's Sonar Deep Research
 * runs dozens per report, billed per search (`num_search_queries`). A guess like `defaultMaxTokens`:
 * a report may search more and exceed its reservation.
 */
export const SELF_DIRECTED_SEARCHES = 30;

/** Providers whose models search the web on every request, with no tool in the request asking them to. */
const SEARCHES_UNASKED = new Set(['perplexity']);

/**
 * The searches to reserve on one candidate: what the request's own search tools allow, or, on a
 * provider that searches unasked, at least `SELF_DIRECTED_SEARCHES` (only a price sheet that charges
 * per search makes them cost anything: Sonar and Sonar Pro charge per request instead).
 */
export const searchesOn = (provider: string, requested: number): number =>
  SEARCHES_UNASKED.has(provider) ? Math.max(requested, SELF_DIRECTED_SEARCHES) : requested;

/** Anthropic's web search tool types (`web_search_20250305`, …); not its result blocks (`web_search_tool_result`). */
const WEB_SEARCH_TOOL = /^web_search_\d+$/;

function searchesOf(tools: unknown): number {
  if (!Array.isArray(tools)) return 0;
  let n = 0;
  for (const tool of tools) {
    const t = tool as { type?: unknown; max_uses?: unknown } | null;
    if (typeof t?.type !== 'string' || !WEB_SEARCH_TOOL.test(t.type)) continue;
    n += typeof t.max_uses === 'number' && t.max_uses >= 0 ? t.max_uses : DEFAULT_WEB_SEARCHES;
  }
  return n;
}

/**
 * The most web searches a request may be billed for: Anthropic's server tools (`web_search_…`) in
 * a chat body's `tools` (they pass through to Anthropic as written), or among the Anthropic-only
 * parts a `/v1/messages` body keeps aside for Anthropic targets; and OpenAI's `web_search_options`,
 * which becomes that same tool (without `max_uses`) for Claude when the client sent none of its own.
 */
export function maxWebSearches(body: Record<string, unknown>): number {
  const extras = body[EXTRAS_FIELD] as { dropped?: unknown } | undefined;
  const own = searchesOf(body.tools) + (extras ? searchesOf(extras.dropped) : 0);
  const options = body.web_search_options;
  return own === 0 && options !== undefined && options !== null ? DEFAULT_WEB_SEARCHES : own;
}
