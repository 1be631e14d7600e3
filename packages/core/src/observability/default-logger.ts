import { pino } from 'pino';
import type { GatewayLogger } from '../options.js';

/** Longest a line waits in the default logger's buffer before it is written, ms. */
const FLUSH_MS = 250;

/**
 * The logger when the app gives none: pino to stdout, level from `LLMUX_LOG_LEVEL` (default `info`).
 * `silent` (or `logger: false`) removes the sink entirely, so a quiet gateway does no logging work.
 *
 * pino's own asynchronous destination, buffered: lines gather until 4 KB or for at most `FLUSH_MS`,
 * then go out in one write on libuv's thread pool. Unbuffered, each line was its own trip to the
 * thread pool and back, ~35–45 µs of CPU a request when requests come one at a time and ~15 µs
 * under load; buffered it is a fraction of that. What is buffered is written at exit (pino flushes
 * it synchronously, an uncaught exception included) and by `gateway.close()`; only a process killed
 * outright loses the last quarter second of lines. The faster alternatives break a host:
 * `process.stdout` throws EPIPE as an uncaught exception when the reader of a piped stdout goes away
 * (pino's destination stops logging instead), and a synchronous sonic-boom sleeps 100 ms on every
 * EAGAIN once stdout is a full non-blocking pipe (Node makes piped stdout non-blocking as soon as
 * anything touches `process.stdout`).
 */
export function defaultLogger(env: Record<string, string | undefined>): GatewayLogger | undefined {
  const level = env.LLMUX_LOG_LEVEL ?? 'info';
  if (level === 'silent') return undefined;
  // pino's own error would not say where the level came from.
  if (!Object.hasOwn(pino.levels.values, level)) {
    throw new TypeError(`llmux: LLMUX_LOG_LEVEL "${level.slice(0, 40)}" is not a log level; use one of ${Object.keys(pino.levels.values).join(', ')}, silent`);
  }
  return pino({ name: 'llmux', level }, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: FLUSH_MS }));
}

/**
 * Writes what a logger holds buffered, when it can (pino's `flush`), waiting at most `maxWaitMs`: a
 * stdout whose reader stopped reading must not hold up `gateway.close()`. For the logger the gateway
 * made itself.
 */
export function flushLogger(logger: GatewayLogger | undefined, maxWaitMs = 1000): Promise<void> {
  const flush = (logger as { flush?: (cb?: (err?: Error) => void) => void } | undefined)?.flush;
  if (typeof flush !== 'function') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, maxWaitMs);
    timer.unref?.();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    try {
      flush.call(logger, done);
    } catch {
      done();
    }
  });
}
