import { describe, expect, it } from 'vitest';
import { clearDeadline, deadlineListCount, setDeadline } from '../../src/timing/deadlines.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('deadline timers', () => {
  it('fires each deadline once, in order, after its time and not before', async () => {
    const fired: string[] = [];
    const t0 = Date.now();
    setDeadline(40, () => fired.push(`a@${Date.now() - t0}`));
    await sleep(15);
    setDeadline(40, () => fired.push(`b@${Date.now() - t0}`));
    setDeadline(20, () => fired.push(`c@${Date.now() - t0}`));
    await sleep(100);
    expect(fired.map((f) => f[0])).toEqual(['c', 'a', 'b']);
    const at = Object.fromEntries(fired.map((f) => [f[0], Number(f.slice(2))]));
    expect(at.a).toBeGreaterThanOrEqual(39);
    expect(at.b).toBeGreaterThanOrEqual(54);
    expect(at.c).toBeGreaterThanOrEqual(34);
  });

  it('never fires a cleared deadline, whether it was first, in the middle or last', async () => {
    const fired: number[] = [];
    const ds = [0, 1, 2, 3, 4].map((i) => setDeadline(30, () => fired.push(i)));
    clearDeadline(ds[0]!);
    clearDeadline(ds[2]!);
    clearDeadline(ds[4]!);
    clearDeadline(ds[2]!); // twice is harmless
    await sleep(60);
    expect(fired).toEqual([1, 3]);
    clearDeadline(ds[1]!); // after it fired, too
  });

  it('holds no Node timer once every deadline was cleared, so an idle process can exit', async () => {
    await sleep(5);
    const before = timers();
    const ds = Array.from({ length: 100 }, () => setDeadline(600_000, () => {}));
    expect(timers()).toBe(before + 1);
    for (const d of ds) clearDeadline(d);
    expect(timers()).toBe(before);
    // The next deadline holds the process again until it is cleared.
    const next = setDeadline(600_000, () => {});
    expect(timers()).toBe(before + 1);
    clearDeadline(next);
    expect(timers()).toBe(before);
  });

  it('fires a deadline set after its list emptied on time, though the earlier timer was due sooner', async () => {
    const first = setDeadline(30, () => {});
    clearDeadline(first);
    await sleep(20);
    const fired: number[] = [];
    const t0 = Date.now();
    setDeadline(30, () => fired.push(Date.now() - t0));
    await sleep(15);
    expect(fired).toEqual([]);
    await sleep(60);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(29);
  });

  it('keeps firing the rest when one deadline throws, and lets a fired one set another', async () => {
    const fired: string[] = [];
    setDeadline(10, () => {
      throw new Error('boom');
    });
    setDeadline(10, () => {
      fired.push('second');
      setDeadline(10, () => fired.push('third'));
    });
    await sleep(60);
    expect(fired).toEqual(['second', 'third']);
  });

  it('drops a duration once nothing waits on it, so durations from request configs cannot pile up', async () => {
    await sleep(80);
    const before = deadlineListCount();
    for (let ms = 11; ms < 61; ms++) clearDeadline(setDeadline(ms, () => {}));
    // A few idle durations keep their timer for the next request; the rest leave at once.
    expect(deadlineListCount()).toBeLessThanOrEqual(Math.max(before, 8) + 1);
    const fired: number[] = [];
    setDeadline(12, () => fired.push(12));
    await sleep(120);
    expect(fired).toEqual([12]);
    expect(deadlineListCount()).toBe(before);
  });

  it('waits out a deadline longer than a Node timer can hold (2^31 - 1 ms) instead of firing at once', async () => {
    const fired: number[] = [];
    const d = setDeadline(2 ** 31 + 1000, () => fired.push(1));
    await sleep(30);
    expect(fired).toEqual([]);
    clearDeadline(d);
  });
});
