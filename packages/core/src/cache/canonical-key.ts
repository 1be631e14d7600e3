import { Sha256 } from '@aws-crypto/sha256-js';

/**
 * One text per meaning: object keys sorted, `undefined` members dropped (as JSON.stringify does), so
 * `{a, b}` and `{b, a}` hash alike. Arrays keep their order — message order changes the answer.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const keys = Object.keys(value).sort();
  let out = '';
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function') continue;
    out += `${out ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(v)}`;
  }
  return `{${out}}`;
}

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

/**
 * SHA-256 of a text, hex. Short texts go through the pure-JS hash (13 µs for 600 bytes measured,
 * where `crypto.subtle` pays ~25 µs of async overhead); long ones through `crypto.subtle`, whose
 * native speed wins once prompts reach kilobytes.
 */
export async function sha256Hex(text: string): Promise<string> {
  if (text.length < 4096) {
    const hash = new Sha256();
    hash.update(text);
    return hex(await hash.digest());
  }
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))));
}
