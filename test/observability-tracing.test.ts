import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText, chatRequest, PLANTED_KEY, scriptUpstream, targetAt } from './helpers/observe.js';

let up: MockUpstream;
const exporter = new InMemorySpanExporter();
const gateways: Gateway[] = [];

beforeAll(async () => {
  up = await startMockUpstream();
  scriptUpstream(up);
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
  trace.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ env: {}, routing: { sleep: async () => undefined }, ...options });
  gateways.push(g);
  return g;
}

/** Spans are made from the request's record on a later turn; `recentRequests` delivers what is queued. */
function spansOf(g: Gateway): ReadableSpan[] {
  recentRequests(g);
  return exporter.getFinishedSpans();
}

const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

describe('OpenTelemetry spans', () => {
  it('are a no-op while no SDK is registered', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    expect((await g.handle(chatRequest())).status).toBe(200);
    expect(spansOf(g)).toHaveLength(0);
    expect(recentRequests(g).dropped).toEqual({});
  });

  describe('with an SDK registered globally', () => {
    const sdk = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    beforeAll(() => {
      trace.setGlobalTracerProvider(sdk);
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    });

    it('reach a gateway made before the SDK was registered (the provider is asked per request, not once)', async () => {
      trace.disable();
      try {
        const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
        expect((await g.handle(chatRequest())).status).toBe(200);
        expect(spansOf(g)).toHaveLength(0);
        trace.setGlobalTracerProvider(sdk);
        expect((await g.handle(chatRequest())).status).toBe(200);
        expect(spansOf(g).filter((s) => s.name === 'chat gpt-4o-mini' && !s.parentSpanContext)).toHaveLength(1);
      } finally {
        // Registered again whatever happened above, for the tests after this one.
        trace.disable();
        trace.setGlobalTracerProvider(sdk);
      }
    });

    it('gives a request a span named after the GenAI conventions, with a CLIENT child per attempt', async () => {
      const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
      const res = await g.handle(chatRequest({ max_tokens: 64, temperature: 0.2 }), { user: 'ann' });
      const spans = spansOf(g);
      const root = spans.find((s) => s.name === 'chat gpt-4o-mini' && !s.parentSpanContext)!;
      expect(root).toBeDefined();
      expect(root.kind).toBe(SpanKind.INTERNAL);
      expect(root.instrumentationScope.name).toBe('llmux');
      expect(root.attributes).toMatchObject({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.system': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.response.model': 'gpt-4.1-nano-2025-04-14',
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.usage.input_tokens': 16,
        'gen_ai.usage.output_tokens': 363,
        'gen_ai.request.max_tokens': 64,
        'gen_ai.request.temperature': 0.2,
        'http.response.status_code': 200,
        'llmux.trace_id': res.headers['x-llmux-trace-id'],
        'llmux.target': 'config.targets[0]',
        'llmux.cache.status': 'DISABLED',
        'llmux.user': 'ann',
      });
      expect(root.attributes['llmux.cost_usd']).toBeGreaterThan(0);
      expect(root.status.code).toBe(SpanStatusCode.UNSET);
      expect(root.events.map((e) => e.name)).toContain('gen_ai.first_token');
      const [attempt, ...more] = childrenOf(spans, root);
      expect(more).toHaveLength(0);
      expect(attempt!.kind).toBe(SpanKind.CLIENT);
      expect(attempt!.name).toBe('chat gpt-4o-mini');
      expect(attempt!.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'http.response.status_code': 200, 'llmux.target': 'config.targets[0]' });
      expect(attempt!.spanContext().traceId).toBe(root.spanContext().traceId);
    });

    it('shows a fallback as a failed attempt span and an answered one', async () => {
      const g = gateway({ config: { strategy: { mode: 'fallback' }, targets: [targetAt(up, 'down'), targetAt(up, 'ok')] } });
      await g.handle(chatRequest());
      const spans = spansOf(g);
      const root = spans.find((s) => !s.parentSpanContext)!;
      expect(root.attributes).toMatchObject({ 'llmux.fallbacks': 1, 'llmux.target': 'config.targets[1]' });
      const attempts = childrenOf(spans, root);
      expect(attempts.map((a) => [a.attributes['llmux.target'], a.attributes['http.response.status_code'], a.status.code])).toEqual([
        ['config.targets[0]', 503, SpanStatusCode.ERROR],
        ['config.targets[1]', 200, SpanStatusCode.UNSET],
      ]);
      // The failed attempt's message echoed the key; the span carries it redacted.
      expect(JSON.stringify(attempts[0]!.status)).not.toContain(PLANTED_KEY);
      expect(attempts[0]!.status.message).toContain('[REDACTED]');
    });

    it('marks refusals and cut streams as errors with error.type', async () => {
      const g = gateway({ config: { targets: [targetAt(up, 'cut')], budget: { max_tokens_per_day: 1 } } });
      expect((await g.handle(chatRequest())).status).toBe(402);
      let root = spansOf(g).find((s) => !s.parentSpanContext)!;
      expect(root.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringContaining('budget exceeded') });
      expect(root.attributes).toMatchObject({ 'error.type': 'budget_exceeded', 'http.response.status_code': 402 });

      exporter.reset();
      const cut = gateway({ config: { targets: [targetAt(up, 'cut')] } });
      await bodyText(await cut.handle(chatRequest({ stream: true })));
      root = spansOf(cut).find((s) => !s.parentSpanContext)!;
      expect(root.attributes).toMatchObject({ 'llmux.outcome': 'stream_cut', 'llmux.stream': true });
      expect(root.status.code).toBe(SpanStatusCode.ERROR);
    });

    it('joins the caller’s trace from a W3C traceparent header', async () => {
      const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const parentId = '00f067aa0ba902b7';
      await g.handle(chatRequest({}, { traceparent: `00-${traceId}-${parentId}-01` }));
      const root = spansOf(g).find((s) => s.name.startsWith('chat') && s.kind === SpanKind.INTERNAL)!;
      expect(root.spanContext().traceId).toBe(traceId);
      expect(root.parentSpanContext?.spanId).toBe(parentId);
    });

    it('gives requests refused before routing a span too (a wrong route, bad JSON)', async () => {
      const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
      await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: '{' });
      const [span] = spansOf(g);
      expect(span).toMatchObject({ name: 'llmux chat', status: { code: SpanStatusCode.ERROR } });
      expect(span!.attributes['error.type']).toBe('invalid_json');
    });

    it('uses the tracerProvider option instead of the global one, and nothing with tracing: false', async () => {
      const own = new InMemorySpanExporter();
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] });
      const g = gateway({ config: { targets: [targetAt(up, 'ok')] }, tracing: { tracerProvider: provider } });
      await g.handle(chatRequest());
      expect(spansOf(g)).toHaveLength(0);
      expect(own.getFinishedSpans().length).toBe(2);

      const off = gateway({ config: { targets: [targetAt(up, 'ok')] }, tracing: false });
      await off.handle(chatRequest());
      expect(spansOf(off)).toHaveLength(0);
    });
  });
});
