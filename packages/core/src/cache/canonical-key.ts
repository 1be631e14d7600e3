import { Sha256 } from '@aws-crypto/sha256-js';

/** Keys in code-unit order (as `Array#sort` orders strings); insertion sort, as objects have few keys. */
export function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

/** Member names repeat from request to request (`role`, `content`, `type`…): each short one is quoted once. */
const quotedNames = new Map<string, string>();
const QUOTED_NAMES_KEPT = 4096;
/** Names are the client's: kept only while short, so what the memo can pin stays small (4096 × 64 characters). */
const QUOTED_NAME_LENGTH = 64;

/** A member name as JSON text. */
export function quotedName(name: string): string {
  if (name.length > QUOTED_NAME_LENGTH) return JSON.stringify(name);
  let text = quotedNames.get(name);
  if (text === undefined) {
    text = JSON.stringify(name);
    // Past the bound, names are quoted each time rather than kept.
    if (quotedNames.size < QUOTED_NAMES_KEPT) quotedNames.set(name, text);
  }
  return text;
}

/**
 * One text per meaning: object keys sorted, `undefined` and function members dropped (as
 * JSON.stringify does), so `{a, b}` and `{b, a}` hash alike. Arrays keep their order — message order
 * changes the answer. Built as one string, without per-level arrays: it runs over every cached
 * request's body. Primitives are written as JSON.stringify writes them, without calling it.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return JSON.stringify(value) ?? 'null';
  }
  if (value === null) return 'null';
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i) out += ',';
      const v: unknown = value[i];
      out += v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v);
    }
    return out + ']';
  }
  out = '{';
  const keys = sortedKeys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function') continue;
    if (out.length > 1) out += ',';
    out += quotedName(key) + ':' + canonicalJson(v);
  }
  return out + '}';
}

const encoder = new TextEncoder();

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

type NodeHash = { update(text: string): NodeHash; digest(encoding: 'hex'): string };
type NodeCrypto = { createHash?: (alg: string) => NodeHash; hash?: (alg: string, data: string, encoding: 'hex') => string };
/**
 * Node's own hash when the runtime has it (≈1 µs for a 600-byte key, against 13 µs for the pure-JS
 * hash and ~25 µs of async overhead for `crypto.subtle`): found through `process.getBuiltinModule`
 * (Node ≥ 20.16), so core still imports nothing from `node:` and runs where there is no Node.
 */
const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => NodeCrypto | undefined } }).process?.getBuiltinModule?.('node:crypto');

/**
 * SHA-256 of a text, hex, when the runtime hashes natively (undefined elsewhere). Node's one-shot
 * `hash` (≥ 20.12) skips the Hash object `createHash` builds.
 */
export function sha256HexNow(text: string): string | undefined {
  if (nodeCrypto?.hash) return nodeCrypto.hash('sha256', text, 'hex');
  return nodeCrypto?.createHash?.('sha256').update(text).digest('hex');
}

/** SHA-256 of a text, hex, on any runtime. */
export async function sha256Hex(text: string): Promise<string> {
  return sha256HexNow(text) ?? sha256HexPortable(text);
}

/** The same without Node: pure JS for short texts, `crypto.subtle` where its native speed wins. */
export async function sha256HexPortable(text: string): Promise<string> {
  if (text.length < 4096) {
    const hash = new Sha256();
    hash.update(text);
    return hex(await hash.digest());
  }
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text))));
}
