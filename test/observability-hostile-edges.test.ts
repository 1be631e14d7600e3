/**
 * Observability under hostile or high-variety input: Prometheus label cardinality, pino lines,
 * OpenTelemetry spans (GenAI semantic conventions), the recent-requests ring and `onLog` records.
 *
 * What docs/observability.md promises and these tests check: labels never carry users, keys, trace
 * ids, paths or metadata and stay bounded however many distinct values clients send; one JSON line
 * per request whatever the client's strings hold, with no key in it; credential-named fields (`api_key`,
 * `*_token`, …) are dropped whole; a request span with a CLIENT child per attempt, under the right
 * parent, with an error status on failures; the ring keeps its capacity; records carry the documented
 * fields for an answer, a refusal, a cut stream and a client that left.
 */
import { Writable } from 'node:stream';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions, type RequestLogRecord } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText, chatRequest, metricValue, PLANTED_KEY, scrape, scriptUpstream, streamEvents, targetAt } from './helpers/observe.js';
import { until } from './helpers/until.js';

const ADMIN_KEY = 'llmux-admin-hostile-0a1b2c3d4e5f';
const GATEWAY_KEY = 'llmux-gw-hostile-9z8y7x6w5v4u';
/** A client's own provider key in its request config: not key-shaped, so only knowing it can redact it. */
const CLIENT_KEY = 'ClientMistralKey0123456789abcdefXYZ';

let up: MockUpstream;
const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const gateways: Gateway[] = [];
const apps: TestApp[] = [];

beforeAll(async () => {
  up = await startMockUpstream();
  scriptUpstream(up);
  up.route('/hang/v1/chat/completions', { hang: true });
  up.route('/drip/v1/chat/completions', { chunks: streamEvents, chunkDelayMs: 120 });
  up.route('/echo-down/v1/chat/completions', (req) => ({
    status: 503,
    json: { error: { message: `overloaded; your key ${String(req.headers.authorization).replace(/^Bearer /, '')} is fine`, type: 'server_error' } },
  }));
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => exporter.reset());

function gateway(options: GatewayOptions): { g: Gateway; records: RequestLogRecord[] } {
  const records: RequestLogRecord[] = [];
  const g = createGateway({
    env: {},
    routing: { sleep: async () => undefined },
    tracing: { tracerProvider },
    onLog: (r) => void records.push(r),
    ...options,
  });
  gateways.push(g);
  return { g, records };
}

async function app(options: Record<string, unknown>): Promise<{ a: TestApp; records: RequestLogRecord[] }> {
  const records: RequestLogRecord[] = [];
  const a = await appFactories.express5!({ env: {}, tracing: { tracerProvider }, onLog: (r: RequestLogRecord) => void records.push(r), ...options } as never);
  apps.push(a);
  return { a, records };
}

/** Delivers queued records (and so spans) now. */
function spansOf(g: Gateway): ReadableSpan[] {
  recentRequests(g);
  return exporter.getFinishedSpans();
}

const roots = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.INTERNAL);
const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

