import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';
import { BODY_REFUSAL } from '../http/body-refusal.js';

/**
 * The request body as the core wants it: whatever a body parser produced when one consumed the
 * stream (used as is — no re-serialising), else the unread stream itself, which the core reads
 * under its size limit. A parser that skipped a request (wrong content type) leaves the stream
 * unread, so its placeholder `{}` is ignored.
 */
export function bodyFor(req: IncomingMessage, parsed: unknown): unknown {
  const consumed = req.readableEnded || (req as { _body?: boolean })._body === true;
  return consumed ? parsed : req;
}

/** What body-parser, co-body and raw-body (Express, NestJS, Koa parsers) put on a refused body. */
interface ParserError {
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
  message?: unknown;
  limit?: unknown;
  expose?: unknown;
}

/**
 * A host body parser's refusal (malformed JSON, over its limit, an unknown charset) as the body of
 * a gateway request: the gateway answers it with its own error — the OpenAI (or, on `/v1/messages`,
 * Anthropic) shape, a trace id and a log record — as when it read the body itself, on every route
 * and before any handler. Undefined for anything that is not a parser's refusal of the body.
 */
export function bodyRefusedBy(err: unknown): AsyncIterable<Uint8Array> | undefined {
  const error = refusal(err as ParserError);
  if (!error) return undefined;
  return {
    // Answered before any route handler runs: a route that reads no body (`GET /v1/models`) must not
    // be served to a request the app's own guards, behind the parser, never saw.
    [BODY_REFUSAL]: error,
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
  } as AsyncIterable<Uint8Array>;
}

function refusal(e: ParserError | null | undefined): GatewayError | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const said = typeof e.message === 'string' ? e.message : '';
  switch (e.type) {
    case 'entity.parse.failed':
      return new GatewayError('invalid_json', `request body is not valid JSON: ${said}`, { param: 'body' });
    case 'entity.too.large': {
      const limit = typeof e.limit === 'number' ? ` of ${e.limit} bytes` : '';
      return new GatewayError('payload_too_large', `request body exceeds the app's body parser limit${limit}; raise its limit, or mount llmux ahead of the parser`, { param: 'body' });
    }
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new GatewayError('unsupported_media_type', `request body cannot be read: ${said}`, { param: 'body' });
    case 'request.aborted':
      return new GatewayError('invalid_request', 'the client closed the request while sending its body', { status: 499, param: 'body' });
    default:
      // Other refusals a parser marks as safe to show (400–499), such as a bad Content-Length.
      if (status !== undefined && status >= 400 && status < 500 && e.expose !== false && typeof e.type === 'string') {
        return new GatewayError('invalid_request', `request body refused: ${said}`, { status, param: 'body' });
      }
      return undefined;
  }
}
