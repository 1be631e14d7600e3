import { targetsOf, type Plan } from '../config/plan.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { ResolvedTarget } from '../providers/types.js';
import { redactSecrets } from '../upstream/redact.js';
import { secretSettings, targetSecrets } from '../upstream/call-secrets.js';
import { keyringOf } from '../auth/keyring-of.js';
import { adminKeyOf } from '../limits/admin-key.js';
import { setMember } from '../plain-object.js';

/**
 * Field names whose values are dropped whole wherever they appear (metadata, bodies): any `*_token`,
 * however many words come first (`hf_token`, `aws_session_token`, `x-amz-security-token`; counts
 * such as `max_tokens` are plural), API keys under any prefix (`openai_api_key`, `x-goog-api-key`),
 * passwords, secrets. Names come from clients and may be megabytes long: every alternative stays
 * linear (a prefix word can hold no separator, so it splits one way only).
 */
const CREDENTIAL_FIELD =
  /^(authorization|proxy-authorization|password|passwd|secret|client[-_]secret|(?:[a-z0-9]+[-_])*api[-_]?key|private[-_]?key|[a-z0-9_-]*token|aws[-_]secret[-_]access[-_]key)$/i;
const PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;
/** Deeper than any record the gateway builds (bodies are depth-checked at 64 by default). */
const MAX_DEPTH = 80;

const byPlan = new WeakMap<Plan, string[]>();
const byGateway = new WeakMap<GatewayInternals, string[]>();

/** Every credential a plan holds (provider keys, secret settings), found once per plan. */
function planSecrets(plan: Plan): string[] {
  let list = byPlan.get(plan);
  if (!list) {
    const out = new Set<string>();
    for (const target of targetsOf(plan.root)) for (const secret of targetSecrets(target)) out.add(secret);
    byPlan.set(plan, (list = [...out]));
  }
  return list;
}

/** Credentials of the gateway itself: per-provider defaults, plain gateway and admin keys. */
function gatewaySecrets(gw: GatewayInternals): string[] {
  let list = byGateway.get(gw);
  if (!list) {
    const out = new Set<string>();
    for (const secret of secretSettings(gw.options.providers ?? {})) out.add(secret);
    for (const p of Object.values(gw.options.providers ?? {})) if (p.apiKey) out.add(p.apiKey);
    for (const k of keyringOf(gw)?.secrets ?? []) out.add(k);
    const admin = adminKeyOf(gw);
    if (admin) out.add(admin);
    byGateway.set(gw, (list = [...out]));
  }
  return list;
}

/**
 * What one request's record must not contain: the gateway's secrets, its plan's, the target's that
 * answered, and `presented` — a gateway key configured only by its hash is known in plain text only
 * for the request that presented it.
 */
export function secretsFor(gw: GatewayInternals, plan?: Plan, extra: Array<ResolvedTarget | undefined> = [], presented?: string): string[] {
  const out = [...gatewaySecrets(gw), ...(plan ? planSecrets(plan) : [])];
  if (presented) out.push(presented);
  for (const t of extra) {
    if (!t) continue;
    out.push(...targetSecrets(t));
  }
  return out;
}

function redactText(text: string, secrets: readonly string[]): string {
  // Most strings hold none of the (possibly many) secrets: a search is cheaper than split/join.
  let present: string[] | undefined;
  for (const s of secrets) if (s.length >= 4 && text.includes(s)) (present ??= []).push(s);
  const out = redactSecrets(text, present);
  return out.includes('-----BEGIN') ? out.replace(PEM, '[REDACTED]') : out;
}

/** Field names seen before and whether they name a credential (names repeat from record to record). */
const credentialNames = new Map<string, boolean>();

function isCredentialField(name: string): boolean {
  let known = credentialNames.get(name);
  if (known === undefined) {
    known = CREDENTIAL_FIELD.test(name);
    // Client metadata and bodies bring any names: remember a bounded number of short ones (a body's
    // megabyte-long key would otherwise stay pinned for the life of the process).
    if (credentialNames.size < 1000 && name.length <= 64) credentialNames.set(name, known);
  }
  return known;
}

/**
 * A copy of a value with every known secret and key-shaped string replaced by `[REDACTED]`, and values
 * under credential-like names (`api_key`, `authorization`, …) dropped whole. The input is not changed.
 */
export function redactDeep<T>(value: T, secrets: readonly string[]): T {
  return redacted(value, secrets, false, 0);
}

/**
 * `redactDeep` for a value nothing else holds — a request's record, built for it and handed to the
 * sinks alone: the value itself when it holds nothing to redact (as nearly every record does),
 * otherwise copied only along the paths to what changed. Copying every record whole was the larger
 * part of redaction's cost (~4 µs a request), and garbage for every young-generation GC to sweep.
 */
export function redactOwned<T>(value: T, secrets: readonly string[]): T {
  return redacted(value, secrets, true, 0);
}

/** The walk of both: `share` keeps what needs no redaction as it is, else everything is copied. */
function redacted<T>(value: T, secrets: readonly string[], share: boolean, depth: number): T {
  if (typeof value === 'string') return redactText(value, secrets) as T;
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[TRUNCATED]' as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined = share ? undefined : new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const copy = redacted(v, secrets, share, depth + 1);
      if (out) out[i] = copy;
      else if (copy !== v) (out = value.slice())[i] = copy;
    }
    return (out ?? value) as T;
  }
  const source = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined = share ? undefined : {};
  for (const k of Object.keys(source)) {
    const v = source[k];
    // Whatever the value holds (a string, a list of keys, an object): under such a name it is a credential.
    const copy = v !== undefined && v !== null && isCredentialField(k) ? '[REDACTED]' : redacted(v, secrets, share, depth + 1);
    if (out) setMember(out, k, copy);
    else if (copy !== v) setMember((out = copyObject(source)), k, copy);
  }
  return (out ?? value) as T;
}

/** A plain object's own copy, `__proto__` members kept as plain fields (see `setMember`). */
function copyObject(source: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(source)) setMember(out, k, source[k]);
  return out;
}
