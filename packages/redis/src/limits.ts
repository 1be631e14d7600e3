import { withTimeout } from './timeout.js';
import { GatewayError, type AdmitRequest, type AdmitResult, type LimitStore, type LimitUsage, type SettleAmounts, type SettleOptions, type WindowStatus } from '@llmux/core';
import { ErrorReply, type RedisClientType } from 'redis';
import { ADMIT, READ_COUNTERS, READ_WINDOWS, SETTLE } from './limits-scripts.js';
import { luaScript } from './run-script.js';

/** What budgets and rate limits do when Redis cannot be reached. */
export type FailMode = 'closed' | 'open';

/** Keys read per script call by the usage view, so one call never blocks Redis for long. */
const READ_BATCH = 200;

/**
 * What a counter or window can hold: `String(NaN)` and `String(Infinity)` are no numbers to the
 * scripts, and a NaN in a counter would fail every `spent + amount > limit` test after it.
 */
const isAmount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** Redis answered with an error (a bug, a full memory) — unlike a lost connection, never a reason to fail open. */
const isReply = (e: unknown) => e instanceof ErrorReply;

/**
 * Budgets and rate limits on Redis: one EVALSHA checks every window and reserves every counter of a
 * request. All keys share the `{limits}` hash tag, so multi-key scripts also run on Redis Cluster.
 */
