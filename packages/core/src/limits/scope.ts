import { sha256, toHex } from '../auth/digest.js';
import type { RequestState } from '../pipeline/state.js';

/** Value of a scope for callers who lack that identity: they share one bucket rather than escape the limit. */
export const ANONYMOUS = '-';

/** Scope values come from clients (metadata) too: long ones are cut and hashed so keys stay small. */
const MAX_VALUE = 128;

/** 128 bits of SHA-256, hex: two ids that share a long prefix (`…/organisation/user-…`) never meet. */
function digest(text: string): string {
  return toHex(sha256(text).subarray(0, 16));
}

/**
 * A scope value as it appears in store keys. `encodeURIComponent` output never holds `%` without two
 * hex digits after it, so a cut-and-hashed value (marked `%~`) can never equal another value's plain
 * form; `-` is escaped so a user named `-` is not the anonymous bucket. Malformed UTF-16 (a lone
 * surrogate in client metadata), which `encodeURIComponent` refuses, is hashed by its code units.
 */
function encode(value: string): string {
  if (value === ANONYMOUS) return '%2D';
  let safe: string;
  try {
    safe = encodeURIComponent(value);
  } catch {
    let units = '';
    for (let i = 0; i < value.length; i++) units += `${value.charCodeAt(i).toString(16)}.`;
    return `%~u${digest(units)}`;
  }
  return safe.length <= MAX_VALUE ? safe : `${safe.slice(0, MAX_VALUE - 40)}%~${digest(value)}`;
}

/** The caller's value for a scope. `metadata.<field>` prefers the app's own identity over client metadata. */
export function scopeValue(scope: string, state: RequestState): string | undefined {
  let v: unknown;
  if (scope === 'user' || scope === 'team' || scope === 'key') v = state.identity[scope];
  else if (scope.startsWith('metadata.')) {
    const field = scope.slice('metadata.'.length);
    v = state.identity[field] ?? state.metadata[field];
  }
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/**
 * The part of a counter key naming whose spend it is: `gateway`, `user=alice`, `metadata.tenant=acme`.
 * Values are URI-encoded so `:` and `=` never appear in them.
 */
export function scopeKey(scope: string | undefined, state: RequestState): string {
  if (!scope || scope === 'gateway') return 'gateway';
  return scopeKeyFor(scope, scopeValue(scope, state));
}

/** `scopeKey` for a value known without a request (the usage view's gateway keys). */
export function scopeKeyFor(scope: string, value: string | undefined): string {
  return `${scope}=${value === undefined || value === '' ? ANONYMOUS : encode(value)}`;
}

/** `user=alice` → `{ scope: 'user', value: 'alice' }`. */
export function parseScopeKey(key: string): { scope: string; value?: string } {
  const eq = key.indexOf('=');
  if (eq === -1) return { scope: key };
  const raw = key.slice(eq + 1);
  let value = raw;
  try {
    value = decodeURIComponent(raw);
  } catch {
    // A hashed, cut value may end inside an escape; show it as stored.
  }
  return { scope: key.slice(0, eq), value };
}
