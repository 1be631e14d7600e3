import { afterAll, afterEach } from 'vitest';

/**
 * Fails the test during which a promise rejection went unhandled or an exception escaped, naming it.
 * Vitest reports such errors for the whole run; this pins them to the test that caused them, so "no
 * unhandled rejection under any test" is checked test by test.
 */
const seen: unknown[] = [];
const record = (e: unknown) => void seen.push(e);
process.on('unhandledRejection', record);
process.on('uncaughtException', record);

function check(): void {
  if (seen.length === 0) return;
  const errors = seen.splice(0);
  const first = errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
  throw new AggregateError(errors, `${errors.length} unhandled rejection(s) or uncaught exception(s); first: ${first.stack ?? first.message}`);
}

afterEach(check);
afterAll(() => {
  process.off('unhandledRejection', record);
  process.off('uncaughtException', record);
  check();
});
