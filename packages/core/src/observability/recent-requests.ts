import type { RequestLogRecord } from './log-record.js';

/**
 * A record, or how to make it: with no sink but this ring, redaction waits until someone reads the
 * ring (most never do), so the response path pays nothing for it. `undefined` from the function
 * means the record was filtered out.
 */
export type RecentEntry = RequestLogRecord | (() => RequestLogRecord | undefined);

/** The last `capacity` request records of this process, oldest overwritten first. */
export class RecentRequests {
  private readonly ring: Array<RecentEntry | null | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array(capacity);
  }

  push(entry: RecentEntry): void {
    if (this.capacity === 0) return;
    this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Newest first, at most `limit` (records filtered out on the way are skipped, not counted). */
  list(limit = this.capacity): RequestLogRecord[] {
    const out: RequestLogRecord[] = [];
    for (let i = 1; i <= this.count && out.length < limit; i++) {
      const slot = (this.next - i + this.capacity) % this.capacity;
      let entry = this.ring[slot];
      if (typeof entry === 'function') this.ring[slot] = entry = entry() ?? null;
      if (entry) out.push(entry);
    }
    return out;
  }
}
