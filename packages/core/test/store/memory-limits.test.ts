import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { memoryLimits } from '../../src/store/memory/limits.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

describe('memory limit store', () => {
  it('lets expired window entries go before the window is compacted', async () => {
    let t = 1_000_000;
    const store = memoryLimits(() => t);
    const admit = (id: string) => store.admit({ id, ttlMs: 1000, counters: [], windows: [{ key: 'w', amount: 1, limit: 1e9, windowMs: 60_000 }] });
    // 2,000 requests with 10 kB ids, then 3,000 more half a window later: once the first 2,000 have
    // expired they are fewer than the live ones, so the array is not compacted yet.
    for (let i = 0; i < 2000; i++) await admit(randomBytes(5000).toString('hex'));
    t += 30_000;
    for (let i = 0; i < 3000; i++) await admit(`later-${i}`);
    const before = heapAfterGc();
    t += 30_001;
    await admit('last');
    expect((await store.readUsage()).windows).toEqual([{ key: 'w', used: 3001 }]);
    // The 2,000 expired entries held 20 MB of ids.
    expect(before - heapAfterGc()).toBeGreaterThan(15 * 1024 * 1024);
  });
});
