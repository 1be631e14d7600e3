import { z } from 'zod';
import { budgetSchema, rateLimitSchema, type BudgetConfig, type RateLimitConfig } from '../config/schema.js';

/** One gateway key: what a client sends instead of a provider key. Give `key` or `hash`. */
export interface GatewayKeyConfig {
  /** The key itself, e.g. `llmux-team-a-…`. */
  key?: string;
  /** Hex SHA-256 of the key (optionally prefixed `sha256:`), so the config never holds the key itself. */
  hash?: string;
  /** Names the key in logs, metrics, traces and `scope: "key"` budgets — the key itself never appears. Unique. */
  name: string;
  /**
   * Models or aliases this key may request; a trailing `*` matches a prefix (`gpt-4o*`, `anthropic/*`).
   * Default: every model. Another model is refused with 403.
   */
  models?: string[];
  /** This key's own budgets, always scoped to the key, on top of the config's. */
  budget?: BudgetConfig | BudgetConfig[];
  /** This key's own rate limits, always scoped to the key, on top of the config's. */
  rate_limit?: RateLimitConfig | RateLimitConfig[];
  /**
   * Identity fields for this key's requests (`team`, `tenant`, …), read by budget scopes and
   * conditional routing. The app's `identify` wins where both set a field.
   */
  metadata?: Record<string, unknown>;
}

/** An admin key for `<mount>/usage`, `<mount>/metrics` and the playground: the key or its hex SHA-256. */
export type AdminKeyConfig = string | { key?: string; hash?: string; name?: string };

/** Gateway keys: with `auth` set, every inference request needs one of `keys`. */
export interface AuthOptions {
  keys: GatewayKeyConfig[];
  /** Keys for the admin routes, in addition to the `adminKey` option. Default none. */
  adminKeys?: AdminKeyConfig[];
}

const hashSchema = z.string().regex(/^(sha256:)?[0-9a-fA-F]{64}$/, 'hash must be the hex SHA-256 of the key (64 hex digits, optionally prefixed "sha256:")');
const keySchema = z.string().min(16, 'a gateway key needs at least 16 characters');
const keyScoped = (s: { scope?: string | undefined }) => s.scope === undefined || s.scope === 'key';
const scopedToKey = { message: 'a gateway key\'s own limits are always scoped to the key; leave out scope or set it to "key"' };
const oneOrMany = <T extends z.ZodType>(s: T) => z.union([s, z.array(s)]);
const secretSource = (k: { key?: string | undefined; hash?: string | undefined }) => (k.key === undefined) !== (k.hash === undefined);

export const authOptionsSchema = z.object({
  keys: z.array(
    z
      .object({
        key: keySchema.optional(),
        hash: hashSchema.optional(),
        name: z.string().min(1).max(128),
        models: z.array(z.string().min(1)).optional(),
        budget: oneOrMany(budgetSchema.refine(keyScoped, scopedToKey)).optional(),
        rate_limit: oneOrMany(rateLimitSchema.refine(keyScoped, scopedToKey)).optional(),
        metadata: z.record(z.string(), z.unknown()).optional(),
      })
      .refine(secretSource, { message: 'give either key or hash', path: ['key'] }),
  ),
  adminKeys: z
    .array(
      z.union([
        keySchema,
        z.object({ key: keySchema.optional(), hash: hashSchema.optional(), name: z.string().optional() }).refine(secretSource, {
          message: 'give either key or hash',
          path: ['key'],
        }),
      ]),
    )
    .optional(),
});
