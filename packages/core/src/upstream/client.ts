import { Agent, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import { readAllText, utf8 } from '../http/bytes.js';
import { DispatchedResponse } from './dispatched-response.js';
import type { UpstreamRequest, UpstreamResponse } from '../providers/types.js';
import type { AbortSource } from './abort-link.js';

/** Decides, at connect time, whether a client-chosen host may be reached (see `node/guarded-lookup.ts`). */
export interface ConnectGuard {
  isBlocked(address: string): boolean;
  isAllowedName(hostname: string): boolean;
  /** The resolver, `dns.lookup`-shaped. Default: the system's. */
  resolve?: unknown;
}

/** Options for the pooled upstream HTTP client. */
export interface UpstreamClientOptions {
  /** Sockets per upstream origin. Default 128. */
  connections?: number;
  /** How long an idle keep-alive socket stays open, ms. Default 30000. */
  keepAliveTimeout?: number;
}

/** Upstream URLs repeat (one per target and operation): each is parsed once, not per request (~2 µs). */
const splitUrls = new Map<string, { origin: string; path: string }>();

function splitUrl(href: string): { origin: string; path: string } {
  let split = splitUrls.get(href);
  if (!split) {
    const url = new URL(href);
    split = { origin: url.origin, path: url.pathname + url.search };
    // URLs that vary per request (a model or key in them) must not grow the table without bound,
    // in count or in size (a client's long model name is in some providers' URLs).
    if (href.length > 2048) return split;
    if (splitUrls.size >= 1000) splitUrls.clear();
    splitUrls.set(href, split);
  }
  return split;
}

/** An Agent whose every connection is checked by `guard` (see `node/guarded-lookup.ts`); also for calls a provider makes on its own. */
export async function guardedAgent(guard: ConnectGuard, options: UpstreamClientOptions = {}): Promise<Agent> {
  // Loaded on first use so the core entry imports nothing from `node:`.
  const { guardedLookup } = await import('../node/guarded-lookup.js');
  return new Agent({
    connections: options.connections ?? 128,
    keepAliveTimeout: options.keepAliveTimeout ?? 30_000,
    headersTimeout: 0,
    bodyTimeout: 0,
    connect: { lookup: guardedLookup((a) => guard.isBlocked(a), (h) => guard.isAllowedName(h), guard.resolve as never) },
  });
}

/**
 * One undici Agent for every upstream: keep-alive pools per origin, no per-request client setup.
 * Calls go through undici's `dispatch` (see `dispatched-response.ts`), below `request` and far below
 * `fetch`, whose WHATWG streams cost per chunk.
 */
export class UpstreamClient {
  private readonly agent: Agent;
  /** Sockets to hosts a client chose get their own pool, whose every connection is re-checked. */
  private guardedAgent: Promise<Agent> | undefined;

  constructor(
    private readonly options: UpstreamClientOptions = {},
    private readonly guard?: ConnectGuard,
  ) {
    this.agent = new Agent({
      connections: options.connections ?? 128,
      keepAliveTimeout: options.keepAliveTimeout ?? 30_000,
      // Timeouts are ours (per attempt and per request deadline), not undici's fixed 300 s ones.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  private guarded(): Promise<Agent> {
    const guard = this.guard;
    if (!guard) return Promise.resolve(this.agent);
    this.guardedAgent ??= guardedAgent(guard, this.options);
    return this.guardedAgent;
  }

  /** `clientHost`: the client chose this host, so the connection itself is checked against the SSRF rules. */
  send(req: UpstreamRequest, signal: AbortSource, clientHost = false): Promise<UpstreamResponse> {
    if (clientHost && this.guard) return this.guarded().then((agent) => dispatch(agent, req, signal));
    return dispatch(this.agent, req, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.guardedAgent?.then((a) => a.close())]);
  }

  /** Aborts every request still running (`close()` waits for them); for a shutdown past its deadline. */
  async destroy(): Promise<void> {
    await Promise.all([this.agent.destroy(), this.guardedAgent?.then((a) => a.destroy())]);
  }
}

/**
 * Without Accept-Encoding any coding is acceptable (RFC 9110 §12.5.3), and a server that then
 * compresses gets its answer read as garbage: dispatch passes bodies on as they came, and decoding
 * every stream here would cost every call. So the gateway asks for the body as it is.
 */
function askForIdentity(headers: Record<string, string>): void {
  if (headers['accept-encoding'] !== undefined) return;
  try {
    headers['accept-encoding'] = 'identity';
  } catch {
    // A custom provider's frozen headers go as it made them.
  }
}

function dispatch(agent: Agent, req: UpstreamRequest, signal: AbortSource): Promise<UpstreamResponse> {
  if (signal.aborted) return Promise.reject(signal.reason);
  askForIdentity(req.headers);
  return new Promise((resolve, reject) => {
    const url = splitUrl(req.url);
    const handler = new DispatchedResponse(signal, { resolve, reject });
    agent.dispatch({ origin: url.origin, path: url.path, method: req.method as Dispatcher.HttpMethod, headers: req.headers, body: req.body ?? null }, handler);
  });
}

/** The `type` of an answer refused for its size: asking again would download as much again. */
export const ANSWER_TOO_LARGE = 'answer_too_large';

/**
 * The whole body as text, refusing more than `limit` bytes. An answer over it is the provider's
 * failure (a 502), not a provider out of reach: the error passes the attempt's failure mapping as
 * it is (see `AttemptControl.failure` in `call.ts`), and the download stops there.
 */
export function readText(body: AsyncIterable<Uint8Array>, limit = 64 * 1024 * 1024): Promise<string> {
  const tooLarge = () =>
    new GatewayError('provider_error', `the provider's answer is too large: upstream body exceeds ${limit} bytes`, {
      source: 'provider',
      type: ANSWER_TOO_LARGE,
    });
  if (body instanceof DispatchedResponse) return body.readAll(limit, tooLarge).then((bytes) => utf8.decode(bytes));
  return readAllText(body, limit, tooLarge);
}
