import { z } from 'zod';
import { baseUrl, configSchema, type GatewayConfig } from './config/schema.js';
import { formatIssues } from './config/format-issues.js';
import type { GatewayContext } from './types.js';
import type { Provider } from './providers/types.js';
import type { UpstreamClientOptions } from './upstream/client.js';
import type { GatewayStore } from './store/types.js';
import type { KeyvLike } from './cache/keyv-cache-store.js';
import type { ResolveHost, RoutingOptions } from './router/routing-options.js';
import { cacheOptionsSchema, type CacheOptions } from './cache/cache-options.js';
import { authOptionsSchema, type AuthOptions } from './auth/auth-options.js';
import type { RequestLogRecord } from './observability/log-record.js';
import { observabilityOptionsShape, type MetricsOptions, type TracingOptions } from './observability/observability-options.js';

/** Per-provider defaults used by every target of that provider unless the target overrides them. */
export interface ProviderDefaults {
  /** Base URL including the API version path, e.g. `http://10.0.0.5:8000/v1`. */
  baseURL?: string;
  apiKey?: string;
  /** Provider-specific settings (`aws_region`, `resource_name`, `api_version`, …), same names as in the config. */
  [setting: string]: unknown;
}

/** Where log records go; pino loggers fit. */
export interface GatewayLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** Limits applied to every request before any work is done. */
export interface RequestLimits {
  /** Largest request body in bytes. Default 10 MiB (images as data URLs are large). */
  maxBodyBytes?: number;
  /** Most messages in one chat request. Default 5000. */
  maxMessages?: number;
  /** Deepest JSON nesting accepted. Default 64. */
  maxJsonDepth?: number;
  /** Largest total size of the request headers in bytes (`name: value` per line); more is refused with 431. Default 32768. */
  maxHeaderBytes?: number;
}

/** How budgets and rate limits reserve before the upstream call. */
export interface LimitOptions {
  /** Output tokens reserved for a request without `max_tokens` / `max_completion_tokens`. Default 4096. */
  defaultMaxTokens?: number;
  /**
   * Seconds a reservation lives when its request never settles (a crashed instance), after which it
   * stops counting. Keep it above your longest stream. Default 600.
   */
  reservationTtl?: number;
}

/**
 * One model's prices: USD per million tokens, except the two fees. A rate left out falls back to
 * the rate of the wider part it belongs to, as in the price database.
 */
export interface PricingEntry {
  input: number;
  output: number;
  /** Cache reads. Default: `input`. */
  cached_input?: number;
  /** Cache writes (Anthropic's 5-minute write). Default: `input`. */
  cache_write?: number;
  /** Anthropic's 1-hour cache writes. Default: `cache_write`. */
  cache_write_1h?: number;
  /** Reasoning (thinking) tokens. Default: `output`. */
  reasoning?: number;
  /** Audio input tokens. Default: `input`. */
  input_audio?: number;
  /** Audio input tokens read from the cache. Default: `cached_input` when set, else `input_audio`. */
  cached_input_audio?: number;
  /** Audio output tokens. Default: `output`. */
  output_audio?: number;
  /** USD per request, on top of tokens (Perplexity's request fee). Default: none. */
  per_request?: number;
  /** USD per server-side web search. Default: none. */
  per_web_search?: number;
}

