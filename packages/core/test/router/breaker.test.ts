import { afterAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '@llmux/redis';
import { createBreaker } from '../../src/router/breaker.js';
import { route } from '../../src/router/execute.js';
import { GatewayError } from '../../src/errors.js';
import type { BreakerPolicy, BreakerStore } from '../../src/store/breaker-store.js';
import { memoryBreaker } from '../../src/store/memory/breaker.js';
import { envOf, rootOf, scripted } from './helpers.js';

const policy: BreakerPolicy = { threshold: 3, windowMs: 10_000, cooldownMs: 5_000 };
const redis = createRedisStore({ prefix: `llmux-test:${crypto.randomUUID()}:` });
afterAll(() => redis.close());

/** One conformance suite for every breaker store. */
const stores: Array<[string, () => BreakerStore]> = [
  ['memory', () => memoryBreaker()],
  ['redis', () => redis],
];

for (const [name, make] of stores) {
  describe(`BreakerStore (${name})`, () => {
    const key = () => `k:${crypto.randomUUID()}`;

    it('a released half-open trial goes to the next caller at once; unreleased, it waits out its lease', async () => {
      const s = make();
      const k = key();
      const t = 2_000_000;
      for (let i = 0; i < 3; i++) await s.breakerRecord(k, false, t, policy);
      expect(await s.breakerAcquire(k, t + 5_000, policy)).toMatchObject({ state: 'half_open', allowed: true });
      expect(await s.breakerAcquire(k, t + 5_001, policy)).toMatchObject({ state: 'half_open', allowed: false });
      await s.breakerRelease!(k, t + 5_002, policy);
      expect(await s.breakerAcquire(k, t + 5_003, policy)).toMatchObject({ state: 'half_open', allowed: true });
      expect(await s.breakerAcquire(k, t + 5_004, policy)).toMatchObject({ state: 'half_open', allowed: false });
    });

    it("a trial that outlived its lease gives back only its own lease, never the next caller's", async () => {
      const s = make();
      const k = key();
      const t = 3_000_000;
      for (let i = 0; i < 3; i++) await s.breakerRecord(k, false, t, policy);
      const first = await s.breakerAcquire(k, t + 5_000, policy);
      expect(first).toMatchObject({ state: 'half_open', allowed: true, trialUntil: t + 10_000 });
      // The first trial runs past its lease; a second caller takes the trial over.
      const second = await s.breakerAcquire(k, t + 10_001, policy);
      expect(second).toMatchObject({ state: 'half_open', allowed: true, trialUntil: t + 15_001 });
      // The first caller's call never reached the upstream: giving back its old lease frees nothing.
      await s.breakerRelease!(k, t + 10_002, policy, first.trialUntil);
      expect(await s.breakerAcquire(k, t + 10_003, policy)).toMatchObject({ state: 'half_open', allowed: false });
      expect((await s.breakerAcquire(k, t + 10_003, policy)).trialUntil).toBeUndefined();
      // The holder's own lease does.
      await s.breakerRelease!(k, t + 10_004, policy, second.trialUntil);
      expect(await s.breakerAcquire(k, t + 10_005, policy)).toMatchObject({ state: 'half_open', allowed: true });
    });

    it('opens after threshold failures within the window, and only those', async () => {
      const s = make();
      const k = key();
      const t = 1_000_000;
      expect(await s.breakerRecord(k, false, t, policy)).toMatchObject({ state: 'closed', failures: 1 });
      // The first failure leaves the window before the third arrives: still closed.
      expect(await s.breakerRecord(k, false, t + 9_000, policy)).toMatchObject({ state: 'closed', failures: 2 });
      expect(await s.breakerRecord(k, false, t + 10_500, policy)).toMatchObject({ state: 'closed', failures: 2 });
      expect(await s.breakerRecord(k, false, t + 11_000, policy)).toMatchObject({ state: 'open', openUntil: t + 16_000 });
      expect(await s.breakerAcquire(k, t + 12_000, policy)).toMatchObject({ state: 'open', allowed: false });
    });

    it('grants one half-open trial after the cooldown; success closes', async () => {
      const s = make();
      const k = key();
      for (let i = 0; i < 3; i++) await s.breakerRecord(k, false, 100 + i, policy);
      const [first, second] = await Promise.all([s.breakerAcquire(k, 6_000, policy), s.breakerAcquire(k, 6_000, policy)]);
      expect([first.allowed, second.allowed].sort()).toEqual([false, true]);
      expect(first.state).toBe('half_open');
      expect(await s.breakerRecord(k, true, 6_100, policy)).toMatchObject({ state: 'closed', failures: 0 });
      expect(await s.breakerAcquire(k, 6_200, policy)).toMatchObject({ state: 'closed', allowed: true });
    });

    it('re-opens for another cooldown when the trial fails', async () => {
      const s = make();
      const k = key();
      for (let i = 0; i < 3; i++) await s.breakerRecord(k, false, 100 + i, policy);
      expect((await s.breakerAcquire(k, 6_000, policy)).allowed).toBe(true);
      expect(await s.breakerRecord(k, false, 6_100, policy)).toMatchObject({ state: 'open', openUntil: 11_100 });
      expect((await s.breakerAcquire(k, 11_000, policy)).allowed).toBe(false);
      expect((await s.breakerAcquire(k, 11_100, policy)).allowed).toBe(true);
    });

    it('hands out a new trial when the holder never reports back', async () => {
      const s = make();
      const k = key();
      for (let i = 0; i < 3; i++) await s.breakerRecord(k, false, 100 + i, policy);
      expect((await s.breakerAcquire(k, 6_000, policy)).allowed).toBe(true);
      expect((await s.breakerAcquire(k, 10_999, policy)).allowed).toBe(false);
      expect((await s.breakerAcquire(k, 11_000, policy)).allowed).toBe(true);
    });

    it('counts concurrent failures without losing any', async () => {
      const s = make();
      const k = key();
      const wide = { ...policy, threshold: 50 };
      await Promise.all(Array.from({ length: 20 }, (_, i) => s.breakerRecord(k, false, 1000 + i, wide)));
      expect(await s.breakerAcquire(k, 2000, wide)).toMatchObject({ state: 'closed', failures: 20 });
    });
  });
}

describe('circuit breaker in the router', () => {
  const config = {
    strategy: { mode: 'fallback' as const },
    targets: [{ provider: 'mock', name: 'a' }, { provider: 'mock', name: 'b' }],
  };

  function setup(store: BreakerStore = memoryBreaker()) {
    const clock = { now: 1_000_000 };
    const breaker = createBreaker(store, { failure_threshold: 2, window: 60, cooldown: 30 }, () => clock.now);
    const root = rootOf(config);
    return { clock, breaker, root, env: () => envOf({ breaker, routing: { now: () => clock.now } }) };
  }

  it('skips a target whose circuit opened, then lets one trial through after the cooldown', async () => {
    const { clock, root, env } = setup();
    const failing = scripted({ a: [503] });
    for (let i = 0; i < 2; i++) await route(root, env(), failing.attempt);
    expect(failing.calls).toEqual(['a', 'b', 'a', 'b']);

    const skipped = scripted({ a: ['ok'] });
    const e1 = env();
    const routed = await route(root, e1, skipped.attempt);
    expect(skipped.calls).toEqual(['b']);
    expect(routed.target.name).toBe('b');
    expect(e1.attempts[0]).toMatchObject({ target: 'config.targets[0]', error: 'skipped: circuit open' });

    clock.now += 30_000;
    const recovered = scripted({ a: ['ok'] });
    expect((await route(root, env(), recovered.attempt)).target.name).toBe('a');
    expect((await route(root, env(), recovered.attempt)).target.name).toBe('a');
    expect(recovered.calls).toEqual(['a', 'a']);
  });

  it('gives back a trial that never went out with the lease it was granted', async () => {
    const inner = memoryBreaker();
    const releases: Array<number | undefined> = [];
    const spy: BreakerStore = {
      breakerAcquire: (...a) => inner.breakerAcquire(...a),
      breakerRecord: (...a) => inner.breakerRecord(...a),
      breakerRelease: (k, n, p, lease) => (releases.push(lease), inner.breakerRelease!(k, n, p, lease)),
    };
    const { clock, root, env } = setup(spy);
    const failing = scripted({ a: [503] });
    for (let i = 0; i < 2; i++) await route(root, env(), failing.attempt);
    clock.now += 30_000;
    // The translator refuses the trial's request: it never reached the upstream.
    const refused = (target: { name?: string; path: string }) =>
      (target.name ?? target.path) === 'a' ? Promise.reject(new GatewayError('invalid_request', 'the provider cannot take this', { status: 400 })) : Promise.resolve('answer from b');
    await route(root, env(), refused as never).catch(() => undefined);
    expect(releases).toEqual([clock.now + 30_000]);
    // Given back: the next caller gets the trial at once.
    const next = scripted({ a: ['ok'] });
    expect((await route(root, env(), next.attempt)).target.name).toBe('a');
  });

  it('a failed trial re-opens the circuit', async () => {
    const { clock, root, env } = setup();
    const failing = scripted({ a: [503] });
    for (let i = 0; i < 2; i++) await route(root, env(), failing.attempt);
    clock.now += 30_000;
    const trial = scripted({ a: [500] });
    await route(root, env(), trial.attempt);
    expect(trial.calls).toEqual(['a', 'b']);
    const after = scripted({});
    await route(root, env(), after.attempt);
    expect(after.calls).toEqual(['b']);
  });

  it('does not count client errors (400) against the circuit', async () => {
    const { root, env } = setup();
    const bad = scripted({ a: [400] });
    for (let i = 0; i < 5; i++) await route(root, env(), bad.attempt);
    expect(bad.calls.filter((c) => c === 'a')).toHaveLength(5);
  });

  it('stops retrying a target once its own failures opened the circuit', async () => {
    const { env } = setup();
    const retrying = rootOf({ strategy: { mode: 'fallback' }, targets: [{ provider: 'mock', name: 'a', retry: { attempts: 5 } }, { provider: 'mock', name: 'b' }] });
    const s = scripted({ a: [503] });
    const e = env();
    e.routing = { ...e.routing, sleep: async () => undefined };
    await route(retrying, e, s.attempt);
    expect(s.calls).toEqual(['a', 'a', 'b']);
    expect(e.retries).toBe(1);
  });

  it('fails fast with 503 naming every open target and when to come back', async () => {
    const { root, env } = setup();
    const failing = scripted({ a: [503], b: [503] });
    for (let i = 0; i < 2; i++) await route(root, env(), failing.attempt).catch(() => undefined);
    const none = scripted({});
    const e = await route(root, env(), none.attempt).then(
      () => undefined,
      (err) => err,
    );
    expect(none.calls).toEqual([]);
    expect(e).toMatchObject({ status: 503, retryAfter: 30 });
    expect(e.message).toContain('config.targets[0]');
    expect(e.message).toContain('config.targets[1]');
  });

  it('loadbalance leaves open targets out of the choice', async () => {
    const { breaker } = setup();
    const lb = rootOf({ strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock', name: 'a', weight: 99 }, { provider: 'mock', name: 'b', weight: 1 }] });
    const failing = scripted({ a: [503] });
    for (let i = 0; i < 2; i++) await route(lb, envOf({ breaker, routing: { random: () => 0 } }), failing.attempt).catch(() => undefined);
    const s = scripted({});
    for (let i = 0; i < 5; i++) await route(lb, envOf({ breaker, routing: { random: () => 0 } }), s.attempt);
    expect(s.calls).toEqual(['b', 'b', 'b', 'b', 'b']);
  });

  it('shares state across gateway instances through Redis', async () => {
    const a = setup(redis);
    const b = setup(redis);
    b.clock.now = a.clock.now;
    const root = rootOf({ strategy: { mode: 'fallback' }, targets: [{ provider: 'mock', name: 'a', custom_host: `http://example.com/${crypto.randomUUID()}` }, { provider: 'mock', name: 'b' }] });
    const failing = scripted({ a: [503] });
    for (let i = 0; i < 2; i++) await route(root, envOf({ breaker: a.breaker, routing: { now: () => a.clock.now } }), failing.attempt);
    const other = scripted({});
    await route(root, envOf({ breaker: b.breaker, routing: { now: () => b.clock.now } }), other.attempt);
    expect(other.calls).toEqual(['b']);
  });

  it('fails open when the store is unreachable', async () => {
    const broken: BreakerStore = {
      breakerAcquire: () => Promise.reject(new Error('down')),
      breakerRecord: () => Promise.reject(new Error('down')),
    };
    const { root, env } = setup(broken);
    const s = scripted({ a: [503] });
    for (let i = 0; i < 3; i++) await route(root, env(), s.attempt);
    expect(s.calls.filter((c) => c === 'a')).toHaveLength(3);
  });
});

describe('memory breaker with many keys', () => {
  it('drops circuits whose failures and cooldowns are over once it holds many, and keeps an open one', async () => {
    const s = memoryBreaker();
    const t = 1_000_000;
    for (let i = 0; i < 9_999; i++) await s.breakerRecord(`stale:${i}`, false, t, policy);
    // One tenant's key failing later: its circuit is still open when the sweep comes.
    for (let i = 0; i < 3; i++) await s.breakerRecord('open', false, t + 8_000, policy);
    expect(s.size).toBe(10_000);
    // The next new key past the bound sweeps: the stale failures left the window long ago.
    await s.breakerRecord('new', false, t + 11_000, policy);
    expect(s.size).toBe(2);
    expect(await s.breakerAcquire('open', t + 11_000, policy)).toMatchObject({ state: 'open', allowed: false });
  });
});
