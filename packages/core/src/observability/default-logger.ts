import { pino } from 'pino';
import type { GatewayLogger } from '../options.js';

/**
 * The logger when the app gives none: pino to stdout, level from `LLMUX_LOG_LEVEL` (default `info`).
 * `silent` (or `logger: false`) removes the sink entirely, so a quiet gateway does no logging work.
 */
export function defaultLogger(env: Record<string, string | undefined>): GatewayLogger | undefined {
  const level = env.LLMUX_LOG_LEVEL ?? 'info';
  if (level === 'silent') return undefined;
  // pino's own error would not say where the level came from.
  if (!Object.hasOwn(pino.levels.values, level)) {
    throw new TypeError(`llmux: LLMUX_LOG_LEVEL "${level.slice(0, 40)}" is not a log level; use one of ${Object.keys(pino.levels.values).join(', ')}, silent`);
  }
  return pino({ name: 'llmux', level });
}
