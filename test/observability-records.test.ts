import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions, type RequestLogRecord } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText, chatRequest, completion, metricValue, nextTurn, PLANTED_KEY, scrape, scriptUpstream, targetAt } from './helpers/observe.js';

let up: MockUpstream;
const gateways: Gateway[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
  scriptUpstream(up);
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => void (up.requests.length = 0));

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ env: {}, routing: { sleep: async () => undefined }, ...options });
  gateways.push(g);
  return g;
}

/** The newest record (records reach the ring on a later turn; `recentRequests` delivers what is queued). */
const lastRecord = (g: Gateway): RequestLogRecord => recentRequests(g).records[0]!;

describe('one record per request', () => {
  it('records an answered request: ids, identity, models, attempt, tokens, cost, timings', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const res = await g.handle(chatRequest({ max_tokens: 500 }, { 'x-llmux-trace-id': 'trace-ok-1', 'x-llmux-metadata': '{"feature":"search"}' }), {
      user: 'ann',
      team: 'core',
      session: 'secret-session-token',
    });
    expect(res.status).toBe(200);
    const r = lastRecord(g);
    expect(r).toMatchObject({
      type: 'llmux.request',
      trace_id: 'trace-ok-1',
      route: 'chat',
      method: 'POST',
      path: '/v1/chat/completions',
      stream: false,
      identity: { user: 'ann', team: 'core' },
      metadata: { feature: 'search' },
      requested_model: 'gpt-4o-mini',
      model: 'gpt-4o-mini',
      response_model: completion.model,
      response_id: completion.id,
      finish_reasons: ['stop'],
      provider: 'openai',
      target: 'config.targets[0]',
      attempts: [{ target: 'config.targets[0]', provider: 'openai', status: 200, latency_ms: expect.any(Number) }],
      retries: 0,
      fallbacks: 0,
      cache: { status: 'DISABLED' },
      usage: { input_tokens: 16, output_tokens: 363, total_tokens: 379 },
      unpriced: false,
      status: 200,
      outcome: 'success',
    });
    // Only the identity fields scopes use: whatever else the app's identify returns stays out.
    expect(JSON.stringify(r)).not.toContain('secret-session-token');
    expect(r.cost_usd).toBeGreaterThan(0);
    expect(res.headers['x-llmux-cost']).toBe(String(r.cost_usd!.toFixed(10)).replace(/0+$/, ''));
    expect(r.ttft_ms).toBeGreaterThanOrEqual(0);
    expect(r.duration_ms).toBeGreaterThanOrEqual(r.ttft_ms!);
    expect(Date.parse(r.started_at)).not.toBeNaN();
    expect(r.request_body).toBeUndefined();
    expect(r.response_body).toBeUndefined();
  });

  it('records a stream once its last chunk went out, with time to first token and the usage chunk', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'stream')] } });
    const res = await g.handle(chatRequest({ stream: true, stream_options: { include_usage: true } }));
    expect(recentRequests(g).records).toHaveLength(0); // not before the stream ended
    const text = await bodyText(res);
    expect(text).toContain('data: [DONE]');
    const r = lastRecord(g);
    expect(r).toMatchObject({ stream: true, status: 200, outcome: 'success', provider: 'openai', response_model: 'gpt-4o-mini-2024-07-18' });
    expect(r.usage!.output_tokens).toBeGreaterThan(0);
    expect(r.cost_usd).toBeGreaterThan(0);
    expect(r.ttft_ms).toBeGreaterThanOrEqual(0);
  });

  it('records every attempt of a fallback, and counts it in the metrics', async () => {
    const g = gateway({ config: { strategy: { mode: 'fallback' }, targets: [targetAt(up, 'down'), targetAt(up, 'ok')] } });
    const res = await g.handle(chatRequest());
    expect(res.status).toBe(200);
    const r = lastRecord(g);
    expect(r.attempts).toEqual([
      expect.objectContaining({ target: 'config.targets[0]', provider: 'openai', status: 503, error: expect.stringContaining('overloaded') }),
      expect.objectContaining({ target: 'config.targets[1]', provider: 'openai', status: 200 }),
    ]);
    expect(r).toMatchObject({ fallbacks: 1, retries: 0, target: 'config.targets[1]', outcome: 'success' });
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_fallbacks_total', { route: 'chat' })).toBe(1);
    expect(metricValue(m, 'llmux_upstream_attempts_total', { provider: 'openai', status: '503' })).toBe(1);
    expect(metricValue(m, 'llmux_upstream_attempts_total', { provider: 'openai', status: '200' })).toBe(1);
    expect(metricValue(m, 'llmux_requests_total', { route: 'chat', provider: 'openai', status: '200', outcome: 'success' })).toBe(1);
  });

  it('records retries of one target apart from fallbacks', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'down', { retry: { attempts: 2, on_status_codes: [503] } })] } });
    const res = await g.handle(chatRequest());
    expect(res.status).toBe(503);
    const r = lastRecord(g);
    expect(r).toMatchObject({ retries: 2, fallbacks: 0, status: 503, outcome: 'error', error: { source: 'provider' } });
    expect(r.attempts).toHaveLength(3);
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_retries_total', { route: 'chat' })).toBe(2);
    expect(metricValue(m, 'llmux_request_errors_total', { code: r.error!.code, source: 'provider' })).toBe(1);
  });

  it('records a cache hit with what it saved, and counts hits and misses', async () => {
    const g = gateway({ config: { cache: { mode: 'simple' }, targets: [targetAt(up, 'ok')] } });
    const first = await g.handle(chatRequest({ messages: [{ role: 'user', content: 'cache me' }] }));
    const second = await g.handle(chatRequest({ messages: [{ role: 'user', content: 'cache me' }] }));
    expect(second.headers['x-llmux-cache']).toBe('HIT');
    const [hit, miss] = recentRequests(g).records;
    expect(miss!.cache).toMatchObject({ status: 'MISS', mode: 'simple' });
    expect(hit!.cache).toMatchObject({ status: 'HIT', mode: 'simple', saved_cost_usd: miss!.cost_usd, age_seconds: expect.any(Number) });
    expect(hit).toMatchObject({ cost_usd: 0, provider: 'openai', attempts: [], outcome: 'success' });
    expect(first.status).toBe(200);
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_cache_requests_total', { status: 'HIT' })).toBe(1);
    expect(metricValue(m, 'llmux_cache_requests_total', { status: 'MISS' })).toBe(1);
    expect(metricValue(m, 'llmux_cache_saved_usd_total')).toBeCloseTo(miss!.cost_usd!, 12);
    expect(metricValue(m, 'llmux_upstream_attempts_total')).toBe(1);
  });

  it('records a budget refusal (402) with the budget that refused, on both chat routes', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')], budget: { max_cost_per_day: 0.0000001, scope: 'user' } } });
    const res = await g.handle(chatRequest({ max_tokens: 100 }), { user: 'ann' });
    expect(res.status).toBe(402);
    let r = lastRecord(g);
    expect(r).toMatchObject({
      status: 402,
      outcome: 'error',
      identity: { user: 'ann' },
      requested_model: 'gpt-4o-mini',
      attempts: [],
      error: { code: 'budget_exceeded', type: 'budget_exceeded', source: 'gateway' },
      limit: { kind: 'budget', scope: 'user', scope_value: 'ann', metric: 'usd' },
    });
    const messages = await g.handle(
      { method: 'POST', path: '/v1/messages', headers: {}, body: { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] } },
      { user: 'bob' },
    );
    expect(messages.status).toBe(402);
    expect((messages.body as any).type).toBe('error'); // Anthropic's shape, yet the record knows the code
    r = lastRecord(g);
    expect(r).toMatchObject({ route: 'messages', status: 402, error: { code: 'budget_exceeded' }, limit: { kind: 'budget', scope_value: 'bob' } });
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_limit_rejections_total', { kind: 'budget', scope: 'user' })).toBe(2);
    expect(metricValue(m, 'llmux_requests_total', { status: '402', outcome: 'error' })).toBe(2);
    expect(up.requests).toHaveLength(0);
  });

  it('records a rate-limit refusal (429)', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')], rate_limit: { requests_per_minute: 1 } } });
    expect((await g.handle(chatRequest())).status).toBe(200);
    expect((await g.handle(chatRequest())).status).toBe(429);
    expect(lastRecord(g)).toMatchObject({ status: 429, error: { code: 'rate_limited' }, limit: { kind: 'rate_limit', scope: 'gateway', metric: 'requests' } });
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_limit_rejections_total', { kind: 'rate_limit', scope: 'gateway' })).toBe(1);
  });

  it('records a stream cut by the upstream after content as stream_cut, and counts it', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'cut')] } });
    const res = await g.handle(chatRequest({ stream: true }));
    expect(res.status).toBe(200);
    const text = await bodyText(res);
    expect(text).toMatch(/data: \{"error"/);
    expect(text).not.toContain('[DONE]');
    const r = lastRecord(g);
    expect(r).toMatchObject({ stream: true, outcome: 'stream_cut', status: 502, error: { code: expect.any(String) } });
    expect(r.ttft_ms).toBeGreaterThanOrEqual(0);
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_stream_interruptions_total', { reason: 'upstream' })).toBe(1);
    expect(metricValue(m, 'llmux_requests_total', { outcome: 'stream_cut' })).toBe(1);
  });

  it('records a client that leaves mid-stream as client_closed', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'stream')] } });
    const res = await g.handle(chatRequest({ stream: true }));
    const iterator = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return!(undefined);
    expect(lastRecord(g)).toMatchObject({ outcome: 'client_closed', status: 499 });
  });

  it('records requests refused before the pipeline: bad JSON, unknown paths, a closing gateway', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const bad = await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-llmux-trace-id': 't-bad' }, body: '{"model":' });
    expect(bad.status).toBe(400);
    expect(lastRecord(g)).toMatchObject({ trace_id: 't-bad', route: 'chat', status: 400, outcome: 'error', error: { code: 'invalid_json', param: 'body' } });
    await g.handle({ method: 'GET', path: '/nope?x=1', headers: {} });
    expect(lastRecord(g)).toMatchObject({ route: 'unknown', path: '/nope', status: 404, error: { code: 'not_found' } });
    const invalid = await g.handle(chatRequest({ messages: [] }));
    expect(invalid.status).toBe(400);
    expect(lastRecord(g)).toMatchObject({ status: 400, error: { code: 'invalid_request', param: 'messages' } });
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_request_errors_total', { code: 'invalid_json' })).toBe(1);
  });

  it('records embeddings', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const res = await g.handle({ method: 'POST', path: '/v1/embeddings', headers: {}, body: { model: 'text-embedding-3-small', input: 'hello' } });
    expect(res.status).toBe(200);
    expect(lastRecord(g)).toMatchObject({ route: 'embeddings', outcome: 'success', provider: 'openai', usage: { input_tokens: expect.any(Number) } });
  });

  it('records direct calls made from app code, answered or refused', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')], rate_limit: { requests_per_minute: 1, scope: 'user' } } });
    await g.chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, { context: { user: 'cy' } });
    expect(lastRecord(g)).toMatchObject({ route: 'chat', outcome: 'success', identity: { user: 'cy' } });
    await expect(g.chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }, { context: { user: 'cy' } })).rejects.toMatchObject({
      code: 'rate_limited',
    });
    expect(lastRecord(g)).toMatchObject({ status: 429, limit: { kind: 'rate_limit', scope: 'user', scope_value: 'cy' } });
  });
});

