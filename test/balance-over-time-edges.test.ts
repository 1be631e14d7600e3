/**
 * Load balancing, circuit breaking, retries and the deadline as traffic sees them over many requests:
 * the real Express adapter, the official `openai` SDK (maxRetries: 0), three mock upstreams on 127.0.0.1.
 * Weighted choice uses a seeded generator (`routing.random`) so each split is the same on every run;
 * breaker cooldowns run on a fake clock (`routing.now`) where the test is not about latency.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { seeded } from './helpers/seeded-random.js';

const ups: MockUpstream[] = [];
const apps: TestApp[] = [];
const CHAT = '/v1/chat/completions';
const completion = fixtureJson('openai/chat-completions.text.json');
const down = { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } };
const hi = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };

beforeAll(async () => {
  for (let i = 0; i < 3; i++) ups.push(await startMockUpstream());
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(ups.map((u) => u.close()));
});
beforeEach(() => {
  for (const u of ups) u.reset();
});


const oai = (i: number, extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: `sk-up-${i}`, custom_host: `${ups[i]!.url}/v1`, ...extra });

async function start(config: GatewayConfig, options: AppOptions = {}): Promise<TestApp> {
  const app = await appFactories.express5!({ config, ...options });
  apps.push(app);
  return app;
}

interface Outcome {
  status: number;
  target: string | null;
  portkeyIndex: string | null;
  retries: string | null;
  body?: any;
}

/** One chat call through the official SDK; an APIError is an outcome too (its status and headers). */
async function ask(app: TestApp): Promise<Outcome> {
  const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
  try {
    const { response } = await client.chat.completions.create(hi).withResponse();
    const h = response.headers;
    return { status: response.status, target: h.get('x-llmux-target'), portkeyIndex: h.get('x-portkey-last-used-option-index'), retries: h.get('x-llmux-retries') };
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    const h = e.headers;
    return { status: e.status ?? 0, target: h?.get('x-llmux-target') ?? null, portkeyIndex: h?.get('x-portkey-last-used-option-index') ?? null, retries: h?.get('x-llmux-retries') ?? null, body: e.error };
  }
}

