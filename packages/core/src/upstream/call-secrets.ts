import type { CallContext, ResolvedTarget } from '../providers/types.js';

/** Settings whose values are credentials (`api_key`, `aws_session_token`, a service account's `private_key`, …). */
const SECRET_NAME = /key|secret|token|password|credential|authorization/i;

const byTarget = new WeakMap<ResolvedTarget, string[]>();
/** Credentials a provider read for one call from outside its target (the environment): see `noteSecrets`. */
const byCall = new WeakMap<CallContext, string[]>();

function collect(value: unknown, named: boolean, out: string[], depth = 0): void {
  if (depth > 8) return;
  if (typeof value === 'string') {
    if (named) out.push(value);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) collect(v, named || SECRET_NAME.test(k), out, depth + 1);
  }
}

/** The strings under secret-like names anywhere in `settings` (a provider's defaults, a target's settings). */
export function secretSettings(settings: unknown): string[] {
  const out: string[] = [];
  collect(settings, false, out);
  return out;
}

/** A target's credentials: its `api_key` and every setting under a secret-like name (AWS keys and session token…). */
export function targetSecrets(target: ResolvedTarget): string[] {
  let list = byTarget.get(target);
  if (!list) {
    list = target.apiKey ? [target.apiKey] : [];
    collect(target.extra, false, list);
    byTarget.set(target, list);
  }
  return list;
}

/**
 * Records credentials a provider resolved for this call beyond its target's settings (Bedrock's from
 * `AWS_*`), so an upstream error that quotes them — AWS's signature mismatch quotes the whole
 * canonical request, session token included — is redacted like a configured key.
 */
export function noteSecrets(ctx: CallContext, ...secrets: Array<string | undefined>): void {
  const known = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (known.length) byCall.set(ctx, [...(byCall.get(ctx) ?? []), ...known]);
}

/** Everything an error from this call must not show. */
export function secretsOf(ctx: CallContext): string[] {
  const noted = byCall.get(ctx);
  const own = targetSecrets(ctx.target);
  return noted ? [...own, ...noted] : own;
}