/** Distinct values one label takes in a Prometheus text scrape. */
function labelValues(text: string, label: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`, 'g'))) out.add(m[1]!);
  return out;
}

/** A pino logger writing into an array, one entry per write (pino writes one line per call). */
function capturingPino(): { logger: ReturnType<typeof pino>; writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      writes.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), writes };
}

describe('Prometheus labels under high-variety input', () => {
  it('distinct models, trace ids, metadata, users, keys and paths never grow the label sets past their bound', async () => {
    const { g } = gateway({
      config: { targets: [targetAt(up, 'ok')] },
      metrics: { maxLabelValues: 10 },
      auth: { keys: [{ key: GATEWAY_KEY, name: 'team-hostile' }], adminKeys: [ADMIN_KEY] },
    });
    const auth = { authorization: `Bearer ${GATEWAY_KEY}` };
    for (let i = 0; i < 40; i++) {
      const res = await g.handle(
        chatRequest(
          { model: `model-${i}-${'q'.repeat(i)}` },
          { ...auth, 'x-llmux-trace-id': `trace-hostile-${i}`, 'x-llmux-metadata': JSON.stringify({ tenant: `tenant-hostile-${i}` }), 'x-portkey-trace-id': `pk-${i}` },
        ),
        { user: `user-hostile-${i}`, team: `team-hostile-${i}` },
      );
      expect(res.status).toBe(200);
      // An unknown path: its record is kept, its path is no label.
      expect((await g.handle({ method: 'POST', path: `/v1/path-hostile-${i}`, headers: auth, body: {} })).status).toBe(404);
    }
    const text = await scrape(g, { authorization: `Bearer ${ADMIN_KEY}` });
    const models = labelValues(text, 'model');
    expect(models.size).toBeLessThanOrEqual(12); // 10 + `other` + `none`
    expect(models.has('other')).toBe(true);
    expect([...labelValues(text, 'route')].sort()).toEqual(['chat', 'unknown']);
    for (const leaked of ['trace-hostile-', 'pk-1', 'tenant-hostile-', 'user-hostile-', 'team-hostile', 'path-hostile-', GATEWAY_KEY]) expect(text).not.toContain(leaked);
    expect(metricValue(text, 'llmux_requests_total')).toBe(80);
    // Every series line is bounded: nothing scales with the 80 requests' distinct values.
    expect(text.split('\n').filter((l) => l && !l.startsWith('#')).length).toBeLessThan(400);
  });

  it('model names with quotes, backslashes and line feeds are escaped, so the scrape stays parseable', async () => {
    const { g } = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const model = 'evil"} 1\nllmux_fake_total{x="y\\';
    expect((await g.handle(chatRequest({ model }))).status).toBe(200);
    const text = await scrape(g);
    expect(text.split('\n').some((l) => l.startsWith('llmux_fake_total'))).toBe(false);
    expect(metricValue(text, 'llmux_requests_total', { model: 'evil\\"} 1\\nllmux_fake_total{x=\\"y\\\\' })).toBe(1);
  });
});

describe('pino lines under hostile strings', () => {
  it('one JSON line per request, control characters escaped, no gateway, admin or provider key in it', async () => {
    const { logger, writes } = capturingPino();
    const { g } = gateway({
      config: { strategy: { mode: 'fallback' }, targets: [targetAt(up, 'down'), targetAt(up, 'ok')] },
      logger: logger as never,
      auth: { keys: [{ key: GATEWAY_KEY, name: 'team-a' }], adminKeys: [ADMIN_KEY] },
    });
    const hostile = `\u001b[31mred\u001b[0m\nFAKE {"level":50}\r\u2028\u2029${'x'.repeat(20_000)}`;
    const res = await g.handle(
      chatRequest({ model: 'gpt-4o-mini\u001b[2J' }, { authorization: `Bearer ${GATEWAY_KEY}`, 'x-llmux-metadata': JSON.stringify({ note: hostile, nested: [{ authorization: `Bearer ${ADMIN_KEY}` }] }) }),
    );
    expect(res.status).toBe(200);
    recentRequests(g);
    expect(writes).toHaveLength(1);
    const line = writes[0]!;
    expect(line.endsWith('\n')).toBe(true);
    // JSON text may hold U+2028/U+2029 raw; line feeds, carriage returns and ESC must be escaped.
    expect(line.slice(0, -1)).not.toMatch(/[\n\r\u001b]/);
    const parsed = JSON.parse(line);
    expect(parsed).toMatchObject({ msg: 'llmux request', level: 30, identity: { key: 'team-a' }, metadata: { note: hostile, nested: [{ authorization: '[REDACTED]' }] } });
    for (const secret of [GATEWAY_KEY, ADMIN_KEY, PLANTED_KEY]) expect(line).not.toContain(secret);
  });
});

describe('redaction of nested secrets', () => {
  it('credential-named fields at any depth of metadata are dropped whole', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const metadata = { a: [{ b: { api_key: 'plain-1', password: { x: 'plain-2' } } }], 'X-API-KEY': 'plain-3', refresh_token: 'plain-4', 'proxy-authorization': 'plain-5' };
    expect((await g.handle(chatRequest({}, { 'x-llmux-metadata': JSON.stringify(metadata) }))).status).toBe(200);
    recentRequests(g);
    expect(records[0]!.metadata).toEqual({ a: [{ b: { api_key: '[REDACTED]', password: '[REDACTED]' } }], 'X-API-KEY': '[REDACTED]', refresh_token: '[REDACTED]', 'proxy-authorization': '[REDACTED]' });
  });

  it("a client's own key in its request config, echoed by the provider, reaches no record, line, span or response", async () => {
    const { logger, writes } = capturingPino();
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'ok')] }, allowRequestConfig: true, allowedHosts: ['127.0.0.1'], logger: logger as never });
    const config = {
      strategy: { mode: 'fallback' },
      targets: [
        { provider: 'openai', api_key: CLIENT_KEY, custom_host: `${up.url}/echo-down/v1` },
        { provider: 'openai', api_key: CLIENT_KEY, custom_host: `${up.url}/echo-down/v1` },
      ],
    };
    const res = await g.handle(chatRequest({}, { 'x-portkey-config': JSON.stringify(config) }));
    expect(res.status).toBe(503);
    const spans = spansOf(g);
    expect(records).toHaveLength(1);
    expect(records[0]!.attempts).toHaveLength(2);
    expect(records[0]!.attempts[0]!.error).toContain('[REDACTED]');
    const everything = JSON.stringify([records, writes, res.body, res.headers, spans.map((s) => [s.name, s.attributes, s.status, s.events])]);
    expect(everything).not.toContain(CLIENT_KEY);
  });

  // Guards: `*_token` names of several words (aws_session_token, github_access_token) are credential fields.
  it('metadata fields named like *_token are dropped whole, whatever comes before _token', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const metadata = { aws_session_token: 'IQoJb3JpZ2luX2VjEPlainSessionValue', github_access_token: 'plain-gh-value-123' };
    expect((await g.handle(chatRequest({}, { 'x-llmux-metadata': JSON.stringify(metadata) }))).status).toBe(200);
    recentRequests(g);
    expect(records[0]!.metadata).toEqual({ aws_session_token: '[REDACTED]', github_access_token: '[REDACTED]' });
  });

  // Guards: provider-prefixed key names (openai_api_key, anthropic_api_key) are credential fields.
  it('metadata fields named <provider>_api_key are dropped whole', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const metadata = { nested: { openai_api_key: 'plain-openai-value', anthropic_api_key: 'plain-anthropic-value' } };
    expect((await g.handle(chatRequest({}, { 'x-llmux-metadata': JSON.stringify(metadata) }))).status).toBe(200);
    recentRequests(g);
    expect(records[0]!.metadata).toEqual({ nested: { openai_api_key: '[REDACTED]', anthropic_api_key: '[REDACTED]' } });
  });
});

describe('spans', () => {
  it('a request span with one CLIENT child per attempt (a retry, then a fallback), all in its trace', async () => {
    const { g } = gateway({ config: { strategy: { mode: 'fallback' }, targets: [targetAt(up, 'down', { retry: { attempts: 1 } }), targetAt(up, 'ok')] } });
    expect((await g.handle(chatRequest())).status).toBe(200);
    const spans = spansOf(g);
    const [root, ...others] = roots(spans);
    expect(others).toHaveLength(0);
    const attempts = childrenOf(spans, root!);
    expect(attempts.map((a) => [a.kind, a.attributes['llmux.target'], a.attributes['http.response.status_code'], a.status.code])).toEqual([
      [SpanKind.CLIENT, 'config.targets[0]', 503, SpanStatusCode.ERROR],
      [SpanKind.CLIENT, 'config.targets[0]', 503, SpanStatusCode.ERROR],
      [SpanKind.CLIENT, 'config.targets[1]', 200, SpanStatusCode.UNSET],
    ]);
    expect(root!.attributes).toMatchObject({ 'llmux.retries': 1, 'llmux.fallbacks': 1, 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai' });
    for (const a of attempts) expect(a.spanContext().traceId).toBe(root!.spanContext().traceId);
    expect(JSON.stringify(spans.map((s) => [s.attributes, s.status]))).not.toContain(PLANTED_KEY);
  });

  it('a client that leaves mid-stream (openai SDK abort through Express): the span ends, not as an error, and the upstream stops', async () => {
    const { a, records } = await app({ config: { targets: [targetAt(up, 'drip' as never)] } });
    const client = new OpenAI({ apiKey: 'x', baseURL: `${a.gatewayURL}/v1`, maxRetries: 0 });
    const abortedBefore = up.aborted;
    const ac = new AbortController();
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true }, { signal: ac.signal });
    let n = 0;
    try {
      for await (const _chunk of stream) if (++n === 2) ac.abort();
    } catch {
      // The SDK may raise its abort error or simply end the iteration.
    }
    expect(n).toBe(2);
    expect(await until(() => (recentRequests(a.gateway), records.length === 1))).toBe(true);
    expect(await until(() => up.aborted > abortedBefore)).toBe(true);
    const root = roots(exporter.getFinishedSpans()).find((s) => s.attributes['llmux.trace_id'] === records[0]!.trace_id)!;
    expect(root).toBeDefined();
    expect(root.ended).toBe(true);
    expect(root.attributes).toMatchObject({ 'llmux.outcome': 'client_closed', 'http.response.status_code': 499, 'llmux.stream': true });
    expect(root.status.code).toBe(SpanStatusCode.UNSET);
    const m = await scrape(a.gateway);
    expect(metricValue(m, 'llmux_requests_in_flight')).toBe(0);
    expect(metricValue(m, 'llmux_stream_interruptions_total', { reason: 'client' })).toBe(1);
    expect(metricValue(m, 'llmux_request_errors_total')).toBe(0);
  });

  // Guards: requests that call no model (a path scan, a refused /metrics scrape) carry no gen_ai.* attributes.
  it('spans of unknown paths and admin routes do not claim to be GenAI chat operations', async () => {
    const { g } = gateway({ config: { targets: [targetAt(up, 'ok')] }, adminKey: ADMIN_KEY });
    expect((await g.handle({ method: 'GET', path: '/wp-login.php', headers: {} })).status).toBe(404);
    expect((await g.handle({ method: 'GET', path: '/metrics', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const spans = roots(spansOf(g));
    expect(spans).toHaveLength(2);
    for (const s of spans) {
      expect(s.status.code).toBe(SpanStatusCode.ERROR);
      expect(s.attributes['gen_ai.operation.name']).toBeUndefined();
    }
  });

  // Guards: each attempt span names the model that attempt sent (override_params.model), not the client's.
  it("an attempt span's gen_ai.request.model is the model that attempt sent upstream", async () => {
    const { g } = gateway({
      config: { strategy: { mode: 'fallback' }, targets: [targetAt(up, 'down', { override_params: { model: 'gpt-4o' } }), targetAt(up, 'ok', { override_params: { model: 'gpt-4.1-nano' } })] },
    });
    const before = up.requests.length;
    expect((await g.handle(chatRequest({ model: 'gpt-4o-mini' }))).status).toBe(200);
    expect(up.requests.slice(before).map((r) => r.json.model)).toEqual(['gpt-4o', 'gpt-4.1-nano']);
    const spans = spansOf(g);
    const attempts = childrenOf(spans, roots(spans)[0]!);
    expect(attempts.map((a) => [a.attributes['llmux.target'], a.attributes['gen_ai.request.model'], a.name])).toEqual([
      ['config.targets[0]', 'gpt-4o', 'chat gpt-4o'],
      ['config.targets[1]', 'gpt-4.1-nano', 'chat gpt-4.1-nano'],
    ]);
  });

  // Guards: a request no model answered has no gen_ai.response.model.
  it('a failed request span has no gen_ai.response.model', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'down')] } });
    expect((await g.handle(chatRequest())).status).toBe(503);
    const root = roots(spansOf(g))[0]!;
    expect(records[0]!.response_model).toBeUndefined();
    expect(root.status.code).toBe(SpanStatusCode.ERROR);
    expect(root.attributes['gen_ai.response.model']).toBeUndefined();
  });

  // Guards: the attempt whose upstream stream broke is a failed attempt in the record and an error CLIENT span.
  it('the attempt whose stream broke is a failed attempt in the record and an error CLIENT span', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'cut')] } });
    await bodyText(await g.handle(chatRequest({ stream: true }))).catch(() => undefined);
    const spans = spansOf(g);
    expect(records[0]).toMatchObject({ outcome: 'stream_cut', status: 502 });
    expect(records[0]!.attempts).toHaveLength(1);
    expect(records[0]!.attempts[0]!.error).toBeDefined();
    const [attempt] = childrenOf(spans, roots(spans)[0]!);
    expect(attempt!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('the recent-requests ring and the playground view of it', () => {
  it('keeps its capacity whatever arrives, newest first, without metadata or identities in the usage rows', async () => {
    const { g } = gateway({ config: { targets: [targetAt(up, 'ok')] }, recentRequests: 5, adminKey: ADMIN_KEY, playground: true });
    for (let i = 0; i < 12; i++) {
      await g.handle(chatRequest({}, { 'x-llmux-trace-id': `ring-${i}`, 'x-llmux-metadata': JSON.stringify({ secret_note: `meta-${i}` }) }), { user: `ring-user-${i}` });
    }
    const view = recentRequests(g);
    expect(view.capacity).toBe(5);
    expect(view.records.map((r) => r.trace_id)).toEqual(['ring-11', 'ring-10', 'ring-9', 'ring-8', 'ring-7']);
    expect(recentRequests(g, { limit: 2 }).records).toHaveLength(2);
    const res = await g.handle({ method: 'GET', path: '/playground/api/requests', headers: { 'x-llmux-admin-key': ADMIN_KEY } });
    expect(res.status).toBe(200);
    const rows = (res.body as { data: Array<Record<string, unknown>> }).data;
    expect(rows.map((r) => r.trace_id)).toEqual(['ring-11', 'ring-10', 'ring-9', 'ring-8', 'ring-7']);
    expect(JSON.stringify(rows)).not.toMatch(/meta-|ring-user-/);
    const usage = await g.handle({ method: 'GET', path: '/usage', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(usage.status).toBe(200);
    expect((usage.body as { logs: unknown }).logs).toEqual({ dropped: {}, recent_capacity: 5 });
  });
});

describe('onLog records as docs/observability.md describes them', () => {
  it('an answer: status, latency, tokens, cost, cache, retries, target and the trace id the response carried', async () => {
    const { g, records } = gateway({ config: { strategy: { mode: 'fallback' }, targets: [targetAt(up, 'down'), targetAt(up, 'ok')] } });
    const res = await g.handle(chatRequest());
    recentRequests(g);
    expect(records[0]).toMatchObject({
      type: 'llmux.request',
      trace_id: res.headers['x-llmux-trace-id'],
      status: 200,
      outcome: 'success',
      target: res.headers['x-llmux-target'],
      provider: 'openai',
      retries: 0,
      fallbacks: 1,
      cache: { status: 'DISABLED' },
      usage: { input_tokens: 16, output_tokens: 363, total_tokens: 379 },
      response_id: 'chatcmpl-D8Z5f52zQqikDBEKQMQoYcWMcWPeU',
      finish_reasons: ['stop'],
    });
    expect(records[0]!.cost_usd).toBeCloseTo(Number(res.headers['x-llmux-cost']), 12);
    expect(records[0]!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(records[0]!.ttft_ms).toBeGreaterThanOrEqual(0);
  });

  it('a refusal by a rate limit: 429 with the limit that refused, and no attempt', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'ok')], rate_limit: { requests_per_minute: 1, scope: 'metadata.tenant' } } });
    const h = { 'x-llmux-metadata': JSON.stringify({ tenant: 'acme' }) };
    expect((await g.handle(chatRequest({}, h))).status).toBe(200);
    const res = await g.handle(chatRequest({}, h));
    expect(res.status).toBe(429);
    recentRequests(g);
    expect(records[1]).toMatchObject({
      trace_id: res.headers['x-llmux-trace-id'],
      status: 429,
      outcome: 'error',
      attempts: [],
      error: { code: 'rate_limited' },
      limit: { kind: 'rate_limit', scope: 'metadata.tenant', scope_value: 'acme' },
    });
  });

  it('a stream cut after content: 502 stream_cut, the error, the target and the trace id', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'cut')] } });
    const res = await g.handle(chatRequest({ stream: true }));
    const text = await bodyText(res).catch((e: unknown) => String(e));
    expect(text).not.toContain('[DONE]');
    recentRequests(g);
    expect(records[0]).toMatchObject({ trace_id: res.headers['x-llmux-trace-id'], status: 502, outcome: 'stream_cut', stream: true, target: 'config.targets[0]', error: { source: 'provider' } });
    expect(records[0]!.ttft_ms).toBeGreaterThanOrEqual(0);
  });

  it('a client that leaves before the answer (openai SDK timeout through Express): 499 client_closed', async () => {
    const { a, records } = await app({ config: { targets: [targetAt(up, 'hang' as never)] } });
    const client = new OpenAI({ apiKey: 'x', baseURL: `${a.gatewayURL}/v1`, maxRetries: 0, timeout: 150 });
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toThrow();
    expect(await until(() => (recentRequests(a.gateway), records.length === 1))).toBe(true);
    expect(records[0]).toMatchObject({ status: 499, outcome: 'client_closed', target: 'config.targets[0]', retries: 0 });
    expect(records[0]!.trace_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  // Guards: a stream's id and finish reasons reach its record and span (gen_ai.response.id / finish_reasons).
  it('a streamed answer records response_id and finish_reasons, as a non-streamed one does', async () => {
    const { g, records } = gateway({ config: { targets: [targetAt(up, 'stream')] } });
    const text = await bodyText(await g.handle(chatRequest({ stream: true })));
    expect(text).toContain('"finish_reason":"stop"');
    const root = roots(spansOf(g))[0]!;
    expect(records[0]).toMatchObject({ outcome: 'success', response_id: 'chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc', finish_reasons: ['stop'] });
    expect(root.attributes).toMatchObject({ 'gen_ai.response.id': 'chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc', 'gen_ai.response.finish_reasons': ['stop'] });
  });
});
