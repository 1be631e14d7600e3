import { afterAll, describe, expect, it } from 'vitest';
import type { AdmitRequest } from '@llmux/core';
import { createRedisStore } from '../src/create-redis-store.js';

const prefix = `llmux-test-amounts:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
const store = createRedisStore({ prefix });
afterAll(async () => {
  for await (const keys of store.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
    if ((keys as unknown as string[]).length) await store.client.del(keys as unknown as string[]);
  }
  await store.close();
});

const request = (id: string, amount = 10): AdmitRequest => ({
  id,
  ttlMs: 60_000,
  counters: [{ key: `b:${id}`, amount, limit: 100, expireAt: Date.now() + 3_600_000 }],
  windows: [{ key: `r:${id}`, amount, limit: 100, windowMs: 60_000 }],
});
const usage = async (id: string) => ({ counter: (await store.readUsage(`b:${id}`)).counters[0], window: (await store.readUsage(`r:${id}`)).windows[0]?.used });

describe('Redis limit store: amounts that are no finite non-negative number', () => {
  it.each([NaN, Infinity, -1])('an admission claiming %s is refused before the script runs', async (amount) => {
    const id = `admit-${String(amount)}`;
    await expect(store.admit(request(id, amount))).rejects.toMatchObject({ code: 'internal_error' });
    expect(await usage(id)).toEqual({ counter: undefined, window: undefined });
  });

  it.each([NaN, Infinity, -5])('a settlement of %s is charged the reservation, and the window keeps its admitted amount', async (amount) => {
    const id = `settle-${String(amount)}`;
    const req = request(id);
    await store.admit(req);
    await store.settle(req, { counters: [amount], windows: [amount] });
    expect(await usage(id)).toEqual({ counter: { key: `b:${id}`, spent: 10, reserved: 0 }, window: 10 });
    expect(await store.admit({ ...request(id, 95), id: `${id}-2` })).toMatchObject({ ok: false });
  });
});