export function redisLimits(client: RedisClientType, prefix: string, ready: Promise<void>, failMode: FailMode, timeoutMs: number): LimitStore {
  const base = `${prefix}{limits}:`;
  const admitScript = luaScript(client, ADMIT);
  const settleScript = luaScript(client, SETTLE);
  const readCounters = luaScript(client, READ_COUNTERS);
  const readWindows = luaScript(client, READ_WINDOWS);

  /** A counter's Redis keys (its hash, its reservations' expiry set) and a window's (its log, its amounts). */
  const pushCounterKeys = (keys: string[], key: string) => keys.push(`${base}c:${key}`, `${base}x:${key}`);
  const pushWindowKeys = (keys: string[], key: string) => keys.push(`${base}w:${key}`, `${base}a:${key}`);

  /** The script's keys, by pushes: spreading two `flatMap`s measured ~1 µs a call, twice per request. */
  const keysOf = (req: AdmitRequest) => {
    const keys: string[] = [];
    for (const c of req.counters) pushCounterKeys(keys, c.key);
    for (const w of req.windows) pushWindowKeys(keys, w.key);
    return keys;
  };

  async function scan(kind: string, prefixFilter: string): Promise<string[]> {
    const found: string[] = [];
    const match = `${globEscape(`${base}${kind}:${prefixFilter}`)}*`;
    for await (const batch of client.scanIterator({ MATCH: match, COUNT: 1000 })) found.push(...(batch as unknown as string[]));
    return [...new Set(found)].map((k) => k.slice(base.length + kind.length + 1));
  }

  async function settle(req: AdmitRequest, amounts: SettleAmounts, options?: SettleOptions): Promise<void> {
    const args = [req.id, String(req.counters.length), String(req.windows.length), options?.retry ? '1' : '0'];
    req.counters.forEach((c, i) => {
      // A usage that cannot be counted is charged what was reserved for it, as a lost usage is.
      const given = amounts.counters[i] ?? 0;
      args.push(String(Math.round(isAmount(given) ? given : c.amount)), String(Math.ceil(c.expireAt)));
    });
    req.windows.forEach((_w, i) => {
      const amount = amounts.windows?.[i];
      // '' keeps the admitted amount, also for one that cannot be counted.
      args.push(amount === undefined || !isAmount(amount) ? '' : String(Math.round(amount)));
    });
    await ready;
    await withTimeout(settleScript(keysOf(req), args), timeoutMs, 'settle');
  }

  /**
   * Giving up on an admission's reply does not recall the script: Redis may have run it (or run it
   * later) and reserved, and nothing would settle that reservation, which then held the budget and the
   * windows for `reservationTtl` with nothing in flight. It is released: at once, behind the late
   * admission on the same connection; and, when the connection itself was lost, again with backoff
   * until a release gets through or the reservation would have expired anyway. A release of what was
   * never reserved changes nothing. The timers never keep the process alive.
   */
  function releaseUnanswered(req: AdmitRequest, delayMs = 0, waitedMs = 0): void {
    const release = () =>
      settle(req, { counters: req.counters.map(() => 0), windows: req.windows.map(() => 0) }).catch(() => {
        const next = Math.min(Math.max(delayMs * 2, 250), 30_000);
        if (client.isOpen && waitedMs + next < req.ttlMs) releaseUnanswered(req, next, waitedMs + next);
      });
    if (delayMs === 0) void release();
    else setTimeout(release, delayMs).unref?.();
  }

  return {
    async admit(req): Promise<AdmitResult> {
      // Refused before the script runs (buildClaims refuses such requests first): nothing is reserved.
      for (const claims of [req.counters, req.windows]) {
        for (const claim of claims) {
          if (!isAmount(claim.amount)) throw new GatewayError('internal_error', `limit store: amount ${String(claim.amount)} for ${claim.key} is no finite non-negative number`);
        }
      }
      const args = [req.id, String(Math.ceil(req.ttlMs)), String(req.counters.length), String(req.windows.length)];
      for (const c of req.counters) args.push(String(Math.ceil(c.amount)), String(Math.floor(c.limit)), String(Math.ceil(c.expireAt)));
      for (const w of req.windows) args.push(String(Math.ceil(w.amount)), String(Math.floor(w.limit)), String(Math.ceil(w.windowMs)));
      let reply: Array<string | number>;
      try {
        await ready;
        reply = (await withTimeout(admitScript(keysOf(req), args), timeoutMs, 'admit')) as Array<string | number>;
      } catch (e) {
        if (!isReply(e)) releaseUnanswered(req);
        if (failMode === 'open' && !isReply(e)) return { ok: true, windows: [], unchecked: true };
        throw e;
      }
      if (Number(reply[0]) === 1) {
        const windows: WindowStatus[] = req.windows.map((w, i) => ({
          used: Number(reply[1 + 2 * i]),
          limit: w.limit,
          resetMs: Number(reply[2 + 2 * i]),
        }));
        return { ok: true, windows };
      }
      const [, reason, index, a, b, c] = reply;
      const denial: AdmitResult =
        reason === 'window'
          ? { ok: false, reason: 'window', index: Number(index), used: Number(a), limit: Number(b), retryAfterMs: Number(c) }
          : { ok: false, reason: 'counter', index: Number(index), spent: Number(a), reserved: Number(b), limit: Number(c) };
      // Every window's state follows the refusal (nothing consumed), for its x-ratelimit-* headers.
      if (req.windows.length > 0 && reply.length > 6) {
        denial.windows = req.windows.map((w, i) => ({ used: Number(reply[6 + 2 * i]), limit: w.limit, resetMs: Number(reply[7 + 2 * i]) }));
      }
      return denial;
    },

    settle,

    async release(req): Promise<void> {
      await settle(req, { counters: req.counters.map(() => 0) });
    },

    readUsage(prefixFilter = ''): Promise<LimitUsage> {
      return withTimeout(readUsage(prefixFilter), timeoutMs * 10, 'usage read');
    },
  };

  async function readUsage(prefixFilter: string): Promise<LimitUsage> {
    await ready;
    const usage: LimitUsage = { counters: [], windows: [] };
    const counterKeys = await scan('c', prefixFilter);
    for (let i = 0; i < counterKeys.length; i += READ_BATCH) {
      const batch = counterKeys.slice(i, i + READ_BATCH);
      const keys: string[] = [];
      for (const k of batch) pushCounterKeys(keys, k);
      const reply = (await readCounters(keys, [])) as string[];
      batch.forEach((key, j) => usage.counters.push({ key, spent: Number(reply[2 * j]), reserved: Number(reply[2 * j + 1]) }));
    }
    const windowKeys = await scan('a', prefixFilter);
    for (let i = 0; i < windowKeys.length; i += READ_BATCH) {
      const batch = windowKeys.slice(i, i + READ_BATCH);
      const keys: string[] = [];
      for (const k of batch) pushWindowKeys(keys, k);
      const reply = (await readWindows(keys, [])) as string[];
      batch.forEach((key, j) => {
        const used = Number(reply[j]);
        if (used > 0) usage.windows.push({ key, used });
      });
    }
    return usage;
  }
}