describe('bodies and the redact hook', () => {
  it('leaves bodies out unless logBodies is set; with it, the request and the answer (a stream assembled)', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] }, logBodies: true });
    await g.handle(chatRequest({ messages: [{ role: 'user', content: 'my prompt' }] }));
    let r = lastRecord(g);
    expect(r.request_body).toMatchObject({ messages: [{ role: 'user', content: 'my prompt' }] });
    expect(r.response_body).toMatchObject({ choices: [{ message: { content: completion.choices[0].message.content } }] });
    const res = await g.handle(chatRequest({ stream: true }));
    await bodyText(res);
    r = lastRecord(g);
    expect((r.response_body as any).choices[0].message.content.length).toBeGreaterThan(10);
  });

  it('runs the redact hook on every record before any sink; null keeps a record out', async () => {
    const seen: RequestLogRecord[] = [];
    const g = gateway({
      config: { targets: [targetAt(up, 'ok')] },
      logBodies: true,
      redact: (record) => {
        if (record.metadata?.skip) return null;
        record.request_body = '[hidden]';
        delete record.identity;
        return undefined;
      },
      onLog: (r) => void seen.push(r),
    });
    await g.handle(chatRequest({}, { 'x-llmux-metadata': '{"skip":true}' }), { user: 'ann' });
    await g.handle(chatRequest(), { user: 'ann' });
    await nextTurn();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ request_body: '[hidden]' });
    expect(seen[0]!.identity).toBeUndefined();
    expect(recentRequests(g).records).toHaveLength(1);
  });

  it('with every sink off but the ring, records are redacted and filtered when read, newest first', async () => {
    let calls = 0;
    const g = gateway({
      config: { targets: [targetAt(up, 'bad-key')] },
      logger: false,
      metrics: false,
      tracing: false,
      redact: (record) => {
        calls++;
        return record.metadata?.skip ? null : undefined;
      },
    });
    await g.handle(chatRequest({}, { 'x-llmux-metadata': '{"n":1}' }));
    await g.handle(chatRequest({}, { 'x-llmux-metadata': '{"skip":true}' }));
    await g.handle(chatRequest({}, { 'x-llmux-metadata': '{"n":3}' }));
    await nextTurn();
    expect(calls).toBe(0);
    const { records } = recentRequests(g);
    expect(records.map((r) => r.metadata)).toEqual([{ n: 3 }, { n: 1 }]);
    expect(records[0]!.status).toBe(401);
    expect(JSON.stringify(records)).not.toContain(PLANTED_KEY);
    // Each record is prepared once and kept.
    expect(recentRequests(g, { limit: 1 }).records).toEqual([records[0]]);
    expect(calls).toBe(3);
  });
});

