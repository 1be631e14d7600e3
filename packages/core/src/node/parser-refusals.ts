import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { GatewayRequest } from '../types.js';
import { BODY_REFUSAL, isDecompressionError, payloadTooLarge, undecompressable } from '../http/body-refusal.js';
import { abortLinkFor } from './abort-signal.js';
import { isGatewayRoute } from './mount-path.js';
import { writeResponse } from './write-response.js';

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
 * A host body parser's refusal (malformed JSON, over its limit, an unknown charset, a compressed
 * body that does not inflate) as the body of a gateway request: the gateway answers it with its own
 * error — the OpenAI (or, on `/v1/messages`, Anthropic) shape, a trace id and a log record — as when
 * it read the body itself, on every route and before any handler. Undefined for anything that is
 * not a parser's refusal of the body.
 */
export function bodyRefusedBy(err: unknown): { readonly [BODY_REFUSAL]: GatewayError } | undefined {
  const error = refusal(err as ParserError);
  // Answered by the core before any route handler runs (see `refusalOf`): a route that reads no body
  // (`GET /v1/models`) must not be served to a request the app's own guards, behind the parser, never saw.
  return error ? { [BODY_REFUSAL]: error } : undefined;
}

/** Checked apart from `refusal`, so `e` keeps its parser-error type there. */
const isSyntaxError = (e: unknown): boolean => e instanceof SyntaxError;

function refusal(e: ParserError | null | undefined): GatewayError | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const said = typeof e.message === 'string' ? e.message : '';
  switch (e.type) {
    case 'entity.parse.failed':
      return new GatewayError('invalid_json', `request body is not valid JSON: ${said}`, { param: 'body' });
    case 'entity.too.large': {
      const limit = typeof e.limit === 'number' ? ` of ${e.limit} bytes` : '';
      return payloadTooLarge(`request body exceeds the app's body parser limit${limit}; raise its limit, or mount llmux ahead of the parser`);
    }
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new GatewayError('unsupported_media_type', `request body cannot be read: ${said}`, { param: 'body' });
    case 'request.aborted':
      return new GatewayError('invalid_request', 'the client closed the request while sending its body', { status: 499, param: 'body' });
    default:
      // A corrupt gzip/deflate/br body: body-parser passes zlib's error on as a 400 without a type,
      // co-body without even a status (one that set a 5xx on it meant something else).
      if ((status === undefined || (status >= 400 && status < 500)) && isDecompressionError(e)) return undecompressable(e);
      // co-body's `inflation` refuses an encoding it cannot undo with a 415 and no type.
      if (status === 415 && /content-encoding/i.test(said)) {
        return new GatewayError('unsupported_media_type', `request body cannot be read: ${said}`, { param: 'content-encoding' });
      }
      // co-body (`@koa/bodyparser`, `koa-bodyparser`) rethrows JSON.parse's SyntaxError with a 400 and no type.
      if (status === 400 && isSyntaxError(e)) {
        return new GatewayError('invalid_json', `request body is not valid JSON: ${said}`, { param: 'body' });
      }
      // Other refusals a parser marks as safe to show (400–499), such as a bad Content-Length.
      if (status !== undefined && status >= 400 && status < 500 && e.expose !== false && typeof e.type === 'string') {
        return new GatewayError('invalid_request', `request body refused: ${said}`, { status, param: 'body' });
      }
      return undefined;
  }
}

/**
 * Express's router refusing a route parameter it cannot percent-decode (its `decodeParam` URIError,
 * a 400), raised while matching routes, before any handler ran.
 */
function pathRefusal(e: unknown): GatewayError | undefined {
  if (!(e instanceof URIError) || (e as ParserError).status !== 400) return undefined;
  return new GatewayError('invalid_request', `request path is not valid percent-encoding: ${e.message}`, { param: 'path' });
}

/**
 * For adapters' error handlers: the gateway request that answers a host parser's refusal of a request
 * for the gateway's `path` with the gateway's own error, or undefined when `err` is no such refusal,
 * the gateway has no route there (a host route under a mount of `/`), or the response already went
 * out; the caller then passes the error on. It is handled without `identify`: the middleware that
 * may rely on never ran. `ownsMount` says every path below the mount is the gateway's route (NestJS's
 * catch-all under a basePath of its own): a path its router could not decode there is the gateway's
 * to refuse too — with its 404 where it has no route, as the Express and Koa adapters answer it.
 */
export function refusedRequest(err: unknown, req: IncomingMessage, res: ServerResponse, path: string, ownsMount = false): GatewayRequest | undefined {
  const method = req.method ?? 'POST';
  if (res.headersSent) return undefined;
  const undecodable = ownsMount ? pathRefusal(err) : undefined;
  const body = undecodable ? { [BODY_REFUSAL]: undecodable } : isGatewayRoute(method, path) ? bodyRefusedBy(err) : undefined;
  return body && { method, path, headers: req.headers, body, signal: abortLinkFor(res, { untilAnswered: true }) };
}

/** `refusedRequest`, handled and written to `res` (Express, NestJS); undefined when there is none. */
export function answerRefusal(
  gateway: Pick<Gateway, 'handle'>,
  err: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  ownsMount = false,
): Promise<void> | undefined {
  const refused = refusedRequest(err, req, res, path, ownsMount);
  return refused && gateway.handle(refused).then((response) => writeResponse(res, response, refused.signal));
}
