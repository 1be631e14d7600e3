/** Records delivered per event-loop turn, so a burst never holds the loop for long. */
const BATCH = 256;

/** `setImmediate` where the runtime has it (Node, Bun), else a zero timeout. */
const defer: (run: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (run) => void globalThis.setImmediate(run) : (run) => void setTimeout(run, 0);

/**
 * A bounded queue between the response path and the log sinks: `push` only appends (never waits,
 * never throws) and delivery happens on a later turn of the event loop. When the sinks fall behind
 * and the queue is full, new records are dropped and counted rather than held in memory.
 */
export class LogQueue<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly capacity: number,
    private readonly deliver: (item: T) => void,
    private readonly onOverflow: () => void,
  ) {}

  get size(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.items.length >= this.capacity) return this.onOverflow();
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      defer(() => this.flush());
    }
  }

  /** Delivers everything queued right now; readers that must be current (`/metrics`, `recentRequests()`) call it first. */
  drain(): void {
    while (this.items.length) this.deliverBatch(this.items.length);
  }

  private flush(): void {
    this.scheduled = false;
    this.deliverBatch(BATCH);
    if (this.items.length && !this.scheduled) {
      this.scheduled = true;
      defer(() => this.flush());
    }
  }

  private deliverBatch(n: number): void {
    const batch = this.items.splice(0, n);
    for (const item of batch) this.deliver(item);
  }
}