describe('sinks', () => {
  it('writes one pino line per request at a level that follows the outcome', async () => {
    const lines: any[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] }, logger: pino({ level: 'info' }, sink) });
    await g.handle(chatRequest(), { user: 'ann' });
    await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: 'nope' });
    await nextTurn();
    await new Promise((r) => setTimeout(r, 20));
    const requests = lines.filter((l) => l.msg === 'llmux request');
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({ level: 30, type: 'llmux.request', route: 'chat', status: 200, identity: { user: 'ann' } });
    expect(requests[1]).toMatchObject({ level: 40, status: 400, error: { code: 'invalid_json' } });
  });

  it('hands every record to onLog on a later turn, not on the response path', async () => {
    const seen: RequestLogRecord[] = [];
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] }, onLog: (r) => void seen.push(r) });
    const res = await g.handle(chatRequest());
    expect(seen).toHaveLength(0);
    await nextTurn();
    expect(seen).toHaveLength(1);
    expect(seen[0]!.trace_id).toBe(res.headers['x-llmux-trace-id']);
  });

  it('a sink that throws loses its record (counted); the others and the response are unaffected', async () => {
    const g = gateway({
      config: { targets: [targetAt(up, 'ok')] },
      adminKey: 'admin-key-0123456789',
      onLog: () => {
        throw new Error('sink down');
      },
    });
    const res = await g.handle(chatRequest());
    expect(res.status).toBe(200);
    const view = recentRequests(g);
    expect(view.records).toHaveLength(1);
    expect(view.dropped).toEqual({ onLog: 1 });
    const m = await scrape(g, { 'x-llmux-admin-key': 'admin-key-0123456789' });
    expect(metricValue(m, 'llmux_log_records_dropped_total', { sink: 'onLog' })).toBe(1);
    const usage = await g.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin-key-0123456789' } });
    expect((usage.body as any).logs).toEqual({ dropped: { onLog: 1 }, recent_capacity: 100 });
  });

  it('a sink that never finishes its writes loses new records once 100 are pending', async () => {
    const g = gateway({ config: { targets: [{ provider: 'mock' }] }, onLog: () => new Promise(() => undefined), recentRequests: 5 });
    for (let i = 0; i < 105; i++) expect((await g.handle(chatRequest())).status).toBe(200);
    const view = recentRequests(g);
    expect(view.dropped).toEqual({ onLog: 5 });
    expect(view.records).toHaveLength(5);
    expect(view.capacity).toBe(5);
  });

  it('drops records beyond the queue size instead of holding them, and counts them', async () => {
    const g = gateway({ config: { targets: [{ provider: 'mock' }] }, logQueueSize: 3 });
    // Requests answered by the in-process mock provider finish before the queue's next delivery turn.
    const results = await Promise.all(Array.from({ length: 10 }, () => g.handle(chatRequest())));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const view = recentRequests(g);
    expect(view.records.length + (view.dropped.queue ?? 0)).toBe(10);
    expect(view.dropped.queue).toBeGreaterThan(0);
  });
});
