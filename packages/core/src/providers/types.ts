import type { AttemptOverrides } from '../upstream/attempt-overrides.js';
import type { GatewayError } from '../errors.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './openai-types.js';

/** A config target after inheritance, with its provider, key and URL resolved once at start-up. */
export interface ResolvedTarget {
  /** JSON path in the config, e.g. `config.targets[1]`; reported in `x-llmux-target`. */
  path: string;
  /** Index among its parent's targets (Portkey's `last-used-option-index`). */
  index: number;
  provider: string;
  name?: string;
  apiKey?: string;
  /** Includes the API version path (`https://api.openai.com/v1`). */
  baseURL: string;
  overrideParams: Record<string, unknown>;
  forwardHeaders: string[];
  /** ms, per attempt, up to the first byte of a stream. */
  requestTimeout?: number;
  weight: number;
  retry?: { attempts: number; onStatusCodes?: number[]; useRetryAfter: boolean };
  /** Statuses that make the parent fallback move on (undefined: any failure). */
  onStatusCodes?: number[];
  /**
   * The client chose this target's host (a request-level `custom_host`): providers must not add
   * credentials from the server's environment.
   */
  clientHost?: boolean;
  /** Provider-specific settings from the target (`aws_region`, `resource_name`, `api_version`, …). */
  extra: Record<string, unknown>;
}

export interface CallContext {
  target: ResolvedTarget;
  /** The model sent upstream after aliases and `override_params`. */
  model: string;
  stream: boolean;
  /** The client's headers, for `forward_headers`. */
  headers: Record<string, string | string[] | undefined>;
  /**
   * How long a stream may go without a byte from upstream once its first token arrived, ms: the
   * target's `request_timeout`, else the config's overall `deadline`. Unset: no limit.
   */
  silenceLimit?: number | undefined;
  /** What the request's own headers change for this call (`x-portkey-request-timeout`, `x-portkey-forward-headers`). */
  overrides?: AttemptOverrides | undefined;
}

export interface UpstreamRequest {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

/** One framed event from the upstream stream: an SSE event or a decoded AWS event-stream message. */
export interface UpstreamEvent {
  event?: string;
  data: string;
  /** AWS event-stream headers (`:event-type`, `:message-type`, `:exception-type`). */
  headers?: Record<string, string>;
  /** Dispatched when the body ended without the event's closing blank line: it may be cut short. */
  final?: true;
}

/** A chunk on its way to the client. `raw` is the exact upstream JSON, reused when nothing changed it. */
export interface ChunkOut {
  chunk: ChatCompletionChunk;
  /** The upstream's own text of the chunk, relayed byte for byte while nothing changed it. */
  raw?: string;
  /**
   * Known from `raw` alone to be a plain delta: no usage, no finish reason, no error. Its `chunk`
   * may be parsed only when read; code that reads every chunk on the relay path checks this first.
   */
  plain?: boolean;
}

export interface StreamTranslator {
  /** One upstream event in, zero or more OpenAI chunks out. Throws `GatewayError` on an in-stream error. */
  push(event: UpstreamEvent): ChunkOut[];
  /** The upstream closed. Returns any final chunks; throws if the stream ended without its terminator. */
  end(): ChunkOut[];
}

export interface ProviderErrorInfo {
  message: string;
  type?: string;
  code?: string | null;
  param?: string | null;
  /** Seconds, from Retry-After or a provider-specific hint (Gemini's RetryInfo). */
  retryAfter?: number;
}

export type StreamFraming = 'sse' | 'aws-eventstream';

/** A count in Anthropic's shape, `{"input_tokens": n}`, with whatever else an Anthropic upstream said beside it. */
export interface TokenCount {
  input_tokens: number;
  [field: string]: unknown;
}

/**
 * How a provider counts the input tokens of an Anthropic Messages body without generating
 * (`POST /v1/messages/count_tokens`). Only providers whose upstream counts with the model's own
 * tokenizer have one: a count from another tokenizer would mislead the client more than none.
 */
export interface TokenCounting {
  /**
   * The upstream request for the client's Messages body (as sent, without `override_params`) counted
   * for `ctx.model`. `chat()` gives the same body in OpenAI's shape as `/v1/messages` hands this
   * provider's chat translator, for count endpoints that take the provider's generation request; it
   * throws the refusal `/v1/messages` would give (content only Anthropic reads), and a translator's
   * refusal thrown here names the client's fields, as there. Throws a `GatewayError` to refuse before
   * sending (a model it cannot count for).
   */
  request(body: Record<string, unknown>, ctx: CallContext, chat: () => ChatRequest): UpstreamRequest | Promise<UpstreamRequest>;
  /**
   * The upstream's 200 answer as Anthropic's count, or undefined when it holds none. The gateway
   * relays it only when `input_tokens` is a non-negative integer, and makes anything else a 502.
   */
  response(json: unknown): TokenCount | undefined;
  /**
   * Whether it counts for `model`. A target whose model (its `override_params.model`, else the
   * request's after aliases) it does not count for is left out of the count's routing, so a load
   * balancer never picks it and a fallback passes it over. Default: every model.
   */
  accepts?(model: string): boolean;
  /**
   * Another id of the same model, counted with once when the upstream refuses the count for `model`
   * with a 400: Bedrock's CountTokens refuses some cross-region inference profiles (`us.anthropic.claude-…`)
   * and takes their foundation model's id, whose tokenizer is the same. Default: none, one try.
   */
  alternateModel?(model: string): string | undefined;
}

/** How a provider speaks to its upstream. Providers are data plus these small translators. */
export interface Provider {
  id: string;
  /** Default base URL, including the API version path. */
  baseURL: string;
  /** Environment variable holding the key when a target has none. */
  envKey?: string;
  /** Further variables tried in order when `envKey` is unset (Cohere's SDK reads `CO_API_KEY`). */
  envKeyAliases?: string[];
  /**
   * A target setting that, when set, names the model served instead of the request's (Azure's
   * `deployment_id`): a gateway key's model list applies to it in a client's config.
   */
  modelSetting?: string;
  framing: StreamFraming;
  chat: {
    request(body: ChatRequest, ctx: CallContext): UpstreamRequest | Promise<UpstreamRequest>;
    response(json: unknown, ctx: CallContext): ChatCompletion;
    stream(ctx: CallContext): StreamTranslator;
  };
  embeddings?: {
    /**
     * Several requests when the upstream takes fewer texts per call than the client sent (Cohere 96,
     * Gemini 100, Bedrock Titan one): `response` translates each answer, and the gateway joins them in order.
     */
    request(body: EmbeddingsRequest, ctx: CallContext): UpstreamRequest | UpstreamRequest[] | Promise<UpstreamRequest | UpstreamRequest[]>;
    response(json: unknown, ctx: CallContext): EmbeddingsResponse;
  };
  /** Counting tokens for `POST /v1/messages/count_tokens`. Absent: targets of this provider are not asked to count. */
  countTokens?: TokenCounting;
  /** Turn a non-2xx upstream answer into the provider's message and code. */
  error(status: number, body: string, headers: Record<string, string | string[] | undefined>): ProviderErrorInfo;
  /**
   * Answer without the network (the `mock` provider). Returns what an HTTP upstream would have sent,
   * so the same translators run for local and remote providers.
   */
  transport?: (req: UpstreamRequest, signal: AbortSignal) => Promise<UpstreamResponse>;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array>;
  /** Release the connection without reading the rest. */
  dump(): Promise<void>;
}

export type ProviderFailure = GatewayError;
