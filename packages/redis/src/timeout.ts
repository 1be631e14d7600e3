import { within } from '@llmux/core';

/**
 * Fails `work` after `ms` (the command itself is not recalled: Redis may still run it). node-redis's
 * own per-command timeout builds an `AbortSignal.timeout` per command (~20 µs on Node 20, plus a
 * DOMException when it fires a second later whether or not the command finished) — a third of this
 * store's CPU per request in the bench; `within` puts the operation on a shared timer list.
 */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return within(work, ms, () => {
    throw new Error(`redis ${what} timed out after ${ms} ms`);
  });
}

/** Every async operation of `parts` bounded by `ms`. */
export function bounded<T extends object>(parts: T, ms: number): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parts)) {
    out[name] =
      typeof value === 'function'
        ? (...args: unknown[]) => {
            const result: unknown = (value as (...a: unknown[]) => unknown).apply(parts, args);
            return result instanceof Promise ? withTimeout(result, ms, name) : result;
          }
        : value;
  }
  return out as T;
}
