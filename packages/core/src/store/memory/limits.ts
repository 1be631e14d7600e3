import { GatewayError } from '../../errors.js';
import { laterRefusal, type AdmitRequest, type AdmitResult, type CounterClaim, type LimitStore, type LimitUsage, type SettleAmounts, type SettleOptions, type WindowStatus } from '../limit-store.js';

interface Counter {
  spent: number;
  reserved: number;
  reservations: Map<string, { amount: number; expiresAt: number }>;
  /** Earliest reservation expiry, so cleanup runs only when something can have expired. */
  nextExpiry: number;
  expireAt: number;
}

/**
 * A sliding-window log as parallel arrays, oldest first: each admission is a time and an amount in
 * packed number arrays, not an object. Entries live a whole window (a minute or a day), long enough
 * to reach the old generation; a minute of traffic as two objects each (an entry and its boxed
 * timestamp) was hundreds of thousands of objects for every full GC to mark.
 */
interface Window {
  /** Admission times (ms epoch). Slots before `head` are expired; the arrays are compacted now and then instead of shifted. */
  ts: number[];
  amounts: number[];
  /** The admitting request's id until it settles (settle finds its entry by it); undefined after, so ids do not live on. */
  ids: Array<string | undefined>;
  /** Index of the oldest live entry. */
  head: number;
  sum: number;
  windowMs: number;
}

/**
 * What a counter or window can hold. A NaN fails every `used + amount > limit` test: one NaN reserved
 * or settled into a counter admitted every later request, over any budget.
 */
const isAmount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

/** Refuses a claim no counter can hold, before anything is counted (buildClaims refuses such requests first). */
function checkClaims(req: AdmitRequest): void {
  for (const claims of [req.counters, req.windows]) {
    for (const claim of claims) {
      if (!isAmount(claim.amount)) throw new GatewayError('internal_error', `limit store: amount ${String(claim.amount)} for ${claim.key} is no finite non-negative number`);
    }
  }
}

/** How often stale counters and empty windows are dropped. */
const SWEEP_EVERY_MS = 60_000;

/**
 * Budget counters and sliding-window logs in this process. JavaScript runs each call to the end
 * before the next starts, so check-then-write is atomic here without locks.
 */
