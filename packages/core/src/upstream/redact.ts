/** Key-shaped strings (OpenAI/Anthropic `sk-…`, Google `AIza…`, AWS access key ids, bearer tokens with RFC 6750's `~ + / =`). */
const KEY_PATTERNS = /\b(sk-[A-Za-z0-9_\-*]{6,}|AIza[0-9A-Za-z_\-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{12,}|Bearer\s+[A-Za-z0-9._~+/\-]{8,}=*)/g;

/** The shortest text `KEY_PATTERNS` can match (`sk-` and six more): shorter strings are returned as they are. */
const SHORTEST_KEY = 9;

/**
 * Providers echo part of a rejected key in their messages; nothing key-like may leave the gateway.
 * Cheap on the common case (log records redact every string they hold, ~30 per request): a secret
 * is split out only when present, and strings too short for any key pattern skip the regex.
 */
export function redactSecrets(text: string, secrets: Array<string | undefined> = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4 && out.includes(s)) out = out.split(s).join('[REDACTED]');
  return mayHoldKey(out) ? out.replace(KEY_PATTERNS, '[REDACTED]') : out;
}

/** Whether `text` holds one of the fixed prefixes every `KEY_PATTERNS` match starts with (a few substring searches beat the regex). */
function mayHoldKey(text: string): boolean {
  return (
    text.length >= SHORTEST_KEY &&
    (text.includes('sk-') || text.includes('AIza') || text.includes('AKIA') || text.includes('ASIA') || text.includes('Bearer'))
  );
}