export interface GatewayOptions {
  /** Where the adapters mount the gateway. Default `/llm`. The core itself sees paths relative to it. */
  basePath?: string;
  /** The Portkey-compatible config. Default: route by model name (`claude-…` → anthropic, `gpt-…` → openai, `provider/model`). */
  config?: GatewayConfig | string;
  /**
   * Per-provider defaults: base URL and key used by every target of that provider. Keys are provider
   * ids or their other spellings (`gemini` for `google`, `azure` for `azure-openai`); an unknown one is refused.
   */
  providers?: Record<string, ProviderDefaults>;
  /** Extra or replacement providers (data plus translators; see `openAICompatible`). */
  customProviders?: Provider[];
  /**
   * Shared state (cache, spend, limits, breaker). Default: in-memory. A Keyv instance holds the
   * cache only (budgets, limits and breaker then stay in memory); anything else is refused.
   */
  store?: GatewayStore | KeyvLike;
  /** Prices by model (or `provider/model`); an entry replaces the price database's for that model. */
  pricing?: Record<string, PricingEntry>;
  /**
   * A model with no price in `pricing` or the database: `allow` (default) answers it without
   * `x-llmux-cost`, with `x-llmux-cost-status: unpriced` and a warning log (token budgets count it;
   * where a cost budget applies and no target can price the request, it is refused with 403, since the
   * budget could not bound it); `reject` refuses, with 403 before any upstream call, every request
   * some target could serve with an unpriced model, budget or not.
   */
  unpricedPolicy?: 'allow' | 'reject';
  /** How budgets and rate limits reserve. */
  limitOptions?: LimitOptions;
  /**
   * Send an answer as soon as it is ready, and settle its budget, write it to the cache and record it
   * just after, off the response's path (a stream: after its last event). Saves the client a store
   * round trip per request — with Redis, the settlement's and the cache write's. What the response
   * carries is unchanged: its cost (headers, stream trailers) is computed first, and the store's
   * commands are issued at once, ahead of anything the client's next request sends.
   * `close()` waits for this work. Default false: DESIGN.md's order, where an answer leaves once its
   * budget is settled, its cache entry written and its record made.
   */
  finishAfterResponse?: boolean;
  /**
   * Key for the admin routes (`GET <mount>/usage`), sent as `Authorization: Bearer <key>` or
   * `x-llmux-admin-key`. Default: `LLMUX_ADMIN_KEY` from `env`. Without one those routes answer 404.
   */
  adminKey?: string;
  /**
   * Let clients send `x-llmux-config` / `x-portkey-config` / `x-portkey-provider` and their own keys.
   * Default false: such headers are refused with 403.
   */
  allowRequestConfig?: boolean;
  /** Hosts a request-level `custom_host` may reach even if private or loopback. Default none. */
  allowedHosts?: string[];
  /**
   * Resolves a request-level `custom_host` for the SSRF guard (every address must be public unless
   * `allowedHosts` lists the host). Default: the system resolver.
   */
  resolveHost?: ResolveHost;
  /** Retry backoff, the Retry-After bound, and the random source/clock the router uses. */
  routing?: RoutingOptions;
  /**
   * Environment to read provider keys from. Default `process.env`. The gateway's own settings
   * (`LLMUX_ADMIN_KEY`, `NODE_ENV`) are read here first, then from `process.env`.
   */
  env?: Record<string, string | undefined>;
  /** Pooled upstream HTTP client settings. */
  upstream?: UpstreamClientOptions;
  /** Request size and shape limits. */
  limits?: RequestLimits;
  /**
   * A pino-compatible logger: one line per request (`info` answered, `warn` refused, `error` failed),
   * written off the response path. Default: pino to stdout at `LLMUX_LOG_LEVEL` (default `info`;
   * `silent` turns it off). `false`: no logger.
   */
  logger?: GatewayLogger | false;
  /**
   * Receives each request's log record, off the response path. It may return a promise; one that
   * throws or rejects loses that record, and one with 100 writes pending loses new ones (both counted
   * in `llmux_log_records_dropped_total`).
   */
  onLog?: (record: RequestLogRecord) => unknown;
  /**
   * Put request and response bodies into log records (after key redaction and `redact`). Default
   * false: bodies carry prompts and personal data.
   */
  logBodies?: boolean;
  /**
   * Last look at each log record before any sink sees it, after provider and gateway keys were
   * removed: change it in place or return a new one; return `null` to keep it out of every sink.
   */
  redact?: (record: RequestLogRecord) => RequestLogRecord | null | undefined | void;
  /** How many recent request records each instance keeps in memory for `recentRequests()` and the playground. Default 100 (every kept record lives through young-generation GCs, so a larger ring costs CPU on every request); 0 keeps none. */
  recentRequests?: number;
  /** Records waiting for the log sinks; when full, new ones are dropped and counted. Default 1000. */
  logQueueSize?: number;
  /**
   * Prometheus metrics (`prom-client`): on a registry of the gateway's own, or `{ registry }` the host
   * app's, served at `<mount>/metrics` (admin key required when one is configured or `auth` is set).
   * `false` turns them off. Default on.
   */
  metrics?: false | MetricsOptions;
  /**
   * OpenTelemetry spans through `@opentelemetry/api` (GenAI semantic conventions): one per request
   * and one per upstream attempt. Default: the global tracer provider, a no-op until an SDK registers
   * one. `false` turns them off.
   */
  tracing?: false | TracingOptions;
  /**
   * Gateway keys: with `auth` set, every inference request needs one of `auth.keys` (as
   * `Authorization: Bearer`, `x-llmux-api-key`, `x-portkey-api-key`, or `x-api-key` on `/v1/messages`);
   * a missing or wrong key is a 401. Each key has a name, and may have allowed models, budgets and
   * rate limits. Default: none (the app authenticates its users itself, see `identify`).
   */
  auth?: AuthOptions;
  /**
   * Default identity when an adapter's `identify` gives none, or `handle()` is called without a
   * context: it gets the `GatewayRequest`. Default: none.
   */
  identify?: (req: unknown) => GatewayContext | undefined | Promise<GatewayContext | undefined>;
  /**
   * Where cached answers live (any Keyv instance, e.g. on SQLite or Redis) and how long to wait for
   * them. Default: the `store`, waits of 250 ms. Caching itself is turned on in the config (`cache`).
   */
  cache?: CacheOptions;
  /**
   * Serve the prompt playground and usage page at `<mount>/playground` (its JSON API under
   * `<mount>/playground/api/`, see docs/playground.md). Default: on, except with `NODE_ENV=production`
   * and no admin key configured (then absent, so usage data is never public by accident). Its API needs the admin key
   * whenever one is configured (`adminKey`, `LLMUX_ADMIN_KEY`, `auth.adminKeys`) or `auth` is set
   * (with `auth` and no admin key it is absent); `false` removes it (404).
   */
  playground?: boolean;
}

