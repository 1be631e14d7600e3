import type { GatewayLogger } from '../options.js';
import type { LogSink } from './sink-set.js';
import type { RequestLogRecord } from './log-record.js';

/**
 * Statuses a provider answers when the server's own set-up is wrong (its key, its permissions, a
 * model it names): the operator must see these, unlike a provider refusing the client's request
 * (400 for a too-long prompt, 429), which is the client's to handle.
 */
const PROVIDER_SETUP_FAILURES = new Set([401, 403, 404, 407]);

/** Answered requests and clients that left are `info`; refusals `warn`; failures of the gateway or a provider `error`. */
function levelOf(r: RequestLogRecord): 'info' | 'warn' | 'error' {
  if (r.outcome === 'success' || r.outcome === 'client_closed') return 'info';
  if (r.outcome === 'stream_cut' || r.status >= 500) return 'error';
  return r.error?.source === 'provider' && PROVIDER_SETUP_FAILURES.has(r.status) ? 'error' : 'warn';
}

/** One line per request through a pino-compatible logger (`logger.info(record, 'llmux request')`). */
export function loggerSink(logger: GatewayLogger): LogSink<RequestLogRecord> {
  return {
    name: 'logger',
    write(record) {
      logger[levelOf(record)](record, 'llmux request');
    },
  };
}
