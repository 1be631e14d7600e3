import { describe, expect, it } from 'vitest';
import { normalise } from '../../src/cache/vector-codec.js';
import { createMemoryCache } from '../../src/store/memory/cache.js';
import { createMemoryStore } from '../../src/store/memory/create-memory-store.js';

const unit = (...xs: number[]) => normalise(Float32Array.from(xs))!;

describe('memory cache bounds', () => {
  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const cache = createMemoryCache({ maxEntries: 2 });
    await cache.cacheSet('a', '1', 60_000);
    await cache.cacheSet('b', '2', 60_000);
    await cache.cacheGet('a');
    await cache.cacheSet('c', '3', 60_000);
    expect(await cache.cacheGet('a')).toBe('1');
    expect(await cache.cacheGet('b')).toBeUndefined();
    expect(await cache.cacheGet('c')).toBe('3');
  });

  it('keeps at most maxBytes, and never an entry larger than the bound', async () => {
    const cache = createMemoryCache({ maxBytes: 1000 });
    await cache.cacheSet('big', 'x'.repeat(600), 60_000);
    expect(await cache.cacheGet('big')).toBeUndefined();
    await cache.cacheSet('a', 'x'.repeat(200), 60_000);
    await cache.cacheSet('b', 'x'.repeat(200), 60_000);
    await cache.cacheSet('c', 'x'.repeat(200), 60_000);
    expect(await cache.cacheGet('a')).toBeUndefined();
    expect(await cache.cacheGet('c')).toHaveLength(200);
  });

  it('forgets an evicted entry in the semantic index too', async () => {
    const cache = createMemoryCache({ maxEntries: 1 });
    await cache.cacheSet('a', 'A', 60_000);
    await cache.cacheIndexAdd('p', 'a', unit(1, 0), 60_000);
    expect((await cache.cacheIndexSearch('p', unit(1, 0), 0.9))?.id).toBe('a');
    await cache.cacheSet('b', 'B', 60_000);
    expect(await cache.cacheIndexSearch('p', unit(1, 0), 0.9)).toBeUndefined();
  });

  it('bounds the semantic index by maxVectors', async () => {
    const cache = createMemoryCache({ maxVectors: 2 });
    for (const id of ['a', 'b', 'c']) await cache.cacheIndexAdd('p', id, unit(1, 0), 60_000);
    await cache.cacheIndexAdd('p', 'd', unit(0, 1), 60_000);
    expect((await cache.cacheIndexSearch('p', unit(1, 0), 0.9))?.id).toBe('c');
  });

  it('is part of the memory store, with its options', async () => {
    const store = createMemoryStore({ cache: { maxEntries: 1 } });
    await store.cacheSet('a', '1', 60_000);
    await store.cacheSet('b', '2', 60_000);
    expect(await store.cacheGet('a')).toBeUndefined();
    expect(await store.cacheGet('b')).toBe('2');
  });
});
