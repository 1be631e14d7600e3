import { setMember } from '../plain-object.js';

/** A JSON value's own copy: what JSON.parse of its text would give, built from the parsed tree (4–5× quicker). */
export function copyJson<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyJson(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value) setMember(out, key, copyJson((value as Record<string, unknown>)[key]));
  return out as T;
}

/**
 * `walk()`, or undefined when what it walks is nested too deeply for recursion (the stack's
 * RangeError). JSON.parse is not recursive and takes any depth, so such a value is read by parsing
 * its text instead, never a 500.
 */
export function unlessTooDeep<T>(walk: () => T): T | undefined {
  try {
    return walk();
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}
