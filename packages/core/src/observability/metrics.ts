import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { RequestLogRecord } from './log-record.js';
import { LabelGuard } from './label-guard.js';
import type { MetricsOptions } from './observability-options.js';

const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

/** A metric already registered under this name (a second gateway on the host's registry) is shared, not registered twice. */
function shared<T extends Metric<string>>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/**
 * The gateway's Prometheus metrics, fed from request records. Labels stay low-cardinality: route,
 * provider, model (bounded), status, outcome — never user, key or trace ids (those are in the logs).
 */
export class GatewayMetrics {
  readonly registry: Registry;
  private readonly guard: LabelGuard;
  private readonly requests: Counter<string>;
  private readonly errors: Counter<string>;
  private readonly tokens: Counter<string>;
  private readonly cost: Counter<string>;
  private readonly unpriced: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly ttft: Histogram<string>;
  private readonly cache: Counter<string>;
  private readonly cacheSaved: Counter<string>;
  private readonly fallbacks: Counter<string>;
  private readonly retries: Counter<string>;
  private readonly attempts: Counter<string>;
  private readonly rejections: Counter<string>;
  private readonly interrupted: Counter<string>;
  private readonly droppedRecords: Counter<string>;
  readonly inFlight: Gauge<string>;

  constructor(options: MetricsOptions = {}) {
    const registry = (this.registry = options.registry ?? new Registry());
    const p = options.prefix ?? 'llmux_';
    this.guard = new LabelGuard(options.maxLabelValues ?? 200);
    const registers = [registry];
    const counter = (name: string, help: string, labelNames: string[] = []) =>
      shared(registry, p + name, () => new Counter({ name: p + name, help, labelNames, registers }));
    const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
      shared(registry, p + name, () => new Histogram({ name: p + name, help, labelNames, buckets, registers }));
    this.requests = counter('requests_total', 'Requests handled, by route, provider, model, HTTP status and outcome', ['route', 'provider', 'model', 'status', 'outcome']);
    this.errors = counter('request_errors_total', 'Requests that ended in an error, by route, provider, error code and source (gateway or provider)', ['route', 'provider', 'code', 'source']);
    this.tokens = counter('tokens_total', 'Tokens used, by provider, model and type (input or output)', ['provider', 'model', 'type']);
    this.cost = counter('cost_usd_total', 'Cost of answered requests in USD, by provider and model', ['provider', 'model']);
    this.unpriced = counter('unpriced_requests_total', 'Answered requests whose model has no known price (their cost is not counted)', ['provider', 'model']);
    this.duration = histogram('request_duration_seconds', 'Time from request to response end (last stream chunk), seconds', ['route', 'provider', 'model'], LATENCY_BUCKETS);
    this.ttft = histogram('time_to_first_token_seconds', 'Time from request to the first content token, seconds', ['route', 'provider', 'model'], TTFT_BUCKETS);
    this.cache = counter('cache_requests_total', 'Cache lookups by result (HIT, SEMANTIC_HIT, MISS, REFRESH)', ['status']);
    this.cacheSaved = counter('cache_saved_usd_total', 'USD the cache saved: the original cost of each answer served from it');
    this.fallbacks = counter('fallbacks_total', 'Times the router moved on to another target', ['route']);
    this.retries = counter('retries_total', 'Retries of the same target', ['route']);
    this.attempts = counter('upstream_attempts_total', 'Upstream attempts by provider and status: the HTTP status the upstream answered, or the one the gateway gives a failure without an answer (502 unreachable or reset, 504 timed out); skipped: circuit open', ['provider', 'status']);
    this.rejections = counter('limit_rejections_total', 'Requests refused by a budget (402) or rate limit (429), by kind and scope', ['kind', 'scope']);
    this.interrupted = counter('stream_interruptions_total', 'Streams that ended early, by reason (upstream broke, client left)', ['reason']);
    this.droppedRecords = counter('log_records_dropped_total', 'Request records a log sink lost (it threw, rejected, fell behind, or the queue was full)', ['sink']);
    this.inFlight = shared(registry, `${p}requests_in_flight`, () => new Gauge({ name: `${p}requests_in_flight`, help: 'Requests being handled right now', registers }));
  }

  observe(r: RequestLogRecord): void {
    const g = this.guard;
    const provider = g.value('provider', r.provider);
    const model = g.value('model', r.model ?? r.requested_model);
    const route = g.value('route', r.route);
    this.requests.inc({ route, provider, model, status: g.value('status', r.status), outcome: r.outcome });
    // A client that left is no error of the gateway or the provider (stream_interruptions_total counts it).
    if (r.error && r.outcome !== 'client_closed') this.errors.inc({ route, provider, code: g.value('code', r.error.code), source: r.error.source ?? 'gateway' });
    // A cached answer used no tokens (budgets count it as 0 too); its record keeps the usage it replays.
    if (r.usage && r.cache.status !== 'HIT' && r.cache.status !== 'SEMANTIC_HIT') {
      this.tokens.inc({ provider, model, type: 'input' }, r.usage.input_tokens);
      this.tokens.inc({ provider, model, type: 'output' }, r.usage.output_tokens);
    }
    if (r.cost_usd !== undefined && r.cost_usd > 0) this.cost.inc({ provider, model }, r.cost_usd);
    if (r.unpriced) this.unpriced.inc({ provider, model });
    this.duration.observe({ route, provider, model }, r.duration_ms / 1000);
    if (r.ttft_ms !== undefined) this.ttft.observe({ route, provider, model }, r.ttft_ms / 1000);
    if (r.cache.status !== 'DISABLED') this.cache.inc({ status: r.cache.status });
    if (r.cache.saved_cost_usd) this.cacheSaved.inc(r.cache.saved_cost_usd);
    if (r.fallbacks) this.fallbacks.inc({ route }, r.fallbacks);
    if (r.retries) this.retries.inc({ route }, r.retries);
    for (const a of r.attempts) {
      this.attempts.inc({ provider: g.value('provider', a.provider), status: a.status !== undefined ? g.value('status', a.status) : a.latency_ms === undefined ? 'skipped' : 'error' });
    }
    if (r.limit) this.rejections.inc({ kind: r.limit.kind, scope: g.value('scope', r.limit.scope ?? 'gateway') });
    if (r.outcome === 'stream_cut') this.interrupted.inc({ reason: 'upstream' });
    if (r.outcome === 'client_closed') this.interrupted.inc({ reason: 'client' });
  }

  dropped(sink: string): void {
    this.droppedRecords.inc({ sink });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
