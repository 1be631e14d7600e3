/**
 * An async generator made on its first read, whose `return()` still reaches `abandon` when it never
 * was read. `return()` on a generator that never started skips its body, `finally` included, and a
 * writer whose client left before the first write does exactly that (Koa answers only once every
 * middleware returned; Express may find the response already closed): without this, the request's
 * after-stages — its log record, its budget settlement, the in-flight count `close()` waits on —
 * would never run. A plain iterator object, not one more generator layer (see `HeldBatches`).
 */
class StartedOnRead<T> implements AsyncGenerator<T, void, undefined> {
  private generator: AsyncGenerator<T, void, undefined> | undefined;
  private closed = false;

  constructor(
    private readonly start: () => AsyncGenerator<T, void, undefined>,
    private readonly abandon: () => PromiseLike<unknown>,
  ) {}

  next(): Promise<IteratorResult<T, void>> {
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return (this.generator ??= this.start()).next();
  }

  return(value?: void | PromiseLike<void>): Promise<IteratorResult<T, void>> {
    if (this.generator) return this.generator.return(value as void);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    this.closed = true;
    return Promise.resolve(this.abandon()).then(() => ({ value: undefined, done: true }));
  }

  async throw(error: unknown): Promise<IteratorResult<T, void>> {
    if (this.generator) return this.generator.throw(error);
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export function startedOnRead<T>(start: () => AsyncGenerator<T, void, undefined>, abandon: () => PromiseLike<unknown>): AsyncGenerator<T, void, undefined> {
  return new StartedOnRead(start, abandon);
}
