import { afterAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { maxOutputTokens } from '../../src/limits/estimate.js';
import { memoryLimits } from '../../src/store/memory/limits.js';

const gateways: Gateway[] = [];
afterAll(() => Promise.all(gateways.map((g) => g.close(100))));
const gateway = (options: GatewayOptions) => {
  const g = createGateway({ env: {}, ...options });
  gateways.push(g);
  return g;
};
const chat = (g: Gateway, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  g.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', ...headers }, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], ...body } });
const errorOf = (res: { body: unknown }) => (res.body as { error: { code: string; param: string | null } }).error;

describe('the output bound of a reasoning_effort named like an Object.prototype member', () => {
  it.each(['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'])('"%s" adds no thinking budget: the bound stays the default', (effort) => {
    expect(maxOutputTokens({ messages: [], reasoning_effort: effort }, 100)).toBe(100);
  });
});

describe('reservations no counter can hold', () => {
  const budget = { budget: { max_tokens_per_day: 1_000_000 } };

  it("a client's thinking.budget_tokens that makes the bound Infinity is a 400 naming it", async () => {
    const g = gateway({ config: { provider: 'mock', ...budget } as never });
    const res = await chat(g, { n: 2, thinking: { type: 'enabled', budget_tokens: 1e308 } });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'invalid_request', param: 'thinking.budget_tokens' });
    // Nothing was reserved: an ordinary request still fits.
    expect((await chat(g, {})).status).toBe(200);
  });

  it("a client config's override_params that make the bound Infinity are a 400 naming the target's override_params", async () => {
    const g = gateway({ allowRequestConfig: true, config: { provider: 'mock', ...budget } as never });
    const cfg = JSON.stringify({ provider: 'mock', override_params: { max_tokens: 1e308, n: 1e308 }, ...budget });
    const res = await chat(g, {}, { 'x-portkey-config': cfg });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'invalid_config', param: 'x-portkey-config.override_params' });
  });

  it("the server config's override_params doing the same are the gateway's error, not the client's", async () => {
    const g = gateway({ config: { provider: 'mock', override_params: { max_tokens: 1e308, n: 1e308 }, ...budget } as never });
    const res = await chat(g, {});
    expect(res.status).toBe(500);
    expect(errorOf(res).code).toBe('internal_error');
  });
});

describe('memory limit store: amounts that are no finite non-negative number', () => {
  const counter = { key: 'c', amount: 10, limit: 100, expireAt: Date.now() + 3_600_000 };
  const window = { key: 'w', amount: 10, limit: 100, windowMs: 60_000 };

  it.each([NaN, Infinity, -1])('an admission claiming %s is refused before anything is counted', async (amount) => {
    const store = memoryLimits();
    await expect(store.admit({ id: 'a', ttlMs: 60_000, counters: [{ ...counter, amount }], windows: [] })).rejects.toMatchObject({ code: 'internal_error' });
    await expect(store.admit({ id: 'b', ttlMs: 60_000, counters: [], windows: [{ ...window, amount }] })).rejects.toMatchObject({ code: 'internal_error' });
    expect(await store.readUsage()).toEqual({ counters: [], windows: [] });
  });

  it.each([NaN, Infinity, -5])('a settlement of %s is charged the reservation, and the window keeps its admitted amount', async (amount) => {
    const store = memoryLimits();
    const req = { id: 'a', ttlMs: 60_000, counters: [counter], windows: [window] };
    await store.admit(req);
    await store.settle(req, { counters: [amount], windows: [amount] });
    expect(await store.readUsage()).toEqual({ counters: [{ key: 'c', spent: 10, reserved: 0 }], windows: [{ key: 'w', used: 10 }] });
    // The counter still refuses what no longer fits.
    expect(await store.admit({ ...req, id: 'b', counters: [{ ...counter, amount: 95 }], windows: [] })).toMatchObject({ ok: false, reason: 'counter' });
  });
});
