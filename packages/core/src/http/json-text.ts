/**
 * The JSON text an object was parsed from, kept while the object is known to be unchanged, so it can
 * travel on as the bytes that came in rather than be serialised again (JSON.stringify of a chat body
 * or a completion: a few µs when small, ~100 µs for a long conversation). Kept for raw request
 * bodies (`readJsonBody`) and for OpenAI-compatible answers the provider left as they came.
 *
 * Contract: code that changes such an object in place must `forgetJsonText` it first (the pipeline
 * replaces bodies rather than editing them; `RequestState.body` says so).
 */
const texts = new WeakMap<object, string>();

export function rememberJsonText(value: unknown, text: string): void {
  if (typeof value === 'object' && value !== null) texts.set(value, text);
}

export function jsonTextOf(value: unknown): string | undefined {
  return typeof value === 'object' && value !== null ? texts.get(value) : undefined;
}

/**
 * The text, forgotten as it is taken: the writer is its last reader. A WeakMap entry left behind
 * keeps its text alive through young-generation GCs until the key is found dead.
 */
export function takeJsonText(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const text = texts.get(value);
  if (text !== undefined) texts.delete(value);
  return text;
}

export function forgetJsonText(value: unknown): void {
  if (typeof value === 'object' && value !== null) texts.delete(value);
}

/** Answers a provider's `response` hook returned exactly as parsed (it says so): their text may be relayed. */
const leftAsParsed = new WeakSet<object>();

/** Called by a provider's `response` hook that returns the parsed JSON unchanged. */
export function markLeftAsParsed(value: object): void {
  leftAsParsed.add(value);
}

/** Whether `markLeftAsParsed` was called on it; the mark is taken (a weak entry left behind costs GC time). */
export function takeLeftAsParsed(value: unknown): boolean {
  return typeof value === 'object' && value !== null && leftAsParsed.delete(value);
}
