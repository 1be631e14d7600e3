import { describe, expect, it } from 'vitest';
import { calendarWindow, isTimeZone } from '../../src/limits/calendar.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('calendar windows', () => {
  it('follow the UTC calendar by default', () => {
    const now = at('2026-03-31T23:59:59.999Z');
    expect(calendarWindow('hour', now)).toEqual({ id: '2026-03-31T23', start: at('2026-03-31T23:00:00Z'), end: at('2026-04-01T00:00:00Z') });
    expect(calendarWindow('day', now)).toEqual({ id: '2026-03-31', start: at('2026-03-31T00:00:00Z'), end: at('2026-04-01T00:00:00Z') });
    expect(calendarWindow('month', now)).toEqual({ id: '2026-03', start: at('2026-03-01T00:00:00Z'), end: at('2026-04-01T00:00:00Z') });
    expect(calendarWindow('month', at('2026-12-15T00:00:00Z')).end).toBe(at('2027-01-01T00:00:00Z'));
  });

  it('roll over exactly at the boundary', () => {
    expect(calendarWindow('day', at('2026-04-01T00:00:00Z')).id).toBe('2026-04-01');
  });

  it('follow local midnight in a timezone, across a DST change', () => {
    // Paris switches to summer time on 2026-03-29 (the day has 23 hours).
    const w = calendarWindow('day', at('2026-03-29T12:00:00Z'), 'Europe/Paris');
    expect(w.id).toBe('2026-03-29');
    expect(iso(w.start)).toBe('2026-03-28T23:00:00.000Z');
    expect(iso(w.end)).toBe('2026-03-29T22:00:00.000Z');
    // 23:30 UTC on the 29th is already the 30th in Paris.
    expect(calendarWindow('day', at('2026-03-29T23:30:00Z'), 'Europe/Paris').id).toBe('2026-03-30');
  });

  it('follow half-hour offsets for hours and months', () => {
    const hour = calendarWindow('hour', at('2026-06-10T10:10:00Z'), 'Asia/Kolkata');
    expect(hour.id).toBe('2026-06-10T15');
    expect(iso(hour.start)).toBe('2026-06-10T09:30:00.000Z');
    const month = calendarWindow('month', at('2026-06-30T20:00:00Z'), 'Asia/Kolkata');
    expect(month.id).toBe('2026-07');
    expect(iso(month.start)).toBe('2026-06-30T18:30:00.000Z');
  });

  it('end an hour that runs into a spring-forward gap when the clock jumps (New York, hourly)', () => {
    // 2026-03-08: New York's clocks jump from 02:00 EST (07:00Z) to 03:00 EDT; local 02:00 never exists.
    const before = calendarWindow('hour', at('2026-03-08T06:30:00Z'), 'America/New_York');
    expect(before.id).toBe('2026-03-08T01');
    expect(iso(before.start)).toBe('2026-03-08T06:00:00.000Z');
    expect(iso(before.end)).toBe('2026-03-08T07:00:00.000Z');
    const after = calendarWindow('hour', at('2026-03-08T07:00:00Z'), 'America/New_York');
    expect(after.id).toBe('2026-03-08T03');
    expect(iso(after.start)).toBe('2026-03-08T07:00:00.000Z');
    expect(iso(after.end)).toBe('2026-03-08T08:00:00.000Z');
  });

  it('end a day whose midnight falls in a gap when the clock jumps, and start the next one there (Santiago, daily)', () => {
    // 2026-09-06: Santiago's clocks jump from 00:00 (-04, 04:00Z) to 01:00 (-03); that day has no midnight.
    const before = calendarWindow('day', at('2026-09-06T03:30:00Z'), 'America/Santiago');
    expect(before.id).toBe('2026-09-05');
    expect(iso(before.start)).toBe('2026-09-05T04:00:00.000Z');
    expect(iso(before.end)).toBe('2026-09-06T04:00:00.000Z');
    const after = calendarWindow('day', at('2026-09-06T04:00:00Z'), 'America/Santiago');
    expect(after.id).toBe('2026-09-06');
    expect(iso(after.start)).toBe('2026-09-06T04:00:00.000Z');
    expect(iso(after.end)).toBe('2026-09-07T03:00:00.000Z');
  });

  it('keep a fall-back day 25 hours long and its repeated hour one window of two hours (New York, Paris)', () => {
    // 2026-11-01: New York's clocks go back from 02:00 EDT (06:00Z) to 01:00 EST; 01:00-02:00 happens twice.
    const day = calendarWindow('day', at('2026-11-01T12:00:00Z'), 'America/New_York');
    expect(day.id).toBe('2026-11-01');
    expect(iso(day.start)).toBe('2026-11-01T04:00:00.000Z');
    expect(iso(day.end)).toBe('2026-11-02T05:00:00.000Z');
    for (const now of ['2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z']) {
      const hour = calendarWindow('hour', at(now), 'America/New_York');
      expect(hour.id).toBe('2026-11-01T01');
      expect(iso(hour.start)).toBe('2026-11-01T05:00:00.000Z');
      expect(iso(hour.end)).toBe('2026-11-01T07:00:00.000Z');
    }
    // East of UTC: Paris repeats 02:00-03:00 on 2026-10-25 (00:00Z-02:00Z); its first pass starts the window.
    const paris = calendarWindow('hour', at('2026-10-25T00:30:00Z'), 'Europe/Paris');
    expect(paris.id).toBe('2026-10-25T02');
    expect(iso(paris.start)).toBe('2026-10-25T00:00:00.000Z');
    expect(iso(paris.end)).toBe('2026-10-25T02:00:00.000Z');
    expect(iso(calendarWindow('hour', at('2026-10-24T23:30:00Z'), 'Europe/Paris').end)).toBe('2026-10-25T00:00:00.000Z');
  });

  it('always hold now, never empty, each starting where the previous ended, through every 2026 clock change', () => {
    // West and east of UTC, changes at midnight (Santiago, Havana) and of half an hour (Lord Howe).
    const zones = ['America/New_York', 'America/Santiago', 'America/Havana', 'Europe/Paris', 'Australia/Lord_Howe', 'Pacific/Auckland'];
    const step = 15 * 60_000;
    for (const timeZone of zones) {
      for (const period of ['hour', 'day', 'month'] as const) {
        let previous: ReturnType<typeof calendarWindow> | undefined;
        for (let now = at('2026-01-01T00:00:00Z'); now < at('2027-01-01T00:00:00Z'); now += period === 'hour' ? step : 4 * step) {
          const w = calendarWindow(period, now, timeZone);
          const where = () => `${timeZone} ${period} at ${iso(now)}: ${w.id} [${iso(w.start)}, ${iso(w.end)})`;
          if (!(w.start <= now && now < w.end)) expect.fail(`now outside its window, ${where()}`);
          if (previous && previous.id !== w.id && previous.end !== w.start) expect.fail(`gap or overlap after ${previous.id}, ${where()}`);
          previous = w;
        }
      }
    }
  });

  it('know which zone names exist', () => {
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});