export function memoryLimits(now: () => number = Date.now): LimitStore {
  const counters = new Map<string, Counter>();
  const windows = new Map<string, Window>();
  let lastSweep = now();

  function counter(key: string, t: number): Counter | undefined {
    const c = counters.get(key);
    if (!c) return undefined;
    if (c.expireAt <= t && c.reservations.size === 0) {
      counters.delete(key);
      return undefined;
    }
    if (t >= c.nextExpiry) {
      let next = Infinity;
      for (const [id, r] of c.reservations) {
        if (r.expiresAt <= t) {
          c.reserved -= r.amount;
          c.reservations.delete(id);
        } else if (r.expiresAt < next) next = r.expiresAt;
      }
      c.nextExpiry = next;
    }
    return c;
  }

  function window(key: string, t: number): Window | undefined {
    const w = windows.get(key);
    if (!w) return undefined;
    const floor = t - w.windowMs;
    while (w.head < w.ts.length && w.ts[w.head]! <= floor) {
      w.sum -= w.amounts[w.head]!;
      // At once, not at the compaction below: ids of expired slots kept until then held up to twice
      // a window of traffic's ids alive.
      w.ids[w.head++] = undefined;
    }
    if (w.head > 64 && w.head * 2 > w.ts.length) {
      w.ts = w.ts.slice(w.head);
      w.amounts = w.amounts.slice(w.head);
      w.ids = w.ids.slice(w.head);
      w.head = 0;
    }
    return w;
  }

  function retryAfter(w: Window, excess: number, t: number): number {
    let freed = 0;
    for (let i = w.head; i < w.ts.length; i++) {
      freed += w.amounts[i]!;
      if (freed >= excess) return Math.max(1, w.ts[i]! + w.windowMs - t + 1);
    }
    return w.windowMs;
  }

  function sweep(t: number): void {
    lastSweep = t;
    for (const key of [...counters.keys()]) counter(key, t);
    for (const [key, w] of windows) if (window(key, t)!.head >= w.ts.length) windows.delete(key);
  }

  /** The windows' state, nothing consumed: what a refusal's `x-ratelimit-*` headers show. */
  function windowStates(req: AdmitRequest, t: number): WindowStatus[] {
    return req.windows.map((claim) => {
      const w = window(claim.key, t);
      const live = w !== undefined && w.head < w.ts.length;
      return { used: w?.sum ?? 0, limit: claim.limit, resetMs: live ? w.ts[w.head]! + w.windowMs - t : 0 };
    });
  }

  return {
    async admit(req: AdmitRequest): Promise<AdmitResult> {
      checkClaims(req);
      const t = now();
      if (t - lastSweep > SWEEP_EVERY_MS) sweep(t);
      // Every window is checked: the refusal names the one that frees up last, so `Retry-After` is the
      // wait after which every full window has room (the first full one may free up much sooner).
      let denied: Extract<AdmitResult, { reason: 'window' }> | undefined;
      for (let i = 0; i < req.windows.length; i++) {
        const claim = req.windows[i]!;
        const w = window(claim.key, t);
        const used = w?.sum ?? 0;
        if (used + claim.amount > claim.limit) {
          const retryAfterMs = claim.amount > claim.limit || !w ? claim.windowMs : retryAfter(w, used + claim.amount - claim.limit, t);
          if (!denied || retryAfterMs > denied.retryAfterMs) denied = { ok: false, reason: 'window', index: i, used, limit: claim.limit, retryAfterMs };
        }
      }
      if (denied) {
        denied.windows = windowStates(req, t);
        return denied;
      }
      // Every counter is checked too: the refusal names the one that frees up last (see `laterRefusal`).
      let refused: { denial: Extract<AdmitResult, { reason: 'counter' }>; claim: CounterClaim } | undefined;
      for (let i = 0; i < req.counters.length; i++) {
        const claim = req.counters[i]!;
        const c = counter(claim.key, t);
        const spent = c?.spent ?? 0;
        const reserved = c?.reserved ?? 0;
        if (spent + reserved + claim.amount > claim.limit && (!refused || laterRefusal(claim, spent, refused.claim, refused.denial.spent))) {
          refused = { denial: { ok: false, reason: 'counter', index: i, spent, reserved, limit: claim.limit }, claim };
        }
      }
      if (refused) {
        // The windows passed their check above; their state (nothing consumed) goes with the refusal.
        if (req.windows.length > 0) refused.denial.windows = windowStates(req, t);
        return refused.denial;
      }
      const statuses: WindowStatus[] = [];
      for (const claim of req.windows) {
        let w = windows.get(claim.key);
        if (!w) windows.set(claim.key, (w = { ts: [], amounts: [], ids: [], head: 0, sum: 0, windowMs: claim.windowMs }));
        w.ts.push(t);
        w.amounts.push(claim.amount);
        w.ids.push(req.id);
        w.sum += claim.amount;
        statuses.push({ used: w.sum, limit: claim.limit, resetMs: w.ts[w.head]! + w.windowMs - t });
      }
      const expiresAt = t + req.ttlMs;
      for (const claim of req.counters) {
        let c = counters.get(claim.key);
        if (!c) counters.set(claim.key, (c = { spent: 0, reserved: 0, reservations: new Map(), nextExpiry: Infinity, expireAt: claim.expireAt }));
        c.expireAt = Math.max(c.expireAt, claim.expireAt);
        c.reservations.set(req.id, { amount: claim.amount, expiresAt });
        c.reserved += claim.amount;
        if (expiresAt < c.nextExpiry) c.nextExpiry = expiresAt;
      }
      return { ok: true, windows: statuses };
    },

    async settle(req: AdmitRequest, amounts: SettleAmounts, options?: SettleOptions): Promise<void> {
      const t = now();
      const retry = options?.retry === true;
      req.counters.forEach((claim, i) => {
        // A usage that cannot be counted is charged what was reserved for it, as a lost usage is.
        const given = amounts.counters[i] ?? 0;
        const actual = isAmount(given) ? given : claim.amount;
        let c = counter(claim.key, t);
        // A retry applies only over a reservation still held: without one it may have been applied.
        if (retry && !c?.reservations.has(req.id)) return;
        if (!c && actual === 0) return;
        if (!c) counters.set(claim.key, (c = { spent: 0, reserved: 0, reservations: new Map(), nextExpiry: Infinity, expireAt: claim.expireAt }));
        const r = c.reservations.get(req.id);
        if (r) {
          c.reserved -= r.amount;
          c.reservations.delete(req.id);
        }
        c.spent += actual;
      });
      for (let i = 0; i < req.windows.length; i++) {
        const w = window(req.windows[i]!.key, t);
        if (!w) continue;
        // From the newest: a request settles soon after its admission, a few entries from the end.
        let j = w.ids.length - 1;
        while (j >= w.head && w.ids[j] !== req.id) j--;
        if (j < w.head) continue;
        // Settled once: the id goes, and with it the only reason to keep the request's id for a whole window.
        w.ids[j] = undefined;
        const amount = amounts.windows?.[i];
        // Kept as admitted when it cannot be counted.
        if (amount === undefined || !isAmount(amount)) continue;
        w.sum += amount - w.amounts[j]!;
        w.amounts[j] = amount;
      }
    },

    async release(req: AdmitRequest): Promise<void> {
      const t = now();
      for (const claim of req.counters) {
        const c = counter(claim.key, t);
        const r = c?.reservations.get(req.id);
        if (!c || !r) continue;
        c.reserved -= r.amount;
        c.reservations.delete(req.id);
      }
    },

    async readUsage(prefix = ''): Promise<LimitUsage> {
      const t = now();
      const usage: LimitUsage = { counters: [], windows: [] };
      for (const key of [...counters.keys()]) {
        if (!key.startsWith(prefix)) continue;
        const c = counter(key, t);
        if (c) usage.counters.push({ key, spent: c.spent, reserved: c.reserved });
      }
      for (const key of windows.keys()) {
        if (!key.startsWith(prefix)) continue;
        const w = window(key, t)!;
        if (w.head < w.ts.length) usage.windows.push({ key, used: w.sum });
      }
      return usage;
    },
  };
}
