import { z } from 'zod';
import { NOT_FORWARDABLE } from '../upstream/attempt-overrides.js';
import { isTimeZone } from '../limits/calendar.js';

/**
 * The Portkey config document (snake_case JSON), extended with budgets, rate limits, a circuit breaker
 * and model aliases. Unknown keys on a target are kept: they are provider-specific settings
 * (`aws_region`, `resource_name`, `vertex_project_id`, …) that the provider reads. Unknown keys inside
 * `strategy`, `retry`, `cache`, `budget`, `rate_limit` and `circuit_breaker` are refused, naming them:
 * dropped, a misspelt limit (`tokens_per_minutes`) would silently not be enforced.
 */

const statusCodes = z.array(z.number().int().min(100).max(599));

/**
 * A base URL the gateway will call: http(s) only. Any other scheme could never answer, so a server
 * config with one must fail at start-up, not as a 502 on every request.
 */
export const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL');

/**
 * A base URL operation paths are appended to (`custom_host`, a provider's `baseURL`): a query or
 * fragment would swallow them (`/v1?tenant=a` + `/chat/completions` calls `/v1` with the path in the query).
 */
export const baseUrl = httpUrl.refine((u) => !/[?#]/.test(u), 'must not hold a query string or fragment (? or #): the operation path is appended to it');

export const retrySchema = z.strictObject({
  attempts: z.number().int().min(0).max(10),
  on_status_codes: statusCodes.optional(),
  use_retry_after_header: z.boolean().optional(),
});

export const cacheSchema = z.strictObject({
  mode: z.enum(['simple', 'semantic', 'disabled']),
  /** Seconds. */
  max_age: z.number().positive().optional(),
  /** Cosine similarity a semantic hit must reach. Default 0.95. */
  threshold: z.number().min(0).max(1).optional(),
  /** The target used to embed prompts for semantic mode. */
  embedding: z.looseObject({ provider: z.string(), model: z.string().optional(), custom_host: baseUrl.optional() }).optional(),
  /** Share entries across keys/tenants. Default false: entries are scoped to the caller. */
  shared: z.boolean().optional(),
  /** Let requests with tools use semantic matching. Default false. */
  semantic_tools: z.boolean().optional(),
});

const scopeSchema = z
  .string()
  .regex(/^(gateway|user|team|key|metadata\.[A-Za-z0-9_.-]+)$/, 'scope must be gateway, user, team, key or metadata.<field>');

export const budgetSchema = z
  .strictObject({
    max_cost_per_hour: z.number().nonnegative().optional(),
    max_cost_per_day: z.number().nonnegative().optional(),
    max_cost_per_month: z.number().nonnegative().optional(),
    max_tokens_per_day: z.number().int().nonnegative().optional(),
    scope: scopeSchema.optional(),
    /** IANA timezone for calendar windows. Default UTC. */
    timezone: z.string().refine(isTimeZone, 'timezone must be an IANA zone name such as "Europe/Paris"').optional(),
  })
  .refine((b) => Object.keys(b).some((k) => k.startsWith('max_')), 'a budget needs at least one max_* limit');

export const rateLimitSchema = z
  .strictObject({
    requests_per_minute: z.number().int().positive().optional(),
    tokens_per_minute: z.number().int().positive().optional(),
    requests_per_day: z.number().int().positive().optional(),
    scope: scopeSchema.optional(),
  })
  .refine((r) => Object.keys(r).some((k) => k.includes('_per_')), 'a rate_limit needs a *_per_* limit');

export const circuitBreakerSchema = z.strictObject({
  /** Failures within `window` seconds that open the circuit. Default 5. */
  failure_threshold: z.number().int().positive().optional(),
  /** Seconds. Default 60. */
  window: z.number().positive().optional(),
  /** Seconds the circuit stays open before one trial request. Default 30. */
  cooldown: z.number().positive().optional(),
  /** Statuses that count as failures. Default: 429 and 5xx, network errors and timeouts. */
  on_status_codes: statusCodes.optional(),
});

export const strategySchema = z.strictObject({
  mode: z.enum(['single', 'fallback', 'loadbalance', 'conditional']),
  on_status_codes: statusCodes.optional(),
  conditions: z
    .array(z.strictObject({ query: z.record(z.string(), z.unknown()), then: z.string() }))
    .optional(),
  default: z.string().optional(),
  /** loadbalance only: prefer targets with lower recent latency. */
  latency_aware: z.boolean().optional(),
});

export interface TargetConfig {
  provider?: string;
  api_key?: string;
  name?: string;
  weight?: number;
  override_params?: Record<string, unknown>;
  retry?: z.infer<typeof retrySchema>;
  request_timeout?: number;
  custom_host?: string;
  forward_headers?: string[];
  cache?: z.infer<typeof cacheSchema>;
  on_status_codes?: number[];
  strategy?: z.infer<typeof strategySchema>;
  targets?: TargetConfig[];
  [providerSpecific: string]: unknown;
}

const targetShape = {
  provider: z.string().min(1).optional(),
  api_key: z.string().optional(),
  name: z.string().optional(),
  weight: z.number().nonnegative().optional(),
  override_params: z.record(z.string(), z.unknown()).optional(),
  retry: retrySchema.optional(),
  request_timeout: z.number().int().positive().optional(),
  custom_host: baseUrl.optional(),
  forward_headers: z
    .array(z.string().refine((name) => !NOT_FORWARDABLE.has(name.toLowerCase()), { message: 'is never forwarded upstream (host and hop-by-hop headers)' }))
    .optional(),
  cache: cacheSchema.optional(),
  on_status_codes: statusCodes.optional(),
  strategy: strategySchema.optional(),
};

export const targetSchema: z.ZodType<TargetConfig> = z.lazy(() =>
  z.looseObject({ ...targetShape, targets: z.array(targetSchema).min(1).optional() }),
);

const oneOrMany = <T extends z.ZodType>(s: T) => z.union([s, z.array(s)]);

export const configSchema = z.looseObject({
  ...targetShape,
  targets: z.array(targetSchema).min(1).optional(),
  budget: oneOrMany(budgetSchema).optional(),
  rate_limit: oneOrMany(rateLimitSchema).optional(),
  circuit_breaker: circuitBreakerSchema.optional(),
  /** Model names clients may use, mapped to the model sent upstream. */
  model_aliases: z.record(z.string(), z.string()).optional(),
  /** Overall deadline across retries and fallbacks, ms. Default 120000. */
  deadline: z.number().int().positive().optional(),
});

export type GatewayConfig = z.infer<typeof configSchema>;
export type RetryConfig = z.infer<typeof retrySchema>;
export type CacheConfig = z.infer<typeof cacheSchema>;
export type BudgetConfig = z.infer<typeof budgetSchema>;
export type RateLimitConfig = z.infer<typeof rateLimitSchema>;
export type CircuitBreakerConfig = z.infer<typeof circuitBreakerSchema>;
export type StrategyConfig = z.infer<typeof strategySchema>;
