import { laterRefusal, type AdmitRequest, type AdmitResult, type CounterClaim, type LimitStore, type LimitUsage, type SettleAmounts, type SettleOptions, type WindowStatus } from '../limit-store.js';
import type { SqliteDatabase } from './open-database.js';

/** Stale counters and window entries are deleted at most this often. */
const SWEEP_EVERY_MS = 60_000;

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0);

function statements(db: SqliteDatabase) {
  const s = {
    dropExpiredReservations: db.prepare('DELETE FROM llmux_limit_reservations WHERE expires_at <= ?'),
    dropOldEntries: db.prepare('DELETE FROM llmux_limit_windows WHERE key = ? AND ts <= ?'),
    windowUsed: db.prepare('SELECT COALESCE(SUM(amount), 0) AS used, MIN(ts) AS oldest FROM llmux_limit_windows WHERE key = ?'),
    windowEntries: db.prepare('SELECT ts, amount FROM llmux_limit_windows WHERE key = ? ORDER BY ts'),
    spent: db.prepare('SELECT spent FROM llmux_limit_counters WHERE key = ? AND expire_at > ?'),
    reserved: db.prepare('SELECT COALESCE(SUM(amount), 0) AS reserved FROM llmux_limit_reservations WHERE key = ? AND expires_at > ?'),
    addEntry: db.prepare('INSERT OR REPLACE INTO llmux_limit_windows (key, id, ts, amount, expire_at) VALUES (?, ?, ?, ?, ?)'),
    addReservation: db.prepare('INSERT OR REPLACE INTO llmux_limit_reservations (key, id, amount, expires_at) VALUES (?, ?, ?, ?)'),
    dropReservation: db.prepare('DELETE FROM llmux_limit_reservations WHERE key = ? AND id = ?'),
    // An expired counter starts again from the amount added: its calendar window is over.
    addSpent: db.prepare(`INSERT INTO llmux_limit_counters (key, spent, expire_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET
        spent = CASE WHEN expire_at <= ? THEN excluded.spent ELSE spent + excluded.spent END,
        expire_at = MAX(expire_at, excluded.expire_at)`),
    setEntry: db.prepare('UPDATE llmux_limit_windows SET amount = ? WHERE key = ? AND id = ?'),
    dropOldCounters: db.prepare('DELETE FROM llmux_limit_counters WHERE expire_at <= ?'),
    dropOldWindows: db.prepare('DELETE FROM llmux_limit_windows WHERE expire_at <= ?'),
    listCounters: db.prepare('SELECT key, spent FROM llmux_limit_counters WHERE expire_at > ? AND substr(key, 1, ?) = ?'),
    listReserved: db.prepare(
      'SELECT key, SUM(amount) AS reserved FROM llmux_limit_reservations WHERE expires_at > ? AND substr(key, 1, ?) = ? GROUP BY key',
    ),
    listWindows: db.prepare('SELECT key, SUM(amount) AS used FROM llmux_limit_windows WHERE expire_at > ? AND substr(key, 1, ?) = ? GROUP BY key'),
  };
  return s;
}

/**
 * Budget counters and sliding-window logs in an SQLite file, so spend survives restarts. Each operation
 * is one IMMEDIATE transaction: the write lock is taken up front, so two processes sharing the file
 * serialise instead of both passing a check and overspending.
 */
