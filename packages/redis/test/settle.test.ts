import { afterAll, describe, expect, it } from 'vitest';
import type { RedisClientType } from 'redis';
import type { AdmitRequest } from '@llmux/core';
import { createRedisStore } from '../src/create-redis-store.js';
import { luaScript } from '../src/run-script.js';

const prefix = `llmux-test-settle:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
const store = createRedisStore({ prefix });
afterAll(async () => {
  for await (const keys of store.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if ((keys as unknown as string[]).length) await store.client.del(keys as unknown as string[]);
  }
  await store.close();
});

const request = (id: string, ttlMs = 60_000): AdmitRequest => ({
  id,
  ttlMs,
  counters: [{ key: `b:${id}`, amount: 10, limit: 1000, expireAt: Date.now() + 3_600_000 }],
  windows: [{ key: `r:${id}`, amount: 10, limit: 1000, windowMs: 60_000 }],
});
const usage = async (id: string) => {
  const u = await store.readUsage(`b:${id}`);
  const w = await store.readUsage(`r:${id}`);
  return { counter: u.counters[0], window: w.windows[0]?.used };
};

/**
 * SETTLE with `retry` (the first attempt may have run: a timed-out command is not recalled) adds the
 * real amount only where `r:<id>` is still there, so a retried settlement never counts twice.
 */
describe('Redis SETTLE retries', () => {
  it('a retry after a settlement that ran counts nothing more', async () => {
    const req = request('a');
    await store.admit(req);
    await store.settle(req, { counters: [4], windows: [4] });
    await store.settle(req, { counters: [4], windows: [4] }, { retry: true });
    expect(await usage('a')).toEqual({ counter: { key: 'b:a', spent: 4, reserved: 0 }, window: 4 });
  });

  it('a retry over a reservation still held settles it', async () => {
    const req = request('b');
    await store.admit(req);
    await store.settle(req, { counters: [7], windows: [7] }, { retry: true });
    expect(await usage('b')).toEqual({ counter: { key: 'b:b', spent: 7, reserved: 0 }, window: 7 });
  });

  it('a first settlement still counts after its reservation expired and was dropped; a retry does not', async () => {
    const req = request('c', 5);
    await store.admit(req);
    await new Promise((r) => setTimeout(r, 20));
    await store.admit({ ...request('c2'), counters: [{ ...request('c2').counters[0]!, key: 'b:c' }] });
    await store.settle(req, { counters: [3] });
    expect((await usage('c')).counter).toMatchObject({ spent: 3, reserved: 10 });
    await store.settle(req, { counters: [3] }, { retry: true });
    expect((await usage('c')).counter).toMatchObject({ spent: 3, reserved: 10 });
  });
});

describe('luaScript', () => {
  it('loads again after a load that failed (Redis was down), instead of keeping the failure', async () => {
    let loads = 0;
    const client = {
      scriptLoad: async () => {
        if (++loads === 1) throw new Error('The client is offline');
        return 'sha';
      },
      evalSha: async () => 'ran',
    } as unknown as RedisClientType;
    const run = luaScript(client, 'return 1');
    await expect(run([], [])).rejects.toThrow('offline');
    await expect(run([], [])).resolves.toBe('ran');
    expect(loads).toBe(2);
  });
});

