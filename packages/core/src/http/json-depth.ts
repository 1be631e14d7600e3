/**
 * Whether a parsed JSON value nests deeper than `max` levels (a value inside `max` containers is too
 * deep). Iterative, so a value nested thousands of levels deep is measured without recursion before
 * any recursive code (zod, the query compiler, a merge of `override_params`) walks it; two parallel
 * stacks rather than a pair per node, since every request body passes here.
 */
export function nestsDeeper(value: unknown, max: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (depth > max) return true;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const child of v) {
        values.push(child);
        depths.push(depth + 1);
      }
    } else {
      for (const key in v) {
        values.push((v as Record<string, unknown>)[key]);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
