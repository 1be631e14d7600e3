import { within } from '../timing/within.js';

/**
 * The work `close()` lets finish first: every request (until its response is handed over), every
 * request record (until written; for a stream, after its last chunk) and every settlement still
 * being retried. Counted rather than kept: each
 * request enters twice, and a Set entry and a `finally` per entry were a promise and three closures
 * more per request than a counter needs.
 */
export class InFlight {
  private count = 0;
  private waiting: Array<() => void> = [];
  /** Work waiting to try again (a failed settlement's backoff), woken by `settled` and `shut`. */
  private readonly sleepers = new Set<(goOn: boolean) => void>();
  private shutDown = false;

  enter(): void {
    this.count++;
  }

  /** One piece of work is done. Bound once, so it can be passed as a callback (`then(leave, leave)`). */
  readonly leave = (): void => {
    if (--this.count > 0) return;
    this.count = 0;
    const waiting = this.waiting;
    this.waiting = [];
    for (const wake of waiting) wake();
  };

  get size(): number {
    return this.count;
  }

  /**
   * Waits `ms` before in-flight work tries again: false once `shut` (give up, the store is closed).
   * Cut short when `close()` starts waiting, so a retry runs within its deadline rather than after its
   * backoff. The timer does not keep the process alive: only `close()` promises to wait for work.
   */
  pause(ms: number): Promise<boolean> {
    if (this.shutDown) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = (goOn: boolean) => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve(goOn);
      };
      const timer = setTimeout(wake, ms, true);
      timer.unref?.();
      this.sleepers.add(wake);
    });
  }

  /** After `close()`: work waiting to try again gives up, and none waits again. */
  shut(): void {
    this.shutDown = true;
    for (const wake of [...this.sleepers]) wake(false);
  }

  /** Waits until nothing is in flight, up to `ms`; true when that happened in time. Wakes work that waits to try again. */
  settled(ms: number): Promise<boolean> {
    for (const wake of [...this.sleepers]) wake(true);
    if (this.count === 0) return Promise.resolve(true);
    const drained = new Promise<boolean>((resolve) => this.waiting.push(() => resolve(true)));
    return within(drained, ms, () => false);
  }
}
