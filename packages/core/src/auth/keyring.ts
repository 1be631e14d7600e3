import type { BudgetConfig, RateLimitConfig } from '../config/schema.js';
import type { AdminKeyConfig, AuthOptions } from './auth-options.js';
import { fromHex, sameDigest, sha256, toHex } from './digest.js';
import { modelMatcher } from './model-pattern.js';

/** A configured gateway key as requests see it: its name and what it may do, never the secret. */
export interface GatewayKey {
  name: string;
  /** Absent when every model is allowed. */
  allows?: (model: string) => boolean;
  models?: readonly string[];
  budgets: BudgetConfig[];
  rateLimits: RateLimitConfig[];
  metadata: Record<string, unknown>;
}

interface Entry<T> {
  digest: Uint8Array;
  value: T;
}

const toArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Walks every entry without stopping at a match, so the time taken does not tell which key matched or how many exist before it. */
function findByDigest<T>(entries: readonly Entry<T>[], presented: string): T | undefined {
  const digest = sha256(presented);
  let found: T | undefined;
  for (const e of entries) if (sameDigest(digest, e.digest) && found === undefined) found = e.value;
  return found;
}

/**
 * The `auth` option compiled once: a digest per key (plain keys are hashed at start-up), so every
 * check hashes the presented key and compares digests in constant time.
 */
export class Keyring {
  private readonly keys: Entry<GatewayKey>[] = [];
  private readonly admins: Entry<string>[] = [];
  private readonly names = new Map<string, GatewayKey>();
  /** Keys configured in plain text, so log redaction can remove them wherever they show up. */
  readonly secrets: string[] = [];

  constructor(auth: AuthOptions) {
    const seen = new Map<string, string>();
    const digestOf = (source: { key?: string | undefined; hash?: string | undefined }, where: string) => {
      const digest = source.key !== undefined ? sha256(source.key) : fromHex(source.hash!);
      const hex = toHex(digest);
      const other = seen.get(hex);
      if (other) throw new TypeError(`llmux: invalid options: ${where} is the same key as ${other}`);
      seen.set(hex, where);
      if (source.key !== undefined) this.secrets.push(source.key);
      return digest;
    };
    auth.keys.forEach((k, i) => {
      const where = `options.auth.keys[${i}]`;
      if (this.names.has(k.name)) throw new TypeError(`llmux: invalid options: ${where}.name "${k.name}" is used by another key`);
      const key: GatewayKey = {
        name: k.name,
        ...(k.models ? { allows: modelMatcher(k.models), models: k.models } : {}),
        budgets: toArray(k.budget).map((b) => ({ ...b, scope: 'key' })),
        rateLimits: toArray(k.rate_limit).map((r) => ({ ...r, scope: 'key' })),
        metadata: k.metadata ?? {},
      };
      this.names.set(k.name, key);
      this.keys.push({ digest: digestOf(k, where), value: key });
    });
    (auth.adminKeys ?? []).forEach((a: AdminKeyConfig, i) => {
      const source = typeof a === 'string' ? { key: a } : a;
      const name = (typeof a === 'string' ? undefined : a.name) ?? `admin-${i}`;
      this.admins.push({ digest: digestOf(source, `options.auth.adminKeys[${i}]`), value: name });
    });
  }

  /** The gateway key a client presented, or undefined for an unknown one. */
  find(presented: string): GatewayKey | undefined {
    return findByDigest(this.keys, presented);
  }

  byName(name: string): GatewayKey | undefined {
    return this.names.get(name);
  }

  get hasAdminKeys(): boolean {
    return this.admins.length > 0;
  }

  isAdmin(presented: string): boolean {
    return findByDigest(this.admins, presented) !== undefined;
  }
}
