import { within } from '../timing/within.js';

/**
 * The work `close()` lets finish first: every request (until its response is handed over) and every
 * request record (until written; for a stream, after its last chunk). Counted rather than kept: each
 * request enters twice, and a Set entry and a `finally` per entry were a promise and three closures
 * more per request than a counter needs.
 */
export class InFlight {
  private count = 0;
  private waiting: Array<() => void> = [];

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

  /** Waits until nothing is in flight, up to `ms`; true when that happened in time. */
  settled(ms: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    const drained = new Promise<boolean>((resolve) => this.waiting.push(() => resolve(true)));
    return within(drained, ms, () => false);
  }
}
