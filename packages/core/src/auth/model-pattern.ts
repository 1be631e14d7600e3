/** `gpt-4o` matches itself only; `gpt-4o*` and `anthropic/*` match every model that starts that way; `*` matches all. */
export function modelMatcher(patterns: readonly string[]): (model: string) => boolean {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const p of patterns) {
    if (p.endsWith('*')) prefixes.push(p.slice(0, -1));
    else exact.add(p);
  }
  return (model) => exact.has(model) || prefixes.some((p) => model.startsWith(p));
}