const fn = z.custom<(...args: unknown[]) => unknown>((v) => typeof v === 'function', 'expected a function');

const rate = z.number().nonnegative().optional();

const optionsSchema = z.looseObject({
  basePath: z.string().regex(/^\/[^?#]*$/, 'basePath must start with "/"').optional(),
  config: z.union([configSchema, z.string()]).optional(),
  providers: z.record(z.string(), z.looseObject({ baseURL: baseUrl.optional(), apiKey: z.string().optional(), allow_storage_uris: z.boolean().optional() })).optional(),
  customProviders: z.array(z.looseObject({ id: z.string(), chat: z.object({}).passthrough() })).optional(),
  pricing: z
    .record(
      z.string(),
      z.strictObject({
        input: z.number().nonnegative(),
        output: z.number().nonnegative(),
        cached_input: rate,
        cache_write: rate,
        cache_write_1h: rate,
        reasoning: rate,
        input_audio: rate,
        cached_input_audio: rate,
        output_audio: rate,
        per_request: rate,
        per_web_search: rate,
      }),
    )
    .optional(),
  allowRequestConfig: z.boolean().optional(),
  unpricedPolicy: z.enum(['allow', 'reject']).optional(),
  finishAfterResponse: z.boolean().optional(),
  limitOptions: z
    .object({ defaultMaxTokens: z.number().int().positive().optional(), reservationTtl: z.number().positive().optional() })
    .optional(),
  adminKey: z.string().min(1).optional(),
  allowedHosts: z.array(z.string()).optional(),
  resolveHost: fn.optional(),
  routing: z
    .looseObject({
      backoffBaseMs: z.number().nonnegative().optional(),
      backoffCapMs: z.number().nonnegative().optional(),
      maxRetryAfter: z.number().nonnegative().optional(),
      random: fn.optional(),
      sleep: fn.optional(),
      now: fn.optional(),
    })
    .optional(),
  limits: z
    .object({
      maxBodyBytes: z.number().int().positive().optional(),
      maxMessages: z.number().int().positive().optional(),
      maxJsonDepth: z.number().int().positive().optional(),
      maxHeaderBytes: z.number().int().positive().optional(),
    })
    .optional(),
  onLog: fn.optional(),
  identify: fn.optional(),
  cache: cacheOptionsSchema.optional(),
  playground: z.boolean().optional(),
  auth: authOptionsSchema.optional(),
  ...observabilityOptionsShape,
});

/** Throws one readable error naming every bad option (`options.config.targets[0].weight: …`). */
export function validateOptions(options: GatewayOptions): GatewayOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) throw new TypeError(`llmux: invalid options: ${formatIssues('options', parsed.error)}`);
  return options;
}
