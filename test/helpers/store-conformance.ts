import { afterAll, describe, expect, it } from 'vitest';
import type { AdmitRequest, CounterClaim, GatewayStore, WindowClaim } from '@llmux/core';

/**
 * One behaviour suite for every `GatewayStore` (keyv's @keyv/test-suite idea): memory, SQLite and
 * Redis must agree on every case. Each store gets its own namespace, so suites run in parallel.
 * Parts other than limits (breaker, cache) add their own `describe` blocks here.
 */
export interface StoreHarness {
  name: string;
  /** A fresh, empty store in its own namespace. */
  create(): Promise<GatewayStore>;
  /** A second handle onto the same data, as another instance or a restarted process would open it. */
  reopen?(store: GatewayStore): Promise<GatewayStore>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const id = () => `req-${process.pid}-${++seq}-${Math.random().toString(36).slice(2)}`;
const DAY = 86_400_000;

const counter = (key: string, amount: number, limit: number, expireAt = Date.now() + DAY): CounterClaim => ({ key, amount, limit, expireAt });
const window = (key: string, amount: number, limit: number, windowMs = 60_000): WindowClaim => ({ key, amount, limit, windowMs });
const admitOf = (counters: CounterClaim[], windows: WindowClaim[] = [], ttlMs = 60_000): AdmitRequest => ({ id: id(), ttlMs, counters, windows });

async function counterState(store: GatewayStore, key: string) {
  const usage = await store.readUsage(key);
  return usage.counters.find((c) => c.key === key) ?? { key, spent: 0, reserved: 0 };
}

async function windowUsed(store: GatewayStore, key: string) {
  const usage = await store.readUsage(key);
  return usage.windows.find((w) => w.key === key)?.used ?? 0;
}

export function limitStoreConformance(harness: StoreHarness): void {
  describe(`${harness.name} store: budgets and rate limits`, () => {
    const opened: GatewayStore[] = [];
    const fresh = async () => {
      const store = await harness.create();
      opened.push(store);
      return store;
    };
    afterAll(async () => {
      await Promise.all(opened.map((s) => s.close()));
    });

    it('admits while spent + reserved + this reservation stays within the limit, to the unit', async () => {
      const store = await fresh();
      expect((await store.admit(admitOf([counter('b:gateway:cost', 4, 10)]))).ok).toBe(true);
      expect((await store.admit(admitOf([counter('b:gateway:cost', 4, 10)]))).ok).toBe(true);
      const denied = await store.admit(admitOf([counter('b:gateway:cost', 3, 10)]));
      expect(denied).toEqual({ ok: false, reason: 'counter', index: 0, spent: 0, reserved: 8, limit: 10 });
      expect((await store.admit(admitOf([counter('b:gateway:cost', 2, 10)]))).ok).toBe(true);
      expect(await counterState(store, 'b:gateway:cost')).toMatchObject({ spent: 0, reserved: 10 });
    });

    it('reserves several counters all or nothing', async () => {
      const store = await fresh();
      await store.admit(admitOf([counter('b:user=a:cost', 9, 10)]));
      const denied = await store.admit(admitOf([counter('b:gateway:cost', 5, 100), counter('b:user=a:cost', 5, 10)]));
      expect(denied).toMatchObject({ ok: false, reason: 'counter', index: 1, reserved: 9 });
      expect(await counterState(store, 'b:gateway:cost')).toMatchObject({ reserved: 0 });
    });

    it('of several full budgets, names one full of money spent before one full of requests in flight, then the one whose window ends last', async () => {
      const store = await fresh();
      const day = Date.now() + DAY;
      const month = Date.now() + 10 * DAY;
      const spending = admitOf([counter('b:lr:day', 6, 10, day), counter('b:lr:month', 6, 10, month)]);
      expect((await store.admit(spending)).ok).toBe(true);
      await store.settle(spending, { counters: [6, 6] });
      expect((await store.admit(admitOf([counter('b:lr:hour', 8, 10, day)]))).ok).toBe(true);
      // The hour is full only of the request in flight; the day and the month of money spent, the month until later.
      const all = await store.admit(admitOf([counter('b:lr:hour', 3, 10, day), counter('b:lr:day', 5, 10, day), counter('b:lr:month', 5, 10, month)]));
      expect(all).toMatchObject({ ok: false, reason: 'counter', index: 2, spent: 6, reserved: 0, limit: 10 });
      const inFlightFirst = await store.admit(admitOf([counter('b:lr:hour', 3, 10, month), counter('b:lr:day', 5, 10, day)]));
      expect(inFlightFirst).toMatchObject({ ok: false, reason: 'counter', index: 1 });
    });

    it('consumes no window when a budget refuses, and reserves no budget when a window refuses', async () => {
      const store = await fresh();
      const full = await store.admit(admitOf([counter('b:k:cost', 11, 10)], [window('r:k:requests', 1, 5)]));
      expect(full).toMatchObject({ ok: false, reason: 'counter' });
      expect(await windowUsed(store, 'r:k:requests')).toBe(0);
      await store.admit(admitOf([], [window('r:k2:requests', 1, 1)]));
      const limited = await store.admit(admitOf([counter('b:k2:cost', 1, 10)], [window('r:k2:requests', 1, 1)]));
      expect(limited).toMatchObject({ ok: false, reason: 'window', index: 0, used: 1, limit: 1 });
      expect(await counterState(store, 'b:k2:cost')).toMatchObject({ reserved: 0, spent: 0 });
    });

    it('refuses with the longest wait when several windows are full, so a retry after it finds room in all', async () => {
      const store = await fresh();
      const windows = () => [window('r:lw:requests:60000', 1, 1, 60_000), window('r:lw:requests:86400000', 1, 1, DAY)];
      expect((await store.admit(admitOf([], windows()))).ok).toBe(true);
      const denied = await store.admit(admitOf([], windows()));
      expect(denied).toMatchObject({ ok: false, reason: 'window', index: 1, used: 1, limit: 1 });
      expect((denied as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(DAY - 5_000);
    });

    it("returns the windows' state, nothing consumed, with a budget refusal", async () => {
      const store = await fresh();
      expect((await store.admit(admitOf([], [window('r:bw:requests', 1, 5)]))).ok).toBe(true);
      const denied = await store.admit(admitOf([counter('b:bw:cost', 11, 10)], [window('r:bw:requests', 1, 5), window('r:bw:tokens', 100, 1000)]));
      expect(denied).toMatchObject({ ok: false, reason: 'counter', windows: [{ used: 1, limit: 5 }, { used: 0, limit: 1000, resetMs: 0 }] });
      const [first] = (denied as { windows: Array<{ resetMs: number }> }).windows;
      expect(first!.resetMs).toBeGreaterThan(55_000);
      expect(first!.resetMs).toBeLessThanOrEqual(60_000);
      expect(await windowUsed(store, 'r:bw:requests')).toBe(1);
    });

    it('settles a reservation with the real amount', async () => {
      const store = await fresh();
      const req = admitOf([counter('b:s:cost', 50, 100), counter('b:s:tokens', 400, 1000)]);
      expect((await store.admit(req)).ok).toBe(true);
      await store.settle(req, { counters: [30, 120] });
      expect(await counterState(store, 'b:s:cost')).toMatchObject({ spent: 30, reserved: 0 });
      expect(await counterState(store, 'b:s:tokens')).toMatchObject({ spent: 120, reserved: 0 });
      const denied = await store.admit(admitOf([counter('b:s:cost', 71, 100)]));
      expect(denied).toMatchObject({ ok: false, spent: 30, reserved: 0 });
      expect((await store.admit(admitOf([counter('b:s:cost', 70, 100)]))).ok).toBe(true);
    });

    it('releases a reservation without spending', async () => {
      const store = await fresh();
      const req = admitOf([counter('b:r:cost', 10, 10)]);
      await store.admit(req);
      expect((await store.admit(admitOf([counter('b:r:cost', 1, 10)]))).ok).toBe(false);
      await store.release(req);
      expect(await counterState(store, 'b:r:cost')).toMatchObject({ spent: 0, reserved: 0 });
      expect((await store.admit(admitOf([counter('b:r:cost', 10, 10)]))).ok).toBe(true);
    });

    it('lets a reservation that is never settled expire on its own (a crashed instance)', async () => {
      const store = await fresh();
      const crashed = admitOf([counter('b:crash:cost', 10, 10)], [], 200);
      expect((await store.admit(crashed)).ok).toBe(true);
      expect((await store.admit(admitOf([counter('b:crash:cost', 1, 10)]))).ok).toBe(false);
      await sleep(350);
      expect((await counterState(store, 'b:crash:cost')).reserved).toBe(0);
      expect((await store.admit(admitOf([counter('b:crash:cost', 10, 10)]))).ok).toBe(true);
    });

    it('records the real spend even when the reservation already expired', async () => {
      const store = await fresh();
      const slow = admitOf([counter('b:late:cost', 5, 10)], [], 150);
      await store.admit(slow);
      await sleep(250);
      await store.settle(slow, { counters: [7] });
      expect(await counterState(store, 'b:late:cost')).toMatchObject({ spent: 7, reserved: 0 });
    });

    it('forgets a counter once its calendar window has ended', async () => {
      const store = await fresh();
      const req = admitOf([counter('b:w:cost', 10, 10, Date.now() + 300)]);
      await store.admit(req);
      await store.settle(req, { counters: [10] });
      expect((await store.admit(admitOf([counter('b:w:cost', 1, 10, Date.now() + 300)]))).ok).toBe(false);
      await sleep(450);
      expect((await store.admit(admitOf([counter('b:w:cost', 10, 10, Date.now() + DAY)]))).ok).toBe(true);
    });

    it('limits a sliding window exactly, with the wait until the oldest entry leaves', async () => {
      const store = await fresh();
      const key = 'r:gateway:requests:600';
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const r = await store.admit(admitOf([], [window(key, 1, 3, 600)]));
        expect(r.ok).toBe(true);
        if (r.ok) statuses.push(r.windows[0]);
      }
      expect(statuses.map((s) => s!.used)).toEqual([1, 2, 3]);
      expect(statuses.every((s) => s!.limit === 3 && s!.resetMs > 0 && s!.resetMs <= 600)).toBe(true);
      const denied = await store.admit(admitOf([], [window(key, 1, 3, 600)]));
      expect(denied).toMatchObject({ ok: false, reason: 'window', used: 3, limit: 3 });
      const wait = denied.ok ? 0 : (denied as { retryAfterMs: number }).retryAfterMs;
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(601);
      await sleep(wait + 30);
      const again = await store.admit(admitOf([], [window(key, 1, 3, 600)]));
      expect(again.ok).toBe(true);
    });

    it('sums weighted entries (tokens) and lets a settlement correct the estimate', async () => {
      const store = await fresh();
      const key = 'r:gateway:tokens:60000';
      const first = admitOf([], [window(key, 60, 100)]);
      expect((await store.admit(first)).ok).toBe(true);
      expect(await store.admit(admitOf([], [window(key, 50, 100)]))).toMatchObject({ ok: false, used: 60 });
      await store.settle(first, { counters: [], windows: [20] });
      expect(await windowUsed(store, key)).toBe(20);
      const second = await store.admit(admitOf([], [window(key, 50, 100)]));
      expect(second).toMatchObject({ ok: true, windows: [{ used: 70, limit: 100 }] });
    });

    it('finds the wait when many entries must leave the window first', async () => {
      const store = await fresh();
      const key = 'r:many:requests:60000';
      for (let i = 0; i < 150; i++) expect((await store.admit(admitOf([], [window(key, 1, 150)]))).ok).toBe(true);
      const denied = await store.admit(admitOf([], [window(key, 120, 150)]));
      expect(denied).toMatchObject({ ok: false, reason: 'window', used: 150 });
      const wait = (denied as { retryAfterMs: number }).retryAfterMs;
      // The 120th oldest entry leaves a minute after it was admitted, a moment ago.
      expect(wait).toBeGreaterThan(50_000);
      expect(wait).toBeLessThanOrEqual(60_001);
    });

    it('refuses a claim larger than the whole limit with the full window as the wait', async () => {
      const store = await fresh();
      const r = await store.admit(admitOf([], [window('r:big:tokens', 500, 100, 60_000)]));
      expect(r).toMatchObject({ ok: false, reason: 'window', used: 0, limit: 100, retryAfterMs: 60_000 });
    });

    it('admits exactly the limit out of many concurrent requests', async () => {
      const store = await fresh();
      const results = await Promise.all(
        Array.from({ length: 60 }, () => store.admit(admitOf([counter('b:race:cost', 1, 10)], [window('r:race:requests', 1, 40)]))),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(10);
      const limited = await Promise.all(Array.from({ length: 30 }, () => store.admit(admitOf([], [window('r:race2:requests', 1, 7)]))));
      expect(limited.filter((r) => r.ok)).toHaveLength(7);
    });

    it('lists live counters and windows, filtered by key prefix', async () => {
      const store = await fresh();
      const req = admitOf([counter('b:user=ann:cost:d:x', 5, 100), counter('b:user=bob:cost:d:x', 6, 100)], [window('r:user=ann:requests:60000', 1, 10)]);
      await store.admit(req);
      await store.settle(req, { counters: [2, 3] });
      await store.admit(admitOf([counter('b:user=ann:cost:d:x', 4, 100)]));
      const all = await store.readUsage();
      expect(all.counters).toEqual(
        expect.arrayContaining([
          { key: 'b:user=ann:cost:d:x', spent: 2, reserved: 4 },
          { key: 'b:user=bob:cost:d:x', spent: 3, reserved: 0 },
        ]),
      );
      expect(all.windows).toEqual(expect.arrayContaining([{ key: 'r:user=ann:requests:60000', used: 1 }]));
      const ann = await store.readUsage('b:user=ann');
      expect(ann.counters.map((c) => c.key)).toEqual(['b:user=ann:cost:d:x']);
      expect(ann.windows).toEqual([]);
    });

    if (harness.reopen) {
      it('shares counters with another handle on the same data', async () => {
        const store = await fresh();
        const req = admitOf([counter('b:shared:cost', 6, 10)]);
        await store.admit(req);
        await store.settle(req, { counters: [6] });
        const other = await harness.reopen!(store);
        opened.push(other);
        expect(await counterState(other, 'b:shared:cost')).toMatchObject({ spent: 6 });
        expect((await other.admit(admitOf([counter('b:shared:cost', 5, 10)]))).ok).toBe(false);
        expect((await other.admit(admitOf([counter('b:shared:cost', 4, 10)]))).ok).toBe(true);
      });
    }
  });
}
