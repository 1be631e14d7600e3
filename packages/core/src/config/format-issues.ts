import type { z } from 'zod';

/** `config.targets[1].weight: expected number, received string` — the path a user can find in their JSON. */
export function formatIssues(root: string, error: z.ZodError): string {
  return error.issues
    .flatMap((issue) => flatten(issue, []))
    .slice(0, 5)
    .map((issue) => `${root}${formatPath(issue.path)}: ${issue.message}`)
    .join('; ');
}

type Issue = { path: PropertyKey[]; message: string; code?: string; errors?: Issue[][] };
const depth = (issues: Issue[]) => Math.max(0, ...issues.map((i) => i.path.length));

/**
 * A union (`config`: object or JSON text) fails as a bare "Invalid input" at the union; the branch
 * that got furthest names the real field (`options.config.strategy.mode: …`).
 */
function flatten(issue: Issue, base: PropertyKey[]): Issue[] {
  const path = [...base, ...issue.path];
  if (issue.code === 'invalid_union' && issue.errors?.length) {
    const furthest = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
    if (depth(furthest) > 0) return furthest.flatMap((i) => flatten(i, path));
  }
  return [{ path, message: issue.message }];
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}
