import { pino } from 'pino';
import type { GatewayLogger } from '../options.js';

/**
 * The logger when the app gives none: pino to stdout, level from `LLMUX_LOG_LEVEL` (default `info`).
 * `silent` (or `logger: false`) removes the sink entirely, so a quiet gateway does no logging work.
 */
export function defaultLogger(env: Record<string, string | undefined>): GatewayLogger | undefined {
  const level = env.LLMUX_LOG_LEVEL ?? 'info';
  if (level === 'silent') return undefined;
  return pino({ name: 'llmux', level });
}
