import { pino } from 'pino';
import type { GatewayLogger } from '../options.js';

/**
 * The logger when the app gives none: pino to stdout, level from `LLMUX_LOG_LEVEL` (default `info`).
 * `silent` (or `logger: false`) removes the sink entirely, so a quiet gateway does no logging work.
 *
 * pino's own destination on purpose, though it is not the cheapest: it writes each line on libuv's
 * thread pool, ~35 µs of CPU a request when requests come one at a time (lines written while one is
 * in flight go out together, so under load it costs ~10 µs more than a synchronous write). Both
 * faster choices measured here break a host: `process.stdout` throws EPIPE as an uncaught exception
 * when the reader of a piped stdout goes away (pino's destination stops logging instead), and a
 * synchronous sonic-boom sleeps 100 ms on every EAGAIN once stdout is a full non-blocking pipe
 * (Node makes piped stdout non-blocking as soon as anything touches `process.stdout`).
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
