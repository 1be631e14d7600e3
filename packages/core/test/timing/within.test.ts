import { describe, expect, it } from 'vitest';
import { within } from '../../src/timing/within.js';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('within', () => {
  it("gives the work's result or error when it settles in time, and holds no timer after", async () => {
    const before = timers();
    expect(await within(later(5, 'done'), 200, () => 'late')).toBe('done');
    await expect(within(Promise.reject(new Error('store down')), 200, () => 'late')).rejects.toThrow('store down');
    expect(timers()).toBe(before);
  });

  it("gives onTimeout's value, or its error, when the work is too slow, and drops the late result", async () => {
    const slow = later(80, 'slow');
    expect(await within(slow, 20, () => undefined)).toBeUndefined();
    await expect(
      within(later(80, 'slow'), 20, () => {
        throw new Error('redis admit timed out after 20 ms');
      }),
    ).rejects.toThrow('timed out after 20 ms');
    // A late rejection after the timeout is handled, not an unhandled rejection.
    const failing = new Promise((_, reject) => setTimeout(() => reject(new Error('too late')), 40));
    expect(await within(failing, 10, () => 'timed out')).toBe('timed out');
    await later(50, null);
  });
});
