import type { AbortSource } from './upstream/abort-link.js';

/** A request as the core sees it: plain data, so adapters never build a Fetch `Request` (~11 µs in Node). */
export interface GatewayRequest {
  method: string;
  /** Relative to the mount point, e.g. `/v1/chat/completions`; may carry a query string. */
  path: string;
  /** Lower-case names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON when a body parser ran, else string | Uint8Array | AsyncIterable<Uint8Array>. */
  body?: unknown;
  /**
   * Fires when the client goes away; the upstream call stops with it. An `AbortLink` (what the
   * adapters pass, from `abortLinkFor` in `@llmux/core/node`) does the same for a fraction of the cost.
   */
  signal?: AbortSignal | AbortSource;
}

export interface GatewayResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON value, string, Uint8Array, or AsyncIterable<Uint8Array> for streams. */
  body: unknown;
  /**
   * HTTP trailers sent after a stream's last chunk, for facts known only at its end (`x-llmux-cost`).
   * Called once the body is exhausted; absent names are simply not sent.
   */
  trailers?: () => Record<string, string>;
}

/** What the host app already knows about the caller (from the adapter's `identify` option). */
export interface GatewayContext {
  user?: string;
  team?: string;
  tenant?: string;
  /** Set by gateway-key auth; apps may also set it. */
  key?: string;
  /** Free-form identity fields, usable in conditional routing and `metadata.<field>` scopes. */
  [field: string]: unknown;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
