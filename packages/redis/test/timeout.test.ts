import type { RedisClientType } from 'redis';
import { describe, expect, it } from 'vitest';
import { redisLimits } from '../src/limits.js';
import { bounded, withTimeout } from '../src/timeout.js';

/** A client whose every command stalls: accepted, never answered (a Redis that hangs). */
const stalled = { scriptLoad: () => new Promise(() => undefined), evalSha: () => new Promise(() => undefined) } as unknown as RedisClientType;

const request = {
  id: 'r1',
  ttlMs: 60_000,
  counters: [{ key: 'budget:u', amount: 10, limit: 100, expireAt: Date.now() + 60_000 }],
  windows: [],
};

describe('Redis command timeouts', () => {
  it('a stalled command fails after the timeout with a message naming it', async () => {
    const started = Date.now();
    await expect(withTimeout(new Promise(() => undefined), 50, 'admit')).rejects.toThrow('redis admit timed out after 50 ms');
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(withTimeout(Promise.resolve(7), 50, 'get')).resolves.toBe(7);
  });

  it('bounds every async operation of a store part, leaving other members as they are', async () => {
    const part = bounded({ slow: () => new Promise(() => undefined), quick: async () => 'ok', sync: () => 3, name: 'x' }, 30);
    await expect(part.slow()).rejects.toThrow('redis slow timed out after 30 ms');
    await expect(part.quick()).resolves.toBe('ok');
    expect(part.sync()).toBe(3);
    expect(part.name).toBe('x');
  });

  it('budgets on a stalled Redis: closed refuses within the timeout, open admits unchecked', async () => {
    const closed = redisLimits(stalled, 't:', Promise.resolve(), 'closed', 50);
    await expect(closed.admit(request)).rejects.toThrow('timed out');
    const open = redisLimits(stalled, 't:', Promise.resolve(), 'open', 50);
    await expect(open.admit(request)).resolves.toMatchObject({ ok: true, unchecked: true });
    await expect(open.settle(request, { counters: [0] })).rejects.toThrow('redis settle timed out after 50 ms');
  });
});
