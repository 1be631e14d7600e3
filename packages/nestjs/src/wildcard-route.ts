import { createRequire } from 'node:module';

/**
 * The catch-all route below the controller's path. Nest 11 runs on Express 5, whose path-to-regexp 8
 * rejects a bare `*` and wants a named wildcard; Nest 10's Express 4 would read `{*path}` literally.
 * The @nestjs/core the app resolves decides which one.
 */
export function wildcardRoute(): string {
  const require = createRequire(import.meta.url);
  const { version } = require('@nestjs/core/package.json') as { version: string };
  return Number.parseInt(version, 10) >= 11 ? '{*path}' : '*';
}