export function sqliteLimits(database: Promise<SqliteDatabase>): LimitStore {
  let lastSweep = 0;
  const ready = database.then((db) => {
    const s = statements(db);

    const admit = db.transaction((req: AdmitRequest, t: number): AdmitResult => {
      s.dropExpiredReservations.run(t);
      if (t - lastSweep > SWEEP_EVERY_MS) {
        lastSweep = t;
        s.dropOldCounters.run(t);
        s.dropOldWindows.run(t);
      }
      const statuses: WindowStatus[] = [];
      const useds: number[] = [];
      /** Oldest live entry per window, undefined for an empty one. */
      const oldest: Array<number | undefined> = [];
      // Every window is checked: the refusal names the one that frees up last, so `Retry-After` is the
      // wait after which every full window has room (the first full one may free up much sooner).
      let denied: Extract<AdmitResult, { reason: 'window' }> | undefined;
      for (let i = 0; i < req.windows.length; i++) {
        const claim = req.windows[i]!;
        s.dropOldEntries.run(claim.key, t - claim.windowMs);
        const row = s.windowUsed.get(claim.key)!;
        const used = num(row.used);
        useds.push(used);
        oldest.push(row.oldest == null ? undefined : num(row.oldest));
        if (used + claim.amount <= claim.limit) continue;
        let retryAfterMs = claim.windowMs;
        if (claim.amount <= claim.limit) {
          let freed = 0;
          for (const e of s.windowEntries.iterate(claim.key)) {
            freed += num(e.amount);
            if (freed >= used + claim.amount - claim.limit) {
              retryAfterMs = Math.max(1, num(e.ts) + claim.windowMs - t + 1);
              break;
            }
          }
        }
        if (!denied || retryAfterMs > denied.retryAfterMs) denied = { ok: false, reason: 'window', index: i, used, limit: claim.limit, retryAfterMs };
      }
      if (denied) return denied;
      // Every counter is checked: the refusal names the one `laterRefusal` picks.
      let refused: { denial: Extract<AdmitResult, { reason: 'counter' }>; claim: CounterClaim } | undefined;
      for (let i = 0; i < req.counters.length; i++) {
        const claim = req.counters[i]!;
        const spent = num(s.spent.get(claim.key, t)?.spent);
        const reserved = num(s.reserved.get(claim.key, t)?.reserved);
        if (spent + reserved + claim.amount > claim.limit && (!refused || laterRefusal(claim, spent, refused.claim, refused.denial.spent))) {
          refused = { denial: { ok: false, reason: 'counter', index: i, spent, reserved, limit: claim.limit }, claim };
        }
      }
      if (refused) {
        // The windows passed their check above; their state (nothing consumed) goes with the refusal.
        if (req.windows.length > 0) {
          refused.denial.windows = req.windows.map((claim, j) => {
            const from = oldest[j];
            return { used: useds[j]!, limit: claim.limit, resetMs: from === undefined ? 0 : from + claim.windowMs - t };
          });
        }
        return refused.denial;
      }
      req.windows.forEach((claim, i) => {
        s.addEntry.run(claim.key, req.id, t, claim.amount, t + claim.windowMs);
        const used = num(s.windowUsed.get(claim.key)!.used);
        statuses.push({ used, limit: claim.limit, resetMs: (oldest[i] ?? t) + claim.windowMs - t });
      });
      for (const claim of req.counters) s.addReservation.run(claim.key, req.id, claim.amount, t + req.ttlMs);
      return { ok: true, windows: statuses };
    });

    const settle = db.transaction((req: AdmitRequest, amounts: SettleAmounts, t: number, retry: boolean) => {
      req.counters.forEach((claim, i) => {
        // A retry applies only over a reservation still held: without one it may have been applied.
        if (s.dropReservation.run(claim.key, req.id).changes === 0 && retry) return;
        const actual = amounts.counters[i] ?? 0;
        if (actual !== 0) s.addSpent.run(claim.key, actual, claim.expireAt, t);
      });
      req.windows.forEach((claim, i) => {
        const amount = amounts.windows?.[i];
        if (amount !== undefined) s.setEntry.run(amount, claim.key, req.id);
      });
    });

    const release = db.transaction((req: AdmitRequest) => {
      for (const claim of req.counters) s.dropReservation.run(claim.key, req.id);
    });

    const readUsage = (prefix: string, t: number): LimitUsage => {
      const reserved = new Map<string, number>();
      for (const r of s.listReserved.all(t, prefix.length, prefix)) reserved.set(String(r.key), num(r.reserved));
      const counters = s.listCounters.all(t, prefix.length, prefix).map((r) => {
        const key = String(r.key);
        const out = { key, spent: num(r.spent), reserved: reserved.get(key) ?? 0 };
        reserved.delete(key);
        return out;
      });
      for (const [key, amount] of reserved) counters.push({ key, spent: 0, reserved: amount });
      const windows = s.listWindows.all(t, prefix.length, prefix).map((r) => ({ key: String(r.key), used: num(r.used) }));
      return { counters, windows };
    };

    return { admit, settle, release, readUsage };
  });
  // Opening errors surface on each operation (and through the store's `ready`), never as unhandled rejections.
  ready.catch(() => undefined);

  return {
    async admit(req) {
      return (await ready).admit.immediate(req, Date.now());
    },
    async settle(req, amounts, options?: SettleOptions) {
      (await ready).settle.immediate(req, amounts, Date.now(), options?.retry === true);
    },
    async release(req) {
      (await ready).release.immediate(req);
    },
    async readUsage(prefix = '') {
      return (await ready).readUsage(prefix, Date.now());
    },
  };
}
