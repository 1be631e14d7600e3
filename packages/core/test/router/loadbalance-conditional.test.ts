import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { route } from '../../src/router/execute.js';
import { compileQuery, MAX_REGEX_INPUT } from '../../src/router/query.js';
import type { RouteInput } from '../../src/router/route-input.js';
import { envOf, planOf, rootOf, scripted } from './helpers.js';
import { seeded } from '../../../../test/helpers/seeded-random.js';


describe('loadbalance', () => {
  it('splits by weight', async () => {
    const root = rootOf({ strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock', name: 'a', weight: 0.7 }, { provider: 'mock', name: 'b', weight: 0.3 }] });
    const { attempt, calls } = scripted({});
    const routing = { random: seeded(42) };
    for (let i = 0; i < 1000; i++) await route(root, envOf({ routing }), attempt);
    const share = calls.filter((c) => c === 'a').length / 10;
    expect(share).toBeGreaterThanOrEqual(65);
    expect(share).toBeLessThanOrEqual(75);
  });

  it('never picks a zero-weight target while another has weight', async () => {
    const root = rootOf({ strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock', name: 'a', weight: 0 }, { provider: 'mock', name: 'b', weight: 1 }] });
    const { attempt, calls } = scripted({});
    for (const r of [0, 0.5, 0.9999]) await route(root, envOf({ routing: { random: () => r } }), attempt);
    expect(calls).toEqual(['b', 'b', 'b']);
  });

  it('does not fall over by itself: a failure of the chosen target is the answer (nest a fallback for that)', async () => {
    const root = rootOf({ strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock', name: 'a' }, { provider: 'mock', name: 'b' }] });
    const { attempt, calls } = scripted({ a: [503] });
    await expect(route(root, envOf({ routing: { random: () => 0 } }), attempt)).rejects.toMatchObject({ status: 503 });
    expect(calls).toEqual(['a']);
  });

  it('in latency-aware mode sends most traffic to the faster target', async () => {
    const root = rootOf({
      strategy: { mode: 'loadbalance', latency_aware: true },
      targets: [{ provider: 'mock', name: 'slow' }, { provider: 'mock', name: 'fast' }],
    });
    let clock = 0;
    const calls: string[] = [];
    const attempt = async (t: { name?: string }) => {
      calls.push(t.name!);
      clock += t.name === 'slow' ? 400 : 20;
      return t.name!;
    };
    const routing = { random: seeded(7), now: () => clock };
    for (let i = 0; i < 200; i++) await route(root, envOf({ routing }), attempt);
    const fast = calls.slice(20).filter((c) => c === 'fast').length / calls.slice(20).length;
    expect(fast).toBeGreaterThan(0.85);
    expect(calls.includes('slow')).toBe(true); // still measured now and then
  });
});

describe('conditional', () => {
  const config = {
    strategy: {
      mode: 'conditional' as const,
      conditions: [
        { query: { 'metadata.plan': { $eq: 'paid' }, 'identity.team': { $in: ['core', 'ml'] } }, then: 'premium' },
        { query: { $or: [{ 'params.max_tokens': { $gt: 1000 } }, { model: { $regex: '^long-' } }] }, then: 'long' },
        { query: { 'metadata.tier': { $gte: 3 } }, then: 'long' },
      ],
      default: 'base',
    },
    targets: [
      { provider: 'mock', name: 'premium' },
      { provider: 'mock', name: 'long' },
      { provider: 'mock', name: 'base' },
    ],
  };
  const input = (over: Partial<RouteInput>): RouteInput => ({ metadata: {}, identity: {}, params: { model: 'm' }, ...over });

  it('routes on metadata, identity, params and model, else the default', async () => {
    const root = rootOf(config);
    const cases: Array<[Partial<RouteInput>, string]> = [
      [{ metadata: { plan: 'paid' }, identity: { team: 'ml' } }, 'premium'],
      [{ metadata: { plan: 'paid' }, identity: { team: 'sales' } }, 'base'],
      [{ params: { model: 'm', max_tokens: 4000 } }, 'long'],
      [{ model: 'long-context' }, 'long'],
      [{ metadata: { tier: '3' } }, 'long'],
      [{ metadata: { tier: '2' } }, 'base'],
      [{}, 'base'],
    ];
    for (const [over, expected] of cases) {
      const { attempt } = scripted({});
      const routed = await route(root, envOf({ input: input(over) }), attempt);
      expect(routed.target.name, JSON.stringify(over)).toBe(expected);
    }
  });

  it('answers 400 naming the strategy when nothing matches and there is no default', async () => {
    const root = rootOf({ ...config, strategy: { ...config.strategy, default: undefined } });
    const { attempt } = scripted({});
    await expect(route(root, envOf({ input: input({}) }), attempt)).rejects.toMatchObject({
      status: 400,
      param: 'config.strategy.conditions',
    });
  });

  it('rejects bad queries and unknown target names when the config is compiled', () => {
    const bad = (strategy: object) => () => planOf({ strategy: strategy as never, targets: config.targets });
    expect(bad({ mode: 'conditional', conditions: [{ query: { 'metadata.x': { $near: 1 } }, then: 'base' }] })).toThrow(
      /config\.strategy\.conditions\[0\]\.query\.metadata\.x\.\$near/,
    );
    expect(bad({ mode: 'conditional', conditions: [{ query: { 'body.x': 1 }, then: 'base' }] })).toThrow(/unknown field "body.x"/);
    expect(bad({ mode: 'conditional', conditions: [{ query: { model: 'x' }, then: 'nope' }] })).toThrow(/then: no target named "nope"/);
    expect(bad({ mode: 'conditional', conditions: [{ query: { model: { $regex: '(' } }, then: 'base' }] })).toThrow(/\$regex is not a valid pattern/);
    expect(bad({ mode: 'conditional' })).toThrow(/needs conditions or a default/);
    try {
      bad({ mode: 'conditional', default: 'nope' })();
    } catch (e) {
      expect((e as GatewayError).param).toBe('config.strategy.default');
    }
  });
});

describe('query operators', () => {
  const q = (query: object, over: Partial<RouteInput>) => compileQuery(query, 'q', { clientConfig: false })({ metadata: {}, identity: {}, params: {}, ...over });

  it('implements $eq $ne $in $nin $gt $gte $lt $lte $regex $exists $and $or', () => {
    const metadata = { env: 'prod', n: 5, tags: ['a', 'b'], nested: { x: 'y' } };
    expect(q({ 'metadata.env': 'prod' }, { metadata })).toBe(true);
    expect(q({ 'metadata.env': { $ne: 'prod' } }, { metadata })).toBe(false);
    expect(q({ 'metadata.missing': { $ne: 'prod' } }, { metadata })).toBe(true);
    expect(q({ 'metadata.env': { $in: ['dev', 'prod'] } }, { metadata })).toBe(true);
    expect(q({ 'metadata.tags': { $in: ['b'] } }, { metadata })).toBe(true);
    expect(q({ 'metadata.env': { $nin: ['dev', 'prod'] } }, { metadata })).toBe(false);
    expect(q({ 'metadata.n': { $gt: 4, $lt: 6 } }, { metadata })).toBe(true);
    expect(q({ 'metadata.n': { $gte: 5, $lte: 5 } }, { metadata })).toBe(true);
    expect(q({ 'metadata.n': { $gt: 5 } }, { metadata })).toBe(false);
    expect(q({ 'metadata.env': { $gt: 5 } }, { metadata })).toBe(false);
    expect(q({ 'metadata.nested.x': 'y' }, { metadata })).toBe(true);
    expect(q({ 'metadata.env': { $regex: '^pr' } }, { metadata })).toBe(true);
    expect(q({ 'metadata.env': { $exists: true }, 'metadata.zzz': { $exists: false } }, { metadata })).toBe(true);
    expect(q({ $and: [{ 'metadata.env': 'prod' }, { 'identity.user': 'u1' }] }, { metadata, identity: { user: 'u1' } })).toBe(true);
    expect(q({ $and: [{ 'metadata.env': 'prod' }, { 'identity.user': 'u2' }] }, { metadata, identity: { user: 'u1' } })).toBe(false);
    expect(q({ $or: [{ 'metadata.env': 'dev' }, { 'params.temperature': { $lt: 0.5 } }] }, { metadata, params: { temperature: 0.2 } })).toBe(true);
  });

  it('follows own properties only: inherited members of Object.prototype are not fields', () => {
    expect(q({ 'metadata.constructor': { $exists: true } }, {})).toBe(false);
    expect(q({ 'metadata.x.toString': { $exists: true } }, { metadata: { x: {} } })).toBe(false);
    expect(q({ 'params.__proto__': { $exists: true } }, {})).toBe(false);
    expect(q({ 'metadata.tags.1': 'b' }, { metadata: { tags: ['a', 'b'] } })).toBe(true);
  });

  it('refuses $regex in a client config, naming it; a server $regex never tests a value over MAX_REGEX_INPUT characters', () => {
    expect(() => compileQuery({ $or: [{ 'metadata.x': { $regex: '^a' } }] }, 'x-portkey-config.q', { clientConfig: true })).toThrow(
      expect.objectContaining({ param: 'x-portkey-config.q.$or[0].metadata.x.$regex' }),
    );
    expect(q({ 'metadata.x': { $regex: '^a' } }, { metadata: { x: 'a'.repeat(MAX_REGEX_INPUT) } })).toBe(true);
    expect(q({ 'metadata.x': { $regex: '^a' } }, { metadata: { x: 'a'.repeat(MAX_REGEX_INPUT + 1) } })).toBe(false);
  });
});
