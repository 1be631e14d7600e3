import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayConfig, type GatewayContext } from '@llmux/core';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { seeded } from './helpers/seeded-random.js';

const gateways: Gateway[] = [];
afterAll(() => Promise.all(gateways.map((g) => g.close(100))));

function gateway(config: GatewayConfig, routing: Record<string, unknown> = {}) {
  const g = createGateway({ config, routing });
  gateways.push(g);
  return g;
}

const chat = (g: Gateway, headers: Record<string, string> = {}, context?: GatewayContext, body: Record<string, unknown> = {}) =>
  g.handle(
    {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', ...headers },
      body: { model: 'mock-1', messages: [{ role: 'user', content: 'hi' }], ...body },
    },
    context,
  );


describe('load balancing through gateway.handle', () => {
  it('splits 1,000 requests 70/30 within ±5 points', async () => {
    const g = gateway(
      { strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock', weight: 0.7 }, { provider: 'mock', weight: 0.3 }] },
      { random: seeded(2024) },
    );
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const res = await chat(g);
      expect(res.status).toBe(200);
      const t = res.headers['x-llmux-target']!;
      counts[t] = (counts[t] ?? 0) + 1;
    }
    const first = (counts['config.targets[0]'] ?? 0) / 10;
    expect(first).toBeGreaterThanOrEqual(65);
    expect(first).toBeLessThanOrEqual(75);
    expect((counts['config.targets[0]'] ?? 0) + (counts['config.targets[1]'] ?? 0)).toBe(1000);
  });
});

describe('conditional routing through gateway.handle', () => {
  const config: GatewayConfig = {
    strategy: {
      mode: 'conditional',
      conditions: [
        { query: { 'metadata.plan': { $eq: 'enterprise' } }, then: 'big' },
        { query: { $and: [{ 'identity.team': { $in: ['research'] } }, { 'params.temperature': { $lte: 0.2 } }] }, then: 'precise' },
        { query: { model: { $regex: '^mock-fast' } }, then: 'fast' },
      ],
      default: 'small',
    },
    targets: [
      { name: 'big', provider: 'mock', mock_response: 'big' },
      { name: 'precise', provider: 'mock', mock_response: 'precise' },
      { name: 'fast', provider: 'mock', mock_response: 'fast' },
      { name: 'small', provider: 'mock', mock_response: 'small' },
    ],
  };
  const answer = async (res: Awaited<ReturnType<Gateway['handle']>>) => (res.body as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;

  it('routes on metadata, the caller identity, params and the model, else the default', async () => {
    const g = gateway(config);
    expect(await answer(await chat(g, { 'x-portkey-metadata': JSON.stringify({ plan: 'enterprise' }) }))).toBe('big');
    expect(await answer(await chat(g, {}, { team: 'research' }, { temperature: 0.1 }))).toBe('precise');
    expect(await answer(await chat(g, {}, { team: 'research' }, { temperature: 0.9 }))).toBe('small');
    expect(await answer(await chat(g, {}, {}, { model: 'mock-fast-1' }))).toBe('fast');
    const res = await chat(g, { 'x-llmux-metadata': JSON.stringify({ plan: 'free' }) });
    expect(await answer(res)).toBe('small');
    expect(res.headers['x-llmux-target']).toBe('config.targets[3]');
  });

  it('answers 400 when nothing matches and there is no default', async () => {
    const g = gateway({ ...config, strategy: { ...config.strategy, default: undefined } } as GatewayConfig);
    const res = await chat(g);
    expect(res.status).toBe(400);
    expect((res.body as { error: { param: string } }).error.param).toBe('config.strategy.conditions');
  });

  it('refuses a config with an unknown operator at start-up, naming the path', () => {
    expect(() =>
      createGateway({ config: { strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.a': { $like: 'x' } }, then: 'a' }] }, targets: [{ name: 'a', provider: 'mock' }] } }),
    ).toThrow(/config\.strategy\.conditions\[0\]\.query\.metadata\.a\.\$like/);
  });
});

describe('circuit breaker through gateway.handle', () => {
  let up: MockUpstream;
  beforeAll(async () => {
    up = await startMockUpstream();
  });
  afterAll(() => up.close());

  it('opens after failures, skips the target, then recovers through one half-open trial', async () => {
    const clock = { now: 1_000_000 };
    const g = gateway(
      {
        strategy: { mode: 'fallback' },
        circuit_breaker: { failure_threshold: 2, window: 60, cooldown: 30 },
        targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }, { provider: 'mock' }],
      },
      { now: () => clock.now },
    );
    const CHAT = '/v1/chat/completions';
    up.route(CHAT, { status: 503, json: { error: { message: 'down' } } });
    for (let i = 0; i < 2; i++) expect((await chat(g)).headers['x-llmux-target']).toBe('config.targets[1]');
    expect(up.requests).toHaveLength(2);

    const skipped = await chat(g);
    expect(skipped.headers['x-llmux-target']).toBe('config.targets[1]');
    expect(up.requests).toHaveLength(2); // not even tried

    clock.now += 30_000;
    up.reset();
    up.route(CHAT, { json: fixtureJson('openai/chat-completions.text.json') });
    const trial = await chat(g);
    expect(trial.headers['x-llmux-target']).toBe('config.targets[0]');
    expect((await chat(g)).headers['x-llmux-target']).toBe('config.targets[0]');
    expect(up.requests).toHaveLength(2);
  });

  it('answers 503 with Retry-After when every circuit is open', async () => {
    const clock = { now: 5_000_000 };
    const g = gateway(
      { circuit_breaker: { failure_threshold: 1, cooldown: 20 }, targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: `${up.url}/v1` }] },
      { now: () => clock.now },
    );
    up.reset();
    up.route('/v1/chat/completions', { status: 500, json: { error: { message: 'boom' } } });
    expect((await chat(g)).status).toBe(500);
    const res = await chat(g);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('20');
    expect((res.body as { error: { message: string } }).error.message).toContain('circuit is open');
    expect(up.requests).toHaveLength(1);
  });
});
