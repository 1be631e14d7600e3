import {
  context as otelContext,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  ProxyTracerProvider,
  type Attributes,
  type Context,
  type Span,
  type TracerProvider,
} from '@opentelemetry/api';
import type { GatewayRequest } from '../types.js';
import { genAiOperation, genAiProviderName } from './genai-names.js';
import type { RequestLogRecord } from './log-record.js';

/** What spans need beyond the record: where they hang in the app's trace, and when routing began. */
export interface SpanContext {
  parent?: Context;
  routedAt?: number;
  /** Sampling parameters of the request (numbers only), for `gen_ai.request.*`. */
  params?: { max_tokens?: number; temperature?: number; top_p?: number; frequency_penalty?: number; presence_penalty?: number };
}

/**
 * The trace a request belongs to, captured when it arrives: the app's active span (its HTTP
 * instrumentation's), else a `traceparent` the client sent, through whatever propagator is registered.
 */
export function parentContextFor(req: GatewayRequest): Context {
  const active = otelContext.active();
  if (trace.getSpan(active)) return active;
  return propagation.extract(active, req.headers);
}

function set(attrs: Attributes, name: string, value: string | number | boolean | string[] | undefined): void {
  if (value !== undefined) attrs[name] = value;
}

function genAiAttributes(a: Attributes, operation: string, r: RequestLogRecord, ctx: SpanContext): void {
  set(a, 'gen_ai.operation.name', operation);
  if (r.provider) {
    set(a, 'gen_ai.provider.name', genAiProviderName(r.provider));
    set(a, 'gen_ai.system', genAiProviderName(r.provider));
  }
  set(a, 'gen_ai.request.model', r.requested_model);
  // Only what a provider said answered: a request no model answered has no response model.
  set(a, 'gen_ai.response.model', r.response_model);
  set(a, 'gen_ai.response.id', r.response_id);
  set(a, 'gen_ai.response.finish_reasons', r.finish_reasons);
  set(a, 'gen_ai.usage.input_tokens', r.usage?.input_tokens);
  set(a, 'gen_ai.usage.output_tokens', r.usage?.output_tokens);
  const p = ctx.params ?? {};
  set(a, 'gen_ai.request.max_tokens', p.max_tokens);
  set(a, 'gen_ai.request.temperature', p.temperature);
  set(a, 'gen_ai.request.top_p', p.top_p);
  set(a, 'gen_ai.request.frequency_penalty', p.frequency_penalty);
  set(a, 'gen_ai.request.presence_penalty', p.presence_penalty);
}

function requestAttributes(r: RequestLogRecord, operation: string | undefined, ctx: SpanContext): Attributes {
  const a: Attributes = {};
  if (operation) genAiAttributes(a, operation, r, ctx);
  set(a, 'http.response.status_code', r.status);
  set(a, 'error.type', r.error?.code);
  set(a, 'llmux.trace_id', r.trace_id);
  set(a, 'llmux.route', r.route);
  set(a, 'llmux.target', r.target);
  set(a, 'llmux.outcome', r.outcome);
  set(a, 'llmux.stream', r.stream);
  set(a, 'llmux.cache.status', r.cache.status);
  set(a, 'llmux.cache.saved_cost_usd', r.cache.saved_cost_usd);
  set(a, 'llmux.cost_usd', r.cost_usd);
  set(a, 'llmux.unpriced', r.unpriced || undefined);
  set(a, 'llmux.retries', r.retries);
  set(a, 'llmux.fallbacks', r.fallbacks);
  set(a, 'llmux.ttft_ms', r.ttft_ms);
  set(a, 'llmux.key.name', r.identity?.key);
  set(a, 'llmux.user', r.identity?.user);
  set(a, 'llmux.team', r.identity?.team);
  return a;
}

function endWithStatus(span: Span, failed: boolean, message: string | undefined, end: number): void {
  if (failed) span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
  span.end(end);
}

/**
 * Spans of one finished request, made after the fact from its record (so tracing costs the response
 * path nothing): a span for the request named `{operation} {model}` as the GenAI conventions ask,
 * and a CLIENT child per upstream attempt. Attempt records carry durations but not start times, so
 * attempts are laid end to end from the moment routing began (retry backoff waits fall between them
 * unaccounted). With no SDK registered there is nothing to hand spans to, and it returns at once.
 */
export function spansFor(provider: TracerProvider | undefined, r: RequestLogRecord, ctx: SpanContext): void {
  const from = provider ?? trace.getTracerProvider();
  // The global provider's SDK tracer, if one is registered (asked per record, so one registered later
  // still gets spans); none: the spans would be no-ops, their ~20 attributes built for nothing.
  const tracer = from instanceof ProxyTracerProvider ? from.getDelegateTracer('llmux') : from.getTracer('llmux');
  if (!tracer) return;
  const start = Date.parse(r.started_at);
  const end = start + r.duration_ms;
  const operation = genAiOperation(r.route);
  const name = operation && r.requested_model ? `${operation} ${r.requested_model}` : `llmux ${r.route}`;
  const span = tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: start, attributes: requestAttributes(r, operation, ctx) }, ctx.parent);
  if (!span.isRecording()) return void span.end(end);
  if (r.ttft_ms !== undefined) span.addEvent('gen_ai.first_token', start + r.ttft_ms);
  const within = trace.setSpan(ctx.parent ?? otelContext.active(), span);
  let cursor = ctx.routedAt ?? start;
  for (const attempt of r.attempts) {
    const attemptStart = cursor;
    const attemptEnd = attemptStart + (attempt.latency_ms ?? 0);
    cursor = attemptEnd;
    const a: Attributes = {};
    // Each attempt's own model: a fallback's `override_params.model` differs from the one that answered.
    const model = attempt.model ?? r.requested_model;
    if (operation) {
      set(a, 'gen_ai.operation.name', operation);
      set(a, 'gen_ai.provider.name', genAiProviderName(attempt.provider));
      set(a, 'gen_ai.system', genAiProviderName(attempt.provider));
      set(a, 'gen_ai.request.model', model);
    }
    set(a, 'http.response.status_code', attempt.status);
    set(a, 'error.type', attempt.error ? String(attempt.status ?? 'skipped') : undefined);
    set(a, 'llmux.target', attempt.target);
    const label = operation ?? 'llmux';
    const child = tracer.startSpan(model ? `${label} ${model}` : `${label} ${attempt.provider}`, { kind: SpanKind.CLIENT, startTime: attemptStart, attributes: a }, within);
    endWithStatus(child, attempt.error !== undefined, attempt.error, attemptEnd);
  }
  endWithStatus(span, r.outcome === 'error' || r.outcome === 'stream_cut', r.error?.message, end);
}
