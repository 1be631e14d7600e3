/** One place records go. `write` may return a promise (an async `onLog`); it must not be relied on to finish. */
export interface LogSink<T> {
  readonly name: string;
  write(item: T): void | PromiseLike<unknown>;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | undefined)?.then === 'function';

/**
 * Hands each record to every sink, isolated from one another: a sink that throws or rejects loses
 * that record, a sink with too many writes still pending (slow, or dead without saying so) loses new
 * ones until it catches up — each loss counted under the sink's name, never passed on to the others.
 */
export class SinkSet<T> {
  private readonly pending = new Map<string, number>();

  constructor(
    private readonly sinks: readonly LogSink<T>[],
    private readonly maxPending: number,
    private readonly onDrop: (sink: string) => void,
  ) {}

  deliver(item: T): void {
    for (const sink of this.sinks) {
      const waiting = this.pending.get(sink.name) ?? 0;
      if (waiting >= this.maxPending) {
        this.onDrop(sink.name);
        continue;
      }
      try {
        const result = sink.write(item);
        if (isThenable(result)) {
          this.pending.set(sink.name, waiting + 1);
          const settle = () => this.pending.set(sink.name, (this.pending.get(sink.name) ?? 1) - 1);
          result.then(settle, () => {
            settle();
            this.onDrop(sink.name);
          });
        }
      } catch {
        this.onDrop(sink.name);
      }
    }
  }
}
