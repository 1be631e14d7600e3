/**
 * QA for issue 7 (logs, metrics, traces, gateway keys, hardening): a provider key echoed by the
 * provider's own error text *inside* a stream or a 200 body — before the first token, mid-stream, on
 * both chat routes — must never reach the client, the records, the playground's APIs or the spans;
 * admin routes refuse gateway keys; metric labels stay bounded whatever clients send.
 */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions, type GatewayResponse } from '@llmux/core';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';
import { bodyText, metricValue, scrape } from './helpers/observe.js';

/** Not key-shaped (no `sk-`), so only the gateway's knowledge of its own keys can catch it. */
const KEY = 'qa7-provider-secret-4b1d9e77c0a2';
const ADMIN = 'qa7-admin-key-00000000000000';

let up: MockUpstream;
const gateways: Gateway[] = [];
const spans = new InMemorySpanExporter();

const echo = (req: RecordedRequest) => String(req.headers.authorization ?? req.headers['x-api-key'] ?? '');
const chunk = (delta: object) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
const anthropicEvent = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

beforeAll(async () => {
  up = await startMockUpstream();
  // OpenAI-compatible: an error chunk as the first event (before any content), after content, and an error JSON in a 200.
  up.route('/first/v1/chat/completions', (req) => ({ chunks: [`data: ${JSON.stringify({ error: { message: `quota exceeded for ${echo(req)}`, code: 429 } })}\n\n`] }));
  up.route('/mid/v1/chat/completions', (req) => ({
    chunks: [chunk({ role: 'assistant', content: 'Hel' }), chunk({ content: 'lo' }), `data: ${JSON.stringify({ error: { message: `backend failed for ${echo(req)}` } })}\n\n`],
  }));
  up.route('/event/v1/chat/completions', (req) => ({ chunks: [`event: error\ndata: upstream refused ${echo(req)}\n\n`] }));
  up.route('/body/v1/chat/completions', (req) => ({ json: { error: { message: `invalid key ${echo(req)}`, type: 'authentication_error', code: 401 } } }));
  // Anthropic: an error event before any content, and one after content.
  up.route('/ant-first/v1/messages', (req) => ({ chunks: [anthropicEvent('error', { error: { type: 'overloaded_error', message: `overloaded for ${echo(req)}` } })] }));
  up.route('/ant-mid/v1/messages', (req) => ({
    chunks: [
      anthropicEvent('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, usage: { input_tokens: 5, output_tokens: 1 } } }),
      anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hello' } }),
      anthropicEvent('error', { error: { type: 'api_error', message: `internal error for ${echo(req)}` } }),
    ],
  }));
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
  trace.disable();
});

function gateway(options: Partial<GatewayOptions>): Gateway {
  const g = createGateway({ env: {}, adminKey: ADMIN, routing: { sleep: async () => undefined }, ...options });
  gateways.push(g);
  return g;
}

const target = (path: string, provider = 'groq') => ({ provider, api_key: KEY, custom_host: `${up.url}/${path}/v1` });

async function send(g: Gateway, path: '/v1/chat/completions' | '/v1/messages', body: Record<string, unknown>): Promise<{ res: GatewayResponse; text: string }> {
  const res = await g.handle({ method: 'POST', path, headers: { 'anthropic-version': '2023-06-01' }, body: { model: 'm', max_tokens: 20, messages: [{ role: 'user', content: 'Hi' }], ...body } });
  return { res, text: JSON.stringify(res.headers) + (await bodyText(res)) };
}

describe('a provider key echoed inside a stream or a 200 body', () => {
  const cases: Array<[string, string, string, '/v1/chat/completions' | '/v1/messages', boolean]> = [
    ['an error chunk before the first token', 'first', 'groq', '/v1/chat/completions', true],
    ['an error chunk after content', 'mid', 'groq', '/v1/chat/completions', true],
    ['an `event: error` that is not JSON', 'event', 'groq', '/v1/chat/completions', true],
    ['an Anthropic error event before content', 'ant-first', 'anthropic', '/v1/chat/completions', true],
    ['an Anthropic error event after content', 'ant-mid', 'anthropic', '/v1/chat/completions', true],
    ['an Anthropic error event before content, on /v1/messages', 'ant-first', 'anthropic', '/v1/messages', true],
    ['an Anthropic error event after content, on /v1/messages', 'ant-mid', 'anthropic', '/v1/messages', true],
    ['an error after content, OpenAI-compatible upstream on /v1/messages', 'mid', 'groq', '/v1/messages', true],
  ];
  it.each(cases)('%s: the client, the records, the playground and the spans never see it', async (_name, path, provider, route, stream) => {
    spans.reset();
    const g = gateway({ config: { targets: [target(path, provider)] } });
    const { res, text } = await send(g, route, { stream });
    expect(up.requests.at(-1)!.headers[provider === 'anthropic' ? 'x-api-key' : 'authorization']).toContain(KEY); // really planted
    expect(res.status === 200 ? text : 'error status').toBeTruthy();
    expect(text, 'response').not.toContain(KEY);
    expect(text).toMatch(/\[REDACTED\]|error/);
    const admin = { authorization: `Bearer ${ADMIN}` };
    const views = await Promise.all(
      ['/playground/api/requests', '/playground/api/usage', '/usage'].map(async (p) => JSON.stringify((await g.handle({ method: 'GET', path: p, headers: admin })).body)),
    );
    const records = JSON.stringify(recentRequests(g));
    expect(records).toContain('"outcome"');
    expect(records, 'records').not.toContain(KEY);
    for (const v of views) expect(v, 'playground / usage').not.toContain(KEY);
    expect(views[0]).toContain('[REDACTED]');
    expect(JSON.stringify(spans.getFinishedSpans().map((s) => [s.attributes, s.events, s.status])), 'spans').not.toContain(KEY);
    expect(await scrape(g, admin), 'metrics').not.toContain(KEY);
  });

  it('an error object in a 200 JSON answer is an error response (not a 200), without the key', async () => {
    const g = gateway({ config: { targets: [target('body')] } });
    const { res, text } = await send(g, '/v1/chat/completions', {});
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect((res.body as any).error).toMatchObject({ source: 'provider', message: 'invalid key Bearer [REDACTED]' });
    expect(text).not.toContain(KEY);
    expect(JSON.stringify(recentRequests(g))).not.toContain(KEY);
  });

  it('a fallback moves on from a target whose stream fails before the first token, and its attempt error is redacted', async () => {
    up.route('/ok/v1/chat/completions', { chunks: [chunk({ role: 'assistant', content: 'fine' }), `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`, 'data: [DONE]\n\n'] });
    const g = gateway({ config: { strategy: { mode: 'fallback' }, targets: [target('first'), target('ok')] } });
    const { res, text } = await send(g, '/v1/chat/completions', { stream: true });
    expect(res.status).toBe(200);
    expect(text).toContain('fine');
    const record = recentRequests(g).records[0]!;
    expect(record.fallbacks).toBe(1);
    expect(record.attempts[0]!.error).toContain('[REDACTED]');
    expect(JSON.stringify(record)).not.toContain(KEY);
  });
});

describe('admin routes', () => {
  it('refuse a gateway key (401) and a missing key, and take only the admin key', async () => {
    const g = gateway({ config: { targets: [{ provider: 'mock' }] }, auth: { keys: [{ key: 'qa7-gateway-key-111111111111', name: 'team' }] } });
    for (const path of ['/usage', '/metrics', '/playground/api/info', '/playground/api/usage', '/playground/api/requests']) {
      const asGatewayKey = await g.handle({ method: 'GET', path, headers: { authorization: 'Bearer qa7-gateway-key-111111111111' } });
      expect(asGatewayKey.status, path).toBe(401);
      expect((asGatewayKey.body as any).error).toMatchObject({ code: 'unauthorized', type: 'authentication_error' });
      expect((await g.handle({ method: 'GET', path, headers: {} })).status, path).toBe(401);
      expect((await g.handle({ method: 'GET', path, headers: { authorization: `Bearer ${ADMIN}` } })).status, path).toBe(200);
    }
    // The playground's chat takes the admin key, never a gateway key.
    const chat = { model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] };
    expect((await g.handle({ method: 'POST', path: '/playground/api/chat', headers: { authorization: 'Bearer qa7-gateway-key-111111111111' }, body: chat })).status).toBe(401);
    expect((await g.handle({ method: 'POST', path: '/playground/api/chat', headers: { authorization: `Bearer ${ADMIN}` }, body: chat })).status).toBe(200);
  });
});

describe('metric labels stay bounded', () => {
  it('whatever model names, providers, paths and trace ids clients send', async () => {
    const g = gateway({ config: { targets: [{ provider: 'mock' }] }, metrics: { maxLabelValues: 5 } });
    for (let i = 0; i < 40; i++) {
      await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-llmux-trace-id': `qa7-trace-${i}` }, body: { model: `client-model-${i}`, messages: [{ role: 'user', content: 'Hi' }] } });
      await g.handle({ method: 'GET', path: `/no/such/path/${i}`, headers: {} });
      await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: { model: `bad-${i}`, messages: `not a list ${i}` } });
    }
    const m = await scrape(g, { authorization: `Bearer ${ADMIN}` });
    expect(m).not.toMatch(/client-model-(9|[1-3]\d)/);
    expect(m).not.toContain('qa7-trace');
    expect(m).not.toContain('/no/such/path');
    expect(m).not.toContain('bad-3');
    const series = m.split('\n').filter((l) => l.startsWith('llmux_requests_total{'));
    expect(series.length).toBeLessThanOrEqual(12);
    expect(metricValue(m, 'llmux_requests_total')).toBe(120);
  });
});
