import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { createGateway, createMemoryStore } from '@llmux/core';
import { resolveStore } from '../../src/store/resolve-store.js';

describe('the gateway `store` option', () => {
  it('is memory when unset, and a store is used as it is', () => {
    expect(resolveStore(undefined).kind).toBe('memory');
    const store = createMemoryStore();
    expect(resolveStore(store)).toBe(store);
  });

  it('a Keyv instance holds the cache; budgets, limits and breaker stay in memory', async () => {
    const keyv = new Keyv();
    const store = resolveStore(keyv);
    expect(store.inProcess).toBe(false); // each Keyv call gets the cache's timeout
    await store.cacheSet('k', 'v', 60_000);
    expect(await keyv.get('llmux:e:k')).toBe('v');
    const ok = await store.admit({ id: 'r', ttlMs: 1000, counters: [{ key: 'c', amount: 1, limit: 1, expireAt: Date.now() + 60_000 }], windows: [] });
    expect(ok.ok).toBe(true);
    await store.close();
    expect(await keyv.get('llmux:e:k')).toBe('v'); // the caller's Keyv: not disconnected
  });

  it.each([
    [5, /options\.store: .*got number/],
    ['redis://127.0.0.1', /options\.store: .*got string/],
    [{ admit() {} }, /options\.store: .*got an object without settle, release/],
  ])('refuses %j at createGateway with a TypeError naming options.store', (value, message) => {
    expect(() => createGateway({ logger: false, store: value as never })).toThrow(TypeError);
    expect(() => createGateway({ logger: false, store: value as never })).toThrow(message);
  });
});
