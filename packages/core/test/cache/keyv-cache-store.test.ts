import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { keyvCacheStore } from '../../src/cache/keyv-cache-store.js';

const unit = (i: number) => {
  const v = new Float32Array(4);
  v[i] = 1;
  return v;
};

describe('keyv cache store', () => {
  it("a partition's id list lives as long as its longest-lived vector", async () => {
    const keyv = new Keyv();
    const a = keyvCacheStore(keyv);
    await a.cacheIndexAdd('p', 'long', unit(0), 60_000);
    await a.cacheIndexAdd('p', 'short', unit(1), 30);
    await new Promise((r) => setTimeout(r, 60));
    // Another instance (its own local index) still finds the long-lived vector.
    const b = keyvCacheStore(keyv);
    expect(await b.cacheIndexSearch('p', unit(0), 0.9)).toMatchObject({ id: 'long' });
    expect(await b.cacheIndexSearch('p', unit(1), 0.9)).toBeUndefined();
  });

  it('reads an id list written as a bare array by earlier versions', async () => {
    const keyv = new Keyv();
    await keyvCacheStore(keyv).cacheIndexAdd('p', 'old', unit(2), 60_000);
    await keyv.set('llmux:p:p', ['old'], 60_000);
    expect(await keyvCacheStore(keyv).cacheIndexSearch('p', unit(2), 0.9)).toMatchObject({ id: 'old' });
    await keyvCacheStore(keyv).cacheIndexAdd('p', 'new', unit(3), 60_000);
    expect(await keyv.get('llmux:p:p')).toMatchObject({ ids: ['old', 'new'] });
  });
});
