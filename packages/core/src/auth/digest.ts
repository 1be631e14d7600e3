import { Sha256 } from '@aws-crypto/sha256-js';

/** SHA-256 of a text; synchronous, so checking a key adds no await to the request path. */
export function sha256(text: string): Uint8Array {
  const hash = new Sha256();
  hash.update(text);
  return hash.digestSync();
}

export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return hex;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/^sha256:/, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Compares two digests touching every byte whatever they hold, so the time taken says nothing about
 * where they differ. Digests (not the keys) are compared, so the lengths are public anyway.
 */
export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
