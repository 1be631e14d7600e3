import { clearDeadline, setDeadline } from './deadlines.js';

/**
 * `work`'s result, or `onTimeout()`'s when `work` has not settled within `ms` (a throwing
 * `onTimeout` rejects). `work` itself is not stopped; its late result is dropped. For stores that
 * bound every operation: one entry on a shared timer list (see `deadlines.ts`) instead of a timer, a
 * second promise and a `Promise.race` per operation, which a store pays several times a request.
 */
export function within<T, U = never>(work: Promise<T>, ms: number, onTimeout: () => U): Promise<T | U> {
  return new Promise<T | U>((resolve, reject) => {
    const deadline = setDeadline(ms, () => {
      try {
        resolve(onTimeout());
      } catch (e) {
        reject(e);
      }
    });
    work.then(
      (value) => {
        clearDeadline(deadline);
        resolve(value);
      },
      (e: unknown) => {
        clearDeadline(deadline);
        reject(e);
      },
    );
  });
}
