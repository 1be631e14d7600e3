/** A JSON object (not an array, not null): the shape of a schema node, a config section, a body. */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Sets `obj[key]` as an own member, `__proto__` included: JSON.parse makes a `"__proto__"` key an own
 * member, and a copy must too (an assignment would set the copy's prototype instead). Plain assignment
 * for every other name keeps the copy a fast object (defineProperty per field made redaction the
 * costliest step of a request: 23.6 -> 6-10 µs per record).
 */
export function setMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
