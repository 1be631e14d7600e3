/** Calendar periods of budgets. Windows follow the wall clock (a day ends at midnight), not a sliding 24 h. */
export type Period = 'hour' | 'day' | 'month';

export interface CalendarWindow {
  /** Local start of the window, e.g. `2026-11-25`, `2026-11-25T14`, `2026-11`. */
  id: string;
  /** ms epoch (UTC) of the first instant in the window. */
  start: number;
  /** ms epoch (UTC) of the first instant after it: when the budget resets. */
  end: number;
}

const pad = (n: number) => String(n).padStart(2, '0');

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True for an IANA zone name this runtime knows (`Europe/Paris`, `UTC`). */
export function isTimeZone(name: string): boolean {
  try {
    formatter(name);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock fields at instant `t` in `timeZone`, as if they were UTC. */
function localAsUtc(t: number, timeZone: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(t)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

const DAY_MS = 86_400_000;

/** How far the zone's clock is ahead of UTC at instant `t`, in ms. */
const offsetAt = (t: number, timeZone: string) => localAsUtc(t, timeZone) - t;

/**
 * The UTC instant at which the zone's clock shows `local` (fields given as UTC). Near a clock change
 * the offset a day before and a day after differ (no zone changes twice in two days, and no offset
 * exceeds 14 h, so they are the offsets on either side of it):
 * - a time shown twice (clocks going back) is its first pass: a window starting there holds both passes,
 *   so a repeated hour is one window of two hours, never an empty or a negative one;
 * - a time never shown (clocks jumping forward) is the instant of the jump, `local` less the offset
 *   before it: a window ending in the gap ends when the clock jumps, and the next one starts there.
 */
function localToInstant(local: number, timeZone: string): number {
  const before = offsetAt(local - DAY_MS, timeZone);
  const after = offsetAt(local + DAY_MS, timeZone);
  if (before === after) return local - before;
  const first = local - before;
  if (localAsUtc(first, timeZone) === local) return first;
  const second = local - after;
  return localAsUtc(second, timeZone) === local ? second : first;
}

function bounds(period: Period, local: Date): { id: string; start: number; end: number } {
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth();
  const d = local.getUTCDate();
  const h = local.getUTCHours();
  if (period === 'month') return { id: `${y}-${pad(m + 1)}`, start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
  const day = `${y}-${pad(m + 1)}-${pad(d)}`;
  if (period === 'day') return { id: day, start: Date.UTC(y, m, d), end: Date.UTC(y, m, d + 1) };
  return { id: `${day}T${pad(h)}`, start: Date.UTC(y, m, d, h), end: Date.UTC(y, m, d, h + 1) };
}

function zonedWindow(period: Period, now: number, timeZone: string): CalendarWindow {
  const local = bounds(period, new Date(localAsUtc(now, timeZone)));
  return { id: local.id, start: localToInstant(local.start, timeZone), end: localToInstant(local.end, timeZone) };
}

/** Windows are reused until they end: computing one in a timezone formats dates (~2 µs). */
const cache = new Map<string, CalendarWindow>();

/** The calendar window containing instant `now`, in UTC or an IANA `timeZone`. */
export function calendarWindow(period: Period, now: number, timeZone = 'UTC'): CalendarWindow {
  const cacheKey = `${period}|${timeZone}`;
  const hit = cache.get(cacheKey);
  if (hit && now >= hit.start && now < hit.end) return hit;
  let w: CalendarWindow;
  if (timeZone === 'UTC') {
    w = bounds(period, new Date(now));
  } else {
    w = zonedWindow(period, now, timeZone);
    // Clocks going back off the hour (Chatham's at 03:45, Troll's by two hours) repeat minutes whose
    // local hour ended at its first pass: they belong to the window that starts there, as when that
    // window was computed first.
    if (w.end <= now) w = zonedWindow(period, w.end, timeZone);
  }
  if (cache.size > 500) cache.clear();
  cache.set(cacheKey, w);
  return w;
}
