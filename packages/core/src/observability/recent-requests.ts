import type { RequestLogRecord } from './log-record.js';

/** The last `capacity` request records of this process, oldest overwritten first. */
export class RecentRequests {
  private readonly ring: Array<RequestLogRecord | undefined>;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array(capacity);
  }

  push(record: RequestLogRecord): void {
    if (this.capacity === 0) return;
    this.ring[this.next] = record;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Newest first, at most `limit`. */
  list(limit = this.capacity): RequestLogRecord[] {
    const out: RequestLogRecord[] = [];
    for (let i = 1; i <= Math.min(limit, this.count); i++) out.push(this.ring[(this.next - i + this.capacity) % this.capacity]!);
    return out;
  }
}
