/**
 * Atomic counters for budgets and rate limits. Every amount is an integer in the caller's unit
 * (nano-USD for cost, tokens, requests), so sums stay exact in Redis, SQLite and memory alike.
 *
 * One `admit` call checks every rate-limit window and reserves every budget counter of a request,
 * all or nothing — one round trip before the upstream call, and no read-then-write race between
 * instances. With only counters it is a plain reservation; with only windows a check-and-consume.
 */

/** A budget counter: admitted while spent + live reservations + `amount` ≤ `limit`. */
export interface CounterClaim {
  /** Opaque, stable id of the counter (scope, metric and calendar window). */
  key: string;
  /** Worst case this request may add. */
  amount: number;
  limit: number;
  /** ms epoch when the counter's calendar window ends; the store may forget it afterwards. */
  expireAt: number;
}

/** A sliding-window rate limit: admitted while the amounts inside the last `windowMs` + `amount` ≤ `limit`. */
export interface WindowClaim {
  key: string;
  /** 1 for a request, the estimated tokens for a token limit. */
  amount: number;
  limit: number;
  windowMs: number;
}

export interface AdmitRequest {
  /** Unique per request; names the reservation and the window entries. */
  id: string;
  /** ms a reservation lives unless settled or released, so a crashed instance never leaves a phantom charge. */
  ttlMs: number;
  counters: CounterClaim[];
  windows: WindowClaim[];
}

/** A window's state after an admitted request. */
export interface WindowStatus {
  /** Amount inside the window, this request included. */
  used: number;
  limit: number;
  /** ms until the oldest counted entry leaves the window (when room grows again). */
  resetMs: number;
}

export type AdmitResult =
  | {
      ok: true;
      /** In the order of `windows`. */
      windows: WindowStatus[];
      /** The store could not be reached and its fail-open policy let the request through uncounted. */
      unchecked?: boolean;
    }
  /**
   * A full window. Every window is checked: this is the one that frees up last (the longest
   * `retryAfterMs`), so a retry after that wait finds room in all of them.
   */
  | {
      ok: false;
      reason: 'window';
      index: number;
      used: number;
      limit: number;
      retryAfterMs: number;
      /**
       * Every window's state, in the order of `windows` (nothing consumed), so the 429 carries the
       * scope's other `x-ratelimit-*` headers too. Optional: a store written before it may leave it out.
       */
      windows?: WindowStatus[];
    }
  /** A full budget counter: of several, the one `laterRefusal` picks. */
  | {
      ok: false;
      reason: 'counter';
      index: number;
      spent: number;
      reserved: number;
      limit: number;
      /**
       * The windows' state when the request has any (they are checked, and passed, before the
       * counters), in the order of `windows`; nothing is consumed, so `used` leaves this request out
       * and `resetMs` is 0 for an empty window.
       */
      windows?: WindowStatus[];
    };

/**
 * Which of two full budget counters a refusal names (`a` over `b`?): one full of money already spent
 * (room comes only when its window ends) before one full only of reservations in flight (room comes
 * as they settle), and of two alike the one whose window ends last. So the 402's `Retry-After` is a
 * wait after which every budget of the request has room, and it says "retry in a second" only when
 * every full budget is full of requests in flight. Every store applies it (the Redis script too).
 */
export function laterRefusal(a: CounterClaim, aSpent: number, b: CounterClaim, bSpent: number): boolean {
  const aSpentFull = aSpent + a.amount > a.limit;
  const bSpentFull = bSpent + b.amount > b.limit;
  if (aSpentFull !== bSpentFull) return aSpentFull;
  return a.expireAt > b.expireAt;
}

/** Final amounts, in the order of the admitted request's claims. */
export interface SettleAmounts {
  /** Real amount per counter; replaces its reservation. */
  counters: number[];
  /** New amount per window entry; `undefined` keeps the admitted amount (requests). */
  windows?: Array<number | undefined>;
}

export interface SettleOptions {
  /**
   * This settlement may repeat one that already ran: a store that timed out does not recall the
   * command, so a failed settle may have been applied. Counters then take the real amount only where
   * the request's reservation is still held (applying removes it), so nothing is counted twice;
   * window entries are set, not added to, and are safe to repeat either way.
   */
  retry?: boolean;
}

export interface CounterUsage {
  key: string;
  spent: number;
  /** Sum of live (unexpired) reservations. */
  reserved: number;
}

export interface WindowUsage {
  key: string;
  used: number;
}

export interface LimitUsage {
  counters: CounterUsage[];
  windows: WindowUsage[];
}

export interface LimitStore {
  /** Checks every window and counter; on success consumes the windows and reserves the counters, atomically. */
  admit(request: AdmitRequest): Promise<AdmitResult>;
  /**
   * Replaces the reservation by real amounts (spent += actual) and adjusts window entries. Works after
   * the reservation expired too: the real spend is always recorded. With `retry`, only where the
   * reservation is still held (see `SettleOptions`).
   */
  settle(request: AdmitRequest, amounts: SettleAmounts, options?: SettleOptions): Promise<void>;
  /** Drops the reservation without spending; window entries stay (the request was made). */
  release(request: AdmitRequest): Promise<void>;
  /** Every live counter and window, for the usage view. Keys starting with `prefix` only, when given. */
  readUsage(prefix?: string): Promise<LimitUsage>;
}
