/**
 * Deadlines: the routing runs' and the stores' bounded waits. Every request sets a few and clears
 * them long before they fire; a Node timer each costs a Timeout object, async-hook bookkeeping and
 * two calls into libuv for the time. Deadlines of one duration expire in the order they were set, so
 * a list in insertion order is in expiry order: they share one Node timer per duration, and clearing a
 * deadline unlinks it in O(1). When its list empties the timer is unref'd rather than cleared (a
 * pending ref'd timer keeps the process alive; unref and ref are far cheaper than a new timer for
 * the next request, as one request at a time empties the list every time): it can only be due
 * before the next deadline added, and then finds nothing due and waits again, or nothing at all.
 */
export class Deadline {
  prev: Deadline | undefined = undefined;
  next: Deadline | undefined = undefined;
  constructor(
    readonly at: number,
    readonly fire: () => void,
    readonly list: DeadlineList,
  ) {}
}

class DeadlineList {
  head: Deadline | undefined = undefined;
  tail: Deadline | undefined = undefined;
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;

  constructor(private readonly ms: number) {}

  add(fire: () => void): Deadline {
    const d = new Deadline(Date.now() + this.ms, fire, this);
    const tail = this.tail;
    if (tail) {
      tail.next = d;
      d.prev = tail;
    } else {
      this.head = d;
      if (this.timer) (this.timer as Refable).ref();
      else this.timer = setTimeout(this.expire, Math.min(this.ms, MAX_DELAY));
    }
    this.tail = d;
    return d;
  }

  remove(d: Deadline): void {
    if (d.prev) d.prev.next = d.next;
    else if (this.head === d) this.head = d.next;
    else return; // Already expired or removed.
    if (d.next) d.next.prev = d.prev;
    else this.tail = d.prev;
    d.prev = d.next = undefined;
    if (!this.head && this.timer) {
      if (lists.size <= KEPT_IDLE && typeof (this.timer as Partial<Refable>).unref === 'function') (this.timer as Refable).unref();
      else {
        // Runtimes whose timers are plain ids (no ref/unref) clear theirs; so do many durations at
        // once (request configs may each pick one), which would otherwise linger until due.
        clearTimeout(this.timer);
        this.timer = undefined;
        this.retire();
      }
    }
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    const now = Date.now();
    let d = this.head;
    while (d && d.at <= now) {
      this.remove(d);
      try {
        d.fire();
      } catch {
        // A run's abort never throws (AbortLink swallows its listeners' errors); the rest must fire anyway.
      }
      d = this.head;
    }
    // Not yet due: added after the timer was set, or Date.now() and libuv's clock disagree by a ms.
    if (d && !this.timer) this.timer = setTimeout(this.expire, Math.min(Math.max(1, d.at - now), MAX_DELAY));
    else if (!d && !this.timer) this.retire();
  };

  /**
   * An idle list leaves the table: durations can come from request configs, and a table that kept
   * every duration ever seen would grow with each new one.
   */
  private retire(): void {
    if (lists.get(this.ms) === this) lists.delete(this.ms);
  }
}

type Refable = { ref(): void; unref(): void };

/** Node fires a timer set beyond 2^31 - 1 ms after 1 ms; a longer deadline waits in steps of this. */
const MAX_DELAY = 2 ** 31 - 1;

/** Up to this many durations keep an idle list's timer (unref'd) for the next request; a gateway has one or a few. */
const KEPT_IDLE = 8;

const lists = new Map<number, DeadlineList>();

/** Calls `fire` in `ms` milliseconds unless cleared first. */
export function setDeadline(ms: number, fire: () => void): Deadline {
  let list = lists.get(ms);
  if (!list) lists.set(ms, (list = new DeadlineList(ms)));
  return list.add(fire);
}

/** How many durations have a list (for tests: idle ones are dropped). */
export function deadlineListCount(): number {
  return lists.size;
}

export function clearDeadline(d: Deadline): void {
  d.list.remove(d);
}
