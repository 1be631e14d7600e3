import { pino } from 'pino';
import type { GatewayLogger } from '../options.js';

/**
 * The logger when the app gives none: pino to stdout, level from `LLMUX_LOG_LEVEL` (default `info`).
 * `silent` (or `logger: false`) removes the sink entirely, so a quiet gateway does no logging work.
 *
 * Its lines go through `process.stdout`, not pino's default destination: that one (sonic-boom without
 * `sync`) hands every line to libuv's thread pool as a write of its own, and with a line per request
 * the hop to the pool and back cost ~35–40 µs of CPU per request in the gateway (to a file or
 * /dev/null; ~18 µs to a pipe), more than the rest of the gateway's work. `process.stdout` writes
 * files, pipes and terminals synchronously on Linux: a line is out before the next request runs,
 * none waits in a buffer when the process dies, and hosts that capture `process.stdout` (test
 * runners, log shippers patching it) see the lines.
 */
export function defaultLogger(env: Record<string, string | undefined>): GatewayLogger | undefined {
  const level = env.LLMUX_LOG_LEVEL ?? 'info';
  if (level === 'silent') return undefined;
  // pino's own error would not say where the level came from.
  if (!Object.hasOwn(pino.levels.values, level)) {
    throw new TypeError(`llmux: LLMUX_LOG_LEVEL "${level.slice(0, 40)}" is not a log level; use one of ${Object.keys(pino.levels.values).join(', ')}, silent`);
  }
  return pino({ name: 'llmux', level }, process.stdout);
}