/** Sends `n` requests one after another and counts the answers per `x-llmux-target`. */
async function split(app: TestApp, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const o = await ask(app);
    const key = o.status === 200 ? o.target! : `error ${o.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe('works', () => {
  it('loadbalance 3:1:0 over hundreds of requests; an opened circuit is skipped, one half-open trial after the cooldown, then the split is back', async () => {
    const clock = { now: 1_700_000_000_000 };
    const app = await start(
      {
        strategy: { mode: 'loadbalance' },
        circuit_breaker: { failure_threshold: 3, window: 60, cooldown: 30 },
        targets: [oai(0, { weight: 3 }), oai(1, { weight: 1 }), oai(2, { weight: 0 })],
      },
      { routing: { now: () => clock.now, random: seeded(7) } },
    );
    for (const u of ups) u.route(CHAT, { json: completion });

    const before = await split(app, 400);
    expect(ups[2]!.requests).toHaveLength(0);
    expect(before['config.targets[0]']! / 400).toBeGreaterThan(0.65);
    expect(before['config.targets[0]']! / 400).toBeLessThan(0.85);
    expect(before['config.targets[0]']! + before['config.targets[1]']!).toBe(400);

    // targets[0] goes down: loadbalance does not fall over, so its 503s reach the client until 3 open its circuit.
    ups[0]!.reset();
    ups[0]!.route(CHAT, down);
    let failures = 0;
    for (let i = 0; i < 200 && failures < 3; i++) if ((await ask(app)).status === 503) failures++;
    expect(failures).toBe(3);
    expect(ups[0]!.requests).toHaveLength(3);
    // Open: every request goes to targets[1], never to the weight-0 one, and targets[0] is not called.
    expect(await split(app, 100)).toEqual({ 'config.targets[1]': 100 });
    expect(ups[0]!.requests).toHaveLength(3);
    expect(ups[2]!.requests).toHaveLength(0);

    // Still open 29 s later; at 30 s one trial goes through and closes the circuit.
    clock.now += 29_000;
    expect(await split(app, 30)).toEqual({ 'config.targets[1]': 30 });
    clock.now += 1_000;
    ups[0]!.route(CHAT, { json: completion });
    const after = await split(app, 400);
    expect(ups[0]!.requests).toHaveLength(3 + after['config.targets[0]']!);
    expect(after['config.targets[0]']! / 400).toBeGreaterThan(0.65);
    expect(after['config.targets[0]']! / 400).toBeLessThan(0.85);
    expect(ups[2]!.requests).toHaveLength(0);
  }, 120_000);

  it('half-open: of concurrent requests only one is the trial; the others go to the fallback, and the trial’s success closes the circuit', async () => {
    const clock = { now: 1_700_000_000_000 };
    const app = await start(
      { strategy: { mode: 'fallback' }, circuit_breaker: { failure_threshold: 1, cooldown: 30 }, targets: [oai(0), oai(1)] },
      { routing: { now: () => clock.now } },
    );
    ups[0]!.enqueue(CHAT, down);
    ups[1]!.route(CHAT, { json: completion });
    expect((await ask(app)).target).toBe('config.targets[1]'); // opens targets[0]
    expect((await ask(app)).target).toBe('config.targets[1]'); // skipped
    expect(ups[0]!.requests).toHaveLength(1);

    clock.now += 30_000;
    ups[0]!.route(CHAT, { delayMs: 1500, json: completion });
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => ask(app)));
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    expect(outcomes.filter((o) => o.target === 'config.targets[0]')).toHaveLength(1);
    expect(outcomes.filter((o) => o.target === 'config.targets[1]')).toHaveLength(5);
    expect(ups[0]!.requests).toHaveLength(2);

    ups[0]!.route(CHAT, { json: completion });
    const next = await ask(app);
    expect(next.target).toBe('config.targets[0]');
    expect(next.portkeyIndex).toBe('config.targets[0]');
  }, 60_000);

  it('latency_aware: a slow target gets little traffic but is re-probed, and its share comes back once it is fast again', async () => {
    const app = await start(
      { strategy: { mode: 'loadbalance', latency_aware: true }, targets: [oai(0), oai(1)] },
      { routing: { random: seeded(11) } },
    );
    ups[0]!.route(CHAT, { delayMs: 150, json: completion });
    ups[1]!.route(CHAT, { json: completion });
    const slow = await split(app, 80);
    expect(slow['config.targets[0]'] ?? 0).toBeLessThan(16);

    ups[0]!.route(CHAT, { json: completion });
    const recent: number[] = [];
    let recovered = false;
    for (let i = 0; i < 2000 && !recovered; i++) {
      const o = await ask(app);
      recent.push(o.target === 'config.targets[0]' ? 1 : 0);
      if (recent.length > 100) recent.shift();
      recovered = recent.length === 100 && recent.reduce((s, v) => s + v, 0) >= 25;
    }
    expect(recovered).toBe(true);
  }, 180_000);

  it('latency_aware: a target that fails fast does not look fast (it wins no more than its weight)', async () => {
    const app = await start(
      { strategy: { mode: 'loadbalance', latency_aware: true }, targets: [oai(0), oai(1)] },
      { routing: { random: seeded(3) } },
    );
    ups[0]!.route(CHAT, down);
    ups[1]!.route(CHAT, { delayMs: 100, json: completion });
    const counts = await split(app, 60);
    expect(counts['error 503'] ?? 0).toBeLessThan(40);
    expect(counts['config.targets[1]'] ?? 0).toBeGreaterThan(20);
  }, 60_000);

  it('Retry-After in seconds and as an HTTP date is waited out; the headers report the retries and the target that answered', async () => {
    const sleeps: number[] = [];
    const app = await start(
      { strategy: { mode: 'fallback' }, targets: [oai(0, { retry: { attempts: 3 } }), oai(1)] },
      { routing: { sleep: async (ms: number) => void sleeps.push(ms) } },
    );
    const limited = (h: Record<string, string>) => ({ status: 429, headers: h, json: { error: { message: 'slow down', type: 'rate_limit_error' } } });
    ups[0]!.enqueue(CHAT, limited({ 'retry-after': '3' }), limited({ 'retry-after': new Date(Date.now() + 6_000).toUTCString() }), { json: completion });
    const o = await ask(app);
    expect(o.status).toBe(200);
    expect(o.target).toBe('config.targets[0]');
    expect(o.retries).toBe('2');
    expect(sleeps[0]).toBe(3000);
    expect(sleeps[1]).toBeGreaterThan(3000);
    expect(sleeps[1]).toBeLessThanOrEqual(6000);
    expect(ups[1]!.requests).toHaveLength(0);

    // An HTTP date beyond the 10 s bound: no wait, the fallback answers at once.
    sleeps.length = 0;
    ups[0]!.enqueue(CHAT, limited({ 'retry-after': new Date(Date.now() + 60_000).toUTCString() }));
    ups[1]!.enqueue(CHAT, { json: completion });
    const moved = await ask(app);
    expect(moved.target).toBe('config.targets[1]');
    expect(moved.portkeyIndex).toBe('config.targets[1]');
    expect(moved.retries).toBe('0');
    expect(sleeps).toEqual([]);
  }, 30_000);

  it('the overall deadline caps real Retry-After waits: the router stops waiting when the next wait would outlast it and falls back', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, deadline: 5000, targets: [oai(0, { retry: { attempts: 10 } }), oai(1)] });
    ups[0]!.route(CHAT, { status: 429, headers: { 'retry-after': '2' }, json: { error: { message: 'slow down', type: 'rate_limit_error' } } });
    ups[1]!.route(CHAT, { json: completion });
    const started = Date.now();
    const o = await ask(app);
    const took = Date.now() - started;
    expect(o.status).toBe(200);
    expect(o.target).toBe('config.targets[1]');
    expect(ups[0]!.requests.length).toBeGreaterThanOrEqual(2);
    expect(ups[0]!.requests.length).toBeLessThanOrEqual(3);
    expect(o.retries).toBe(String(ups[0]!.requests.length - 1));
    expect(took).toBeLessThan(5000);
  }, 30_000);

  it('the deadline also bounds a non-stream answer whose body dribbles in (headers came quickly)', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, deadline: 1500, targets: [oai(0), oai(1)] });
    const text = JSON.stringify(completion);
    const pieces = Array.from({ length: 20 }, (_, i) => text.slice((i * text.length) / 20, ((i + 1) * text.length) / 20));
    ups[0]!.route(CHAT, { headers: { 'content-type': 'application/json' }, chunks: pieces, chunkDelayMs: 300 });
    const started = Date.now();
    const o = await ask(app);
    expect(o.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(ups[1]!.requests).toHaveLength(0);
  }, 30_000);

  it('latency_aware on streams measures the wait for the first token, not the whole stream', async () => {
    const app = await start(
      { strategy: { mode: 'loadbalance', latency_aware: true }, targets: [oai(0), oai(1)] },
      { routing: { random: seeded(9) } },
    );
    const events = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
    // targets[0]: first token after 250 ms, then done at once; targets[1]: first token after ~50 ms, then
    // a slow tail (~600 ms in all). By first token targets[1] is faster; by whole duration targets[0] is.
    ups[0]!.route(CHAT, { delayMs: 250, chunks: events });
    ups[1]!.route(CHAT, { chunks: events, chunkDelayMs: 50 });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    let first = 0;
    for (let i = 0; i < 30; i++) {
      const { data, response } = await client.chat.completions.create({ ...hi, stream: true }).withResponse();
      for await (const _ of data) void _;
      if (response.headers.get('x-llmux-target') === 'config.targets[0]') first++;
    }
    expect(first).toBeLessThan(12);
  }, 60_000);
});

describe('fixed bugs (each test failed before its fix)', () => {
  it('a fallback target cut short by the overall deadline (the primary used it up) does not count against its own circuit', async () => {
    // BUG: when the overall deadline passes during an attempt, runTarget records a breaker failure for
    // whichever target happened to be running, even one that started with only a sliver of the deadline
    // left because the primary ate the rest. With the primary down (timing out), every request cuts the
    // healthy fallback short, its circuit opens too, and the partial outage becomes a total one: every
    // request gets 503 "every target's circuit is open" although the fallback answers when asked.
    // Source: packages/core/src/router/run-target.ts:67-73 (`if (run.deadlineHit) { … env.breaker.record(target, false) }`).
    const app = await start({
      strategy: { mode: 'fallback' },
      deadline: 1500,
      circuit_breaker: { failure_threshold: 2, window: 60, cooldown: 60 },
      targets: [oai(0, { request_timeout: 1300 }), oai(1)],
    });
    ups[0]!.route(CHAT, { hang: true });
    // Slower than the ~200 ms the primary leaves it, well inside the deadline on its own.
    ups[1]!.route(CHAT, { delayMs: 600, json: completion });
    for (let i = 0; i < 2; i++) expect((await ask(app)).status).toBe(504);
    expect(ups[1]!.requests).toHaveLength(2);

    // targets[0] has timed out twice (its circuit is open, rightly); targets[1] never failed, it only
    // ran out of the time the primary left. Asked first now, with the whole deadline, it answers.
    const third = await ask(app);
    expect(third.status).toBe(200);
    expect(third.target).toBe('config.targets[1]');
  }, 60_000);

  it('latency_aware: a target whose attempts time out gets less traffic, not the share of a fast one', async () => {
    // BUG: loadbalance only measures latency when the chosen child answers (observeLatency runs after
    // `await runNode` succeeds), so an attempt that ran into its request_timeout is never measured. A
    // target that degrades from fast to timing out keeps its old fast average (or, never measured, counts
    // "as fast as the fastest") and keeps half the traffic, each such request waiting out the timeout and
    // failing — while the same target answering slowly would get almost none: the slower it gets, the more
    // traffic it keeps. Source: packages/core/src/router/execute.ts:88-90 (runLoadbalance: latency observed
    // only on success) with packages/core/src/router/weighted.ts:36-40.
    const app = await start(
      { strategy: { mode: 'loadbalance', latency_aware: true }, targets: [oai(0, { request_timeout: 300 }), oai(1)] },
      { routing: { random: seeded(5) } },
    );
    ups[0]!.route(CHAT, { json: completion });
    ups[1]!.route(CHAT, { json: completion });
    await split(app, 20);

    ups[0]!.reset();
    ups[0]!.route(CHAT, { hang: true });
    const counts = await split(app, 40);
    expect(counts['config.targets[1]'] ?? 0).toBe(40 - ups[0]!.requests.length);
    // A target 300 ms slower than its peer: a latency-aware balancer sends it a small share, not ~half.
    expect(ups[0]!.requests.length).toBeLessThan(10);
  }, 60_000);
});
