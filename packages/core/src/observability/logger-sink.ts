import type { GatewayLogger } from '../options.js';
import type { LogSink } from './sink-set.js';
import type { RequestLogRecord } from './log-record.js';

/** Answered requests and clients that left are `info`; refusals `warn`; failures of the gateway or a provider `error`. */
function levelOf(r: RequestLogRecord): 'info' | 'warn' | 'error' {
  if (r.outcome === 'success' || r.outcome === 'client_closed') return 'info';
  return r.outcome === 'stream_cut' || r.status >= 500 ? 'error' : 'warn';
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
