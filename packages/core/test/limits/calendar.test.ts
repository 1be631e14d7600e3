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

  it('know which zone names exist', () => {
    expect(isTimeZone('America/New_York')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});
