import type { TracerProvider } from '@opentelemetry/api';
import type { Plan } from '../config/plan.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { ChunkOut, ResolvedTarget } from '../providers/types.js';
import { assembleCompletion } from '../stream/assemble.js';
import type { RequestLogRecord } from './log-record.js';
import { LogQueue } from './log-queue.js';
import { loggerSink } from './logger-sink.js';
import { GatewayMetrics } from './metrics.js';
import { RecentRequests } from './recent-requests.js';
import { redactDeep, redactOwned, secretsFor } from './redact-record.js';
import { SinkSet, type LogSink } from './sink-set.js';
import { spansFor, type SpanContext } from './spans.js';

/** A record on its way to the sinks, with what redaction and spans need but the record must not hold. */
export interface PendingRecord extends SpanContext {
  record: RequestLogRecord;
  /** The request's plan and the targets it reached: their keys are removed from the record. */
  plan?: Plan;
  targets?: Array<ResolvedTarget | undefined>;
  /** The gateway key the request presented, to keep out of its record (see `presentedKeyOf`). */
  presentedKey?: string;
  /** With `logBodies`: the request body and the answer (a completion, or a stream's chunks). */
  bodies?: { request?: unknown; completion?: unknown; chunks?: ChunkOut[] };
}

/** Writes a sink may have pending before its new records are dropped. */
const MAX_PENDING_WRITES = 100;

/**
 * Everything that happens to a request record after the response path let go of it: redaction,
 * then the sinks — the recent-requests ring, Prometheus, OpenTelemetry, the logger, `onLog` — each
 * isolated, fed from one bounded queue on a later event-loop turn.
 */
export class Observability {
  readonly recent: RecentRequests;
  readonly metrics?: GatewayMetrics;
  /** Whether requests become spans (`tracing: false` turns them off); stages keep what spans read only then. */
  readonly spans: boolean;
  /** Records lost, by sink (`queue` when the queue itself was full, `redact` when the hook threw). */
  readonly dropped: Record<string, number> = {};
  private readonly queue: LogQueue<PendingRecord>;
  private readonly sinks: SinkSet<{ record: RequestLogRecord; pending: PendingRecord }>;
  private readonly tracer: TracerProvider | undefined;
  /** The ring is the only sink: records are redacted when read, not per request. */
  private readonly ringOnly: boolean;

  constructor(private readonly gw: GatewayInternals) {
    const o = gw.options;
    this.recent = new RecentRequests(o.recentRequests ?? 100);
    if (o.metrics !== false) this.metrics = new GatewayMetrics(o.metrics ?? {});
    this.tracer = o.tracing ? o.tracing.tracerProvider : undefined;
    this.spans = o.tracing !== false;
    type Item = { record: RequestLogRecord; pending: PendingRecord };
    const sinks: LogSink<Item>[] = [{ name: 'recent', write: ({ record }) => this.recent.push(record) }];
    if (this.metrics) sinks.push({ name: 'metrics', write: ({ record }) => this.metrics!.observe(record) });
    if (this.spans) sinks.push({ name: 'tracing', write: ({ record, pending }) => spansFor(this.tracer, record, pending) });
    if (gw.logger) {
      const logger = loggerSink(gw.logger);
      sinks.push({ name: logger.name, write: ({ record }) => logger.write(record) });
    }
    if (o.onLog) {
      const onLog = o.onLog;
      sinks.push({ name: 'onLog', write: ({ record }) => onLog(record) as void | PromiseLike<unknown> });
    }
    this.ringOnly = sinks.length === 1;
    this.sinks = new SinkSet(sinks, MAX_PENDING_WRITES, (sink) => this.drop(sink));
    this.queue = new LogQueue(o.logQueueSize ?? 1000, (p) => this.deliver(p), () => this.drop('queue'));
  }

  /** Queues a record: constant time, never throws, never waits. */
  emit(pending: PendingRecord): void {
    if (this.ringOnly) this.recent.push(() => this.prepareOrDrop(pending));
    else this.queue.push(pending);
  }

  /** Delivers every queued record now, so readers see the latest requests. */
  drain(): void {
    this.queue.drain();
  }

  private drop(sink: string): void {
    this.dropped[sink] = (this.dropped[sink] ?? 0) + 1;
    this.metrics?.dropped(sink);
  }

  private deliver(pending: PendingRecord): void {
    const record = this.prepareOrDrop(pending);
    if (record) this.sinks.deliver({ record, pending });
  }

  private prepareOrDrop(pending: PendingRecord): RequestLogRecord | undefined {
    try {
      return this.prepare(pending);
    } catch {
      this.drop('redact');
      return undefined;
    }
  }

  /** Keys out, bodies in (when enabled), then the app's own `redact` hook, which may also filter the record out. */
  private prepare(pending: PendingRecord): RequestLogRecord | undefined {
    const secrets = secretsFor(this.gw, pending.plan, pending.targets ?? [], pending.presentedKey);
    // The record is this request's alone (metadata parsed for it, every other object built for it):
    // redacted in place of a copy. Bodies may be the caller's own objects (`gateway.chat()`): copied.
    let record = redactOwned(pending.record, secrets);
    const bodies = pending.bodies;
    if (this.gw.options.logBodies && bodies) {
      if (bodies.request !== undefined) record.request_body = redactDeep(bodies.request, secrets);
      const answer = bodies.completion ?? (bodies.chunks?.length ? assembleCompletion(bodies.chunks) : undefined);
      if (answer !== undefined) record.response_body = redactDeep(answer, secrets);
    }
    const hook = this.gw.options.redact;
    if (hook) {
      const changed = hook(record);
      if (changed === null) return undefined;
      if (changed) record = changed;
    }
    return record;
  }
}

const instances = new WeakMap<GatewayInternals, Observability>();

/** The gateway's observability, created with its stages in `createGateway`. */
export function observabilityOf(gw: GatewayInternals): Observability {
  let o = instances.get(gw);
  if (!o) instances.set(gw, (o = new Observability(gw)));
  return o;
}
