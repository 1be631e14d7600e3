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

  it('drops a request id from its window once the request settled, while its entry still counts', async () => {
    const t = 1_000_000;
    const store = memoryLimits(() => t);
    const windows = [
      { key: 'requests', amount: 1, limit: 1e9, windowMs: 60_000 },
      { key: 'tokens', amount: 500, limit: 1e12, windowMs: 60_000 },
    ];
    // 10 kB ids, made anew for each call from bytes kept outside the heap: the windows are all that
    // hold the admitted ones.
    const bytes = randomBytes(2000 * 5000);
    const idOf = (i: number) => bytes.toString('hex', i * 5000, (i + 1) * 5000);
    const req = (i: number) => ({ id: idOf(i), ttlMs: 1000, counters: [], windows });
    for (let i = 0; i < 2000; i++) await store.admit(req(i));
    const before = heapAfterGc();
    for (let i = 0; i < 2000; i++) await store.settle(req(i), { counters: [], windows: [undefined, 20] });
    // The ids (20 MB) are gone; the settled amounts replaced the reserved ones.
    expect(before - heapAfterGc()).toBeGreaterThan(15 * 1024 * 1024);
    expect((await store.readUsage()).windows).toEqual([
      { key: 'requests', used: 2000 },
      { key: 'tokens', used: 2000 * 20 },
    ]);
  });

  it('settles the right entry after expired ones were compacted away', async () => {
    let t = 1_000_000;
    const store = memoryLimits(() => t);
    const req = (id: string, amount: number) => ({ id, ttlMs: 600_000, counters: [], windows: [{ key: 'tokens', amount, limit: 1e12, windowMs: 60_000 }] });
    for (let i = 0; i < 100; i++) await store.admit(req(`old-${i}`, 1000));
    t += 30_000;
    const late = Array.from({ length: 150 }, (_, i) => req(`late-${i}`, 100));
    for (const r of late) await store.admit(r);
    // The first 100 expire; more than 64 expired and they outnumber half the log, so it is compacted.
    t += 30_001;
    expect((await store.readUsage()).windows).toEqual([{ key: 'tokens', used: 150 * 100 }]);
    await store.settle(late[7]!, { counters: [], windows: [7] });
    await store.settle(late[149]!, { counters: [], windows: [49] });
    // An expired request settles nothing (its entry is gone), and twice is once.
    await store.settle(req('old-3', 1000), { counters: [], windows: [1] });
    await store.settle(late[7]!, { counters: [], windows: [7] });
    expect((await store.readUsage()).windows).toEqual([{ key: 'tokens', used: 148 * 100 + 7 + 49 }]);
  });
});
