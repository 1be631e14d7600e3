import type { z } from 'zod';

/** `config.targets[1].weight: expected number, received string` — the path a user can find in their JSON. */
export function formatIssues(root: string, error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${root}${formatPath(issue.path)}: ${issue.message}`)
    .join('; ');
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}
