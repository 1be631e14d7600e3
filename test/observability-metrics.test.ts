import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText, chatRequest, completion, metricValue, scrape, scriptUpstream, targetAt } from './helpers/observe.js';

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

function gateway(options: Partial<GatewayOptions> = {}): Gateway {
  const g = createGateway({ env: {}, config: { targets: [targetAt(up, 'ok')] }, ...options });
  gateways.push(g);
  return g;
}

describe('Prometheus metrics', () => {
  it('count requests, tokens, cost, latency and time to first token', async () => {
    const g = gateway();
    await g.handle(chatRequest());
    await bodyText(await g.handle(chatRequest({ stream: true, stream_options: { include_usage: true } })));
    const m = await scrape(g);
    const labels = { route: 'chat', provider: 'openai', model: 'gpt-4o-mini' };
    expect(metricValue(m, 'llmux_requests_total', { ...labels, status: '200', outcome: 'success' })).toBe(2);
    expect(metricValue(m, 'llmux_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', type: 'input' })).toBeGreaterThan(16);
    expect(metricValue(m, 'llmux_tokens_total', { type: 'output' })).toBeGreaterThan(363);
    expect(metricValue(m, 'llmux_cost_usd_total', { provider: 'openai' })).toBeGreaterThan(0);
    expect(metricValue(m, 'llmux_request_duration_seconds_count', labels)).toBe(2);
    expect(metricValue(m, 'llmux_time_to_first_token_seconds_count', labels)).toBe(2);
    expect(metricValue(m, 'llmux_requests_in_flight')).toBe(0);
    expect(m).toContain('# HELP llmux_limit_rejections_total');
  });

  it('count unpriced answers apart, without a cost', async () => {
    up.route('/finetune/v1/chat/completions', { json: { ...completion, model: 'my-finetune' } });
    const g = gateway({ config: { targets: [{ provider: 'openai', api_key: 'sk-x-00000000', custom_host: `${up.url}/finetune/v1` }] } });
    await g.handle(chatRequest({ model: 'my-finetune' }));
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_unpriced_requests_total', { provider: 'openai', model: 'my-finetune' })).toBe(1);
    expect(metricValue(m, 'llmux_cost_usd_total')).toBe(0);
  });

  it('keep client-chosen label values bounded', async () => {
    const g = gateway({ config: { targets: [{ provider: 'mock' }] }, metrics: { maxLabelValues: 3 } });
    for (let i = 0; i < 6; i++) await g.handle(chatRequest({ model: `random-model-${i}` }));
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_requests_total', { model: 'other' })).toBe(3);
    expect(m).not.toContain('random-model-5');
  });

  it('go on the host app’s registry with its own prefix, shared by two gateways', async () => {
    const registry = new Registry();
    const a = gateway({ metrics: { registry, prefix: 'app_llm_' } });
    const b = gateway({ metrics: { registry, prefix: 'app_llm_' } });
    await a.handle(chatRequest());
    await b.handle(chatRequest());
    await scrape(a); // delivers a's queued records
    await scrape(b);
    const text = await registry.metrics();
    expect(metricValue(text, 'app_llm_requests_total', { status: '200' })).toBe(2);
    expect(text).not.toContain('llmux_requests_total');
  });

  it('can leave the route out, or be turned off entirely', async () => {
    const noRoute = gateway({ metrics: { route: false } });
    expect((await noRoute.handle({ method: 'GET', path: '/metrics', headers: {} })).status).toBe(404);
    const off = gateway({ metrics: false });
    expect((await off.handle(chatRequest())).status).toBe(200);
    expect((await off.handle({ method: 'GET', path: '/metrics', headers: {} })).status).toBe(404);
  });

  it('are open without any admin key or auth, and behind the admin key once one is set', async () => {
    expect((await gateway().handle({ method: 'GET', path: '/metrics', headers: {} })).status).toBe(200);
    const guarded = gateway({ adminKey: 'admin-key-for-metrics-000' });
    expect((await guarded.handle({ method: 'GET', path: '/metrics', headers: {} })).status).toBe(401);
    expect((await guarded.handle({ method: 'GET', path: '/metrics', headers: { authorization: 'Bearer admin-key-for-metrics-000' } })).status).toBe(200);
  });
});

describe.each(Object.keys(appFactories))('GET <mount>/metrics through %s', (name) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await appFactories[name]!({ env: {}, config: { targets: [targetAt(up, 'ok')] } });
  });
  afterAll(() => app.close());

  it('serves the Prometheus text format, current as of the last request', async () => {
    await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const res = await fetch(`${app.gatewayURL}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metricValue(await res.text(), 'llmux_requests_total', { route: 'chat', status: '200' })).toBe(1);
  });
});
