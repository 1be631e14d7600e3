export { createGateway, type Gateway } from './gateway.js';
export { GatewayError, ERROR_STATUS, type ErrorCode, type AttemptSummary } from './errors.js';
export { AbortLink, type AbortSource } from './upstream/abort-link.js';
export { within } from './timing/within.js';
export type { GatewayRequest, GatewayResponse, GatewayContext } from './types.js';
export type { GatewayOptions, ProviderDefaults, GatewayLogger, RequestLimits, PricingEntry } from './options.js';
export type { RoutingOptions, ResolveHost } from './router/routing-options.js';
export type {
  GatewayConfig,
  TargetConfig,
  RetryConfig,
  CacheConfig,
  BudgetConfig,
  RateLimitConfig,
  CircuitBreakerConfig,
  StrategyConfig,
} from './config/schema.js';
export type { Provider, ResolvedTarget, CallContext, StreamTranslator, UpstreamEvent, ChunkOut, UpstreamRequest, TokenCounting, TokenCount } from './providers/types.js';
export type * from './providers/openai-types.js';
export { openAICompatible, type OpenAICompatiblePreset } from './providers/openai-compatible/provider.js';
export type { GatewayStore } from './store/types.js';
export type { BreakerStore, BreakerPolicy, BreakerStatus, BreakerDecision, BreakerState } from './store/breaker-store.js';
export { createMemoryStore, type MemoryStoreOptions } from './store/memory/create-memory-store.js';
export type {
  LimitStore,
  AdmitRequest,
  AdmitResult,
  CounterClaim,
  WindowClaim,
  WindowStatus,
  SettleAmounts,
  SettleOptions,
  LimitUsage,
  CounterUsage,
  WindowUsage,
} from './store/limit-store.js';
export { createSqliteStore, type SqliteStore, type SqliteStoreOptions } from './store/sqlite/create-sqlite-store.js';
export type { LimitOptions } from './options.js';
export type { UsageReport, BudgetUsageRow, RateLimitUsageRow } from './limits/usage-view.js';
export { usageReport } from './limits/usage-view.js';
export type { PipelineStage, RequestState, Outcome } from './pipeline/state.js';
export type { CacheStore, VectorMatch } from './store/cache-store.js';
export { createMemoryCache, type MemoryCacheOptions } from './store/memory/cache.js';
export type { CacheOptions } from './cache/cache-options.js';
export type { CacheScratch } from './cache/cache-stage.js';
export { keyvCacheStore, isKeyv, type KeyvLike, type KeyvCacheOptions } from './cache/keyv-cache-store.js';
export { SqliteKeyvStore, type SqliteKeyvStoreOptions, type SqliteDatabase as SqliteKeyvDatabase } from './cache/sqlite-keyv-store.js';
export { VectorIndex, type VectorIndexOptions } from './cache/vector-index.js';
export { encodeVector, decodeVector, normalise } from './cache/vector-codec.js';
export type { RequestLogRecord, LogAttempt, RequestOutcome } from './observability/log-record.js';
export type { MetricsOptions, TracingOptions } from './observability/observability-options.js';
export { recentRequests, type RecentRequestsView } from './observability/recent-requests-view.js';
export type { LogStats } from './observability/log-stats.js';
export type { AuthOptions, GatewayKeyConfig, AdminKeyConfig } from './auth/auth-options.js';
export type { PlaygroundInfo } from './playground/info.js';
export type { PlaygroundNode } from './playground/describe-plan.js';
export type { PlaygroundUsage, CacheRate } from './playground/usage.js';
export type { RecentRequest } from './playground/recent-requests.js';
