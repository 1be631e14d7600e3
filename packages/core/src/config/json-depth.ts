/**
 * Whether a parsed JSON value nests deeper than `max` levels, counted as bodies are (http/read-body.ts
 * `checkDepth`: a value inside `max` containers is too deep). Iterative, so a value nested thousands of
 * levels deep is measured without recursion, before any recursive code (zod, the query compiler, a
 * merge of `override_params`) walks it and overflows the stack.
 */
export function nestsDeeper(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [v, depth] = item;
    if (depth > max) return true;
    if (typeof v !== 'object' || v === null) continue;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}
