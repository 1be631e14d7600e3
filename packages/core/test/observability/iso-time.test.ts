import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/observability/iso-time.js';

describe('isoTime', () => {
  it('writes what toISOString writes, within a second and across seconds, days and years', () => {
    const base = Date.UTC(2026, 10, 27, 23, 59, 58, 990);
    const times = [0, 1, 999, 1000, 951_782_400_000, base];
    for (let i = 0; i < 3000; i++) times.push(base + i);
    // Back in time too: the kept second must not be reused for an earlier one.
    for (let i = 0; i < 200; i++) times.push(base - i * 997, Math.floor(Math.random() * 253_402_300_799_999));
    for (const t of times) expect(isoTime(t)).toBe(new Date(t).toISOString());
  });

  it('falls back to toISOString where years need six digits, and throws as it does for no date', () => {
    for (const t of [-1, -62_198_755_200_000, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), 8.64e15, 1.5]) {
      expect(isoTime(t)).toBe(new Date(t).toISOString());
    }
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });
});
