import { describe, expect, it } from 'vitest';
import { InFlight } from '../../src/pipeline/in-flight.js';

describe('InFlight', () => {
  it('is settled at once when nothing is in flight', async () => {
    expect(await new InFlight().settled(10_000)).toBe(true);
  });

  it('settles when the last piece of work leaves, not before', async () => {
    const work = new InFlight();
    work.enter();
    work.enter();
    let settled: boolean | undefined;
    const waiting = work.settled(10_000).then((v) => (settled = v));
    work.leave();
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBeUndefined();
    expect(work.size).toBe(1);
    // `leave` is bound: handed over as a callback it still counts down this instance.
    await Promise.resolve().then(work.leave);
    await waiting;
    expect(settled).toBe(true);
    expect(work.size).toBe(0);
  });

  it('gives up after the deadline, and a later settle still wakes only its own waiters', async () => {
    const work = new InFlight();
    work.enter();
    expect(await work.settled(20)).toBe(false);
    const again = work.settled(10_000);
    work.leave();
    expect(await again).toBe(true);
  });

  it('never counts below zero', async () => {
    const work = new InFlight();
    work.leave();
    work.enter();
    let settled = false;
    void work.settled(10_000).then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    work.leave();
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(true);
  });

  it('pause waits its time, is cut short by settled (close() is waiting) and gives up once shut', async () => {
    const work = new InFlight();
    const started = Date.now();
    expect(await work.pause(20)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    const woken = work.pause(10_000);
    void work.settled(10);
    expect(await woken).toBe(true);
    const sleeping = work.pause(10_000);
    work.shut();
    expect(await sleeping).toBe(false);
    expect(await work.pause(10_000)).toBe(false);
  });
});
