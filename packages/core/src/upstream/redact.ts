/** Key-shaped strings (OpenAI/Anthropic `sk-…`, Google `AIza…`, AWS access key ids, bearer tokens). */
const KEY_PATTERNS = /\b(sk-[A-Za-z0-9_\-*]{6,}|AIza[0-9A-Za-z_\-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{12,}|Bearer\s+[A-Za-z0-9._\-]{8,})/g;

/** Providers echo part of a rejected key in their messages; nothing key-like may leave the gateway. */
export function redactSecrets(text: string, secrets: Array<string | undefined> = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  return out.replace(KEY_PATTERNS, '[REDACTED]');
}
