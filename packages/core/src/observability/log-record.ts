import type { CacheStatus } from '../http/headers.js';

/**
 * How a request ended: `success`; `error` (refused or failed before any answer); `stream_cut` (the
 * upstream broke after content was sent — the client got an error event); `client_closed` (the
 * client left before the end).
 */
export type RequestOutcome = 'success' | 'error' | 'stream_cut' | 'client_closed';

/** One try of one target, in the order the router made them (retries and skipped circuits included). */
export type LogAttempt = {
  /** Config path of the target, e.g. `config.targets[1]`. */
  target: string;
  provider: string;
  /** HTTP status of the try; absent when the circuit was open and the target skipped. */
  status?: number;
  latency_ms?: number;
  error?: string;
  /** The model this try sent upstream (its target's `override_params.model`, an alias, or the client's); absent when skipped. */
  model?: string;
};

/**
 * The one structured record each request leaves: what `onLog` receives, what the logger writes,
 * what `recentRequests()` lists and what metrics and spans are made from. Provider and gateway keys
 * never appear in it; bodies only with `logBodies`.
 */
export type RequestLogRecord = {
  /** Always `llmux.request`, so records can be picked out of a shared log stream. */
  type: 'llmux.request';
  /** The `x-llmux-trace-id` the response carried. */
  trace_id: string;
  /** ISO time the request arrived. */
  started_at: string;
  /** Route name (`chat`, `embeddings`, `messages`, …); `unknown` for paths that matched none. */
  route: string;
  method: string;
  /** Path under the mount point, without the query string. */
  path: string;
  stream?: boolean;
  /** Who asked: the app's identity and the gateway key's name (never the key). */
  identity?: { user?: string; team?: string; tenant?: string; key?: string };
  /** The client's `x-llmux-metadata`. */
  metadata?: Record<string, unknown>;
  /** The model the client asked for. */
  requested_model?: string;
  /** The model sent upstream (after aliases and `override_params`). */
  model?: string;
  /** The model the provider said answered. */
  response_model?: string;
  response_id?: string;
  finish_reasons?: string[];
  /** Provider and target that answered (or served the cached answer's original call). */
  provider?: string;
  target?: string;
  attempts: LogAttempt[];
  retries: number;
  /** Times the router moved on to another target. */
  fallbacks: number;
  cache: {
    status: CacheStatus;
    mode?: 'simple' | 'semantic';
    /** On a hit: USD the original call cost, i.e. what this answer saved. */
    saved_cost_usd?: number;
    similarity?: number;
    age_seconds?: number;
  };
  usage?: {
    input_tokens: number;
    output_tokens: number;
    total_tokens: number;
    cached_input_tokens?: number;
    reasoning_tokens?: number;
  };
  /** USD; absent when unknown (no usage reported, or no price for the model). */
  cost_usd?: number;
  /** No price is known for the model: its cost is not counted. */
  unpriced: boolean;
  cost_status?: 'unpriced' | 'no_usage';
  /** Time to the first content token, ms. */
  ttft_ms?: number;
  /** Until the response (or the stream's last chunk), ms. */
  duration_ms: number;
  /** HTTP status, or for a stream that ended early the status of what ended it (502 upstream, 499 client). */
  status: number;
  outcome: RequestOutcome;
  error?: { code: string; message: string; type?: string; source?: string; param?: string | null; provider_code?: string };
  /** A refusal by a budget or rate limit: which one. */
  limit?: { kind: 'budget' | 'rate_limit'; scope?: string; scope_value?: string; metric?: string };
  /** With `logBodies`: the request as the gateway validated it (OpenAI shape), after redaction. */
  request_body?: unknown;
  /** With `logBodies`: the answer (a stream assembled into one completion), after redaction. */
  response_body?: unknown;
};
