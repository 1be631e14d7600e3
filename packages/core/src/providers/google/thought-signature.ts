/**
 * Gemini 3 signs its reasoning (`thoughtSignature` on a part) and rejects the next turn with a 400 when
 * a function call comes back without its signature. OpenAI's shape has no such field, so it travels
 * where Google's own OpenAI-compatible endpoint puts it — `extra_content.google.thought_signature` on
 * the tool call (and on the message for text) — which clients keep when they echo the message back.
 */

export interface ExtraContent {
  google: { thought_signature: string };
}

export const extraContent = (signature: string): ExtraContent => ({ google: { thought_signature: signature } });

/** Reads a signature the gateway handed out earlier, from a tool call or an assistant message. */
export function signatureOf(holder: unknown): string | undefined {
  const google = (holder as { extra_content?: { google?: { thought_signature?: unknown } } } | undefined)?.extra_content?.google;
  const sig = google?.thought_signature;
  return typeof sig === 'string' && sig ? sig : undefined;
}

/**
 * Google's documented stand-in for a missing signature: history written by another provider (after a
 * fallback) or by a client that dropped `extra_content` still validates instead of failing with a 400.
 */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** Models that validate signatures on function calls (Gemini 3 and later). */
export function requiresSignatures(model: string): boolean {
  const major = /gemini-(\d+)/.exec(model)?.[1];
  return major !== undefined && Number(major) >= 3;
}
