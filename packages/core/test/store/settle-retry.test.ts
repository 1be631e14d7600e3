import { describe, expect, it } from 'vitest';
import type { AdmitRequest, LimitStore } from '../../src/store/limit-store.js';
import { memoryLimits } from '../../src/store/memory/limits.js';
import { createSqliteStore } from '../../src/store/sqlite/create-sqlite-store.js';

/**
 * `settle(…, { retry: true })` repeats a settlement that may have run (a timeout does not recall it):
 * it counts only over a reservation still held, so nothing is counted twice; a first settle still
 * counts after the reservation expired. Memory never fails, SQLite can (a busy file): both agree.
 */
const request = (id: string, ttlMs = 60_000): AdmitRequest => ({
  id,
  ttlMs,
  counters: [{ key: 'b:spend', amount: 10, limit: 1000, expireAt: Date.now() + 3_600_000 }],
  windows: [{ key: 'r:tokens', amount: 10, limit: 1000, windowMs: 60_000 }],
});
const usage = async (store: LimitStore) => {
  const u = await store.readUsage();
  return { counter: u.counters[0], window: u.windows[0]?.used };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stores: Record<string, () => LimitStore & { close?(): Promise<void> }> = {
  memory: () => memoryLimits(),
  sqlite: () => createSqliteStore({ path: ':memory:' }),
};

for (const [name, make] of Object.entries(stores)) {
  describe(`settle retries on the ${name} store`, () => {
    it('a retry after a settlement that ran counts nothing more', async () => {
      const store = make();
      const req = request('a');
      await store.admit(req);
      await store.settle(req, { counters: [4], windows: [4] });
      await store.settle(req, { counters: [4], windows: [4] }, { retry: true });
      expect(await usage(store)).toEqual({ counter: { key: 'b:spend', spent: 4, reserved: 0 }, window: 4 });
      await store.close?.();
    });

    it('a retry over a reservation still held settles it', async () => {
      const store = make();
      const req = request('b');
      await store.admit(req);
      await store.settle(req, { counters: [7], windows: [7] }, { retry: true });
      expect(await usage(store)).toEqual({ counter: { key: 'b:spend', spent: 7, reserved: 0 }, window: 7 });
      await store.close?.();
    });

    it('a first settlement still counts after its reservation expired; a retry then does not', async () => {
      const store = make();
      const req = request('c', 5);
      await store.admit(req);
      await sleep(20);
      await store.admit(request('d')); // drops the expired reservation
      await store.settle(req, { counters: [3] });
      expect((await usage(store)).counter).toMatchObject({ spent: 3, reserved: 10 });
      const late = request('e', 5);
      await store.admit(late);
      await sleep(20);
      await store.admit(request('f'));
      await store.settle(late, { counters: [3] }, { retry: true });
      expect((await usage(store)).counter).toMatchObject({ spent: 3, reserved: 20 });
      await store.close?.();
    });
  });
}
