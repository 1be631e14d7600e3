/** `000`–`999`, the milliseconds of a timestamp as written. */
const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** Years 0000–9999: outside them `toISOString` writes six-digit signed years, which the kept prefix does not hold. */
const LAST_PLAIN_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

let second = Number.NaN;
let prefix = '';

/**
 * `new Date(ms).toISOString()`, with the text up to the second kept from the previous call: every
 * request record carries its start time, requests of one second share all but the milliseconds, and
 * formatting a date took about 1 µs of the record's few.
 */
export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms <= LAST_PLAIN_MS) || !Number.isInteger(ms)) return new Date(ms).toISOString();
  const s = Math.floor(ms / 1000);
  if (s !== second) {
    prefix = new Date(s * 1000).toISOString().slice(0, 20);
    second = s;
  }
  return `${prefix}${MILLIS[ms - s * 1000]!}Z`;
}
