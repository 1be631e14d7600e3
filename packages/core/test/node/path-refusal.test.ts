import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { refusalOf } from '../../src/http/body-refusal.js';
import { refusedRequest } from '../../src/node/parser-refusals.js';

/** What Express 5's router raises for a route parameter it cannot percent-decode. */
const undecodable = () => Object.assign(new URIError("Failed to decode param '%E0%A4%A'"), { status: 400, statusCode: 400 });

function exchange(method = 'GET') {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  return { req, res: new ServerResponse(req) };
}

describe('refusedRequest: a path the router could not decode', () => {
  it('under a mount that is the gateway alone, is refused before any handler, on a route or not', () => {
    for (const path of ['/v1/models/%E0%A4%A', '/v1/chat/completions%ZZ']) {
      const { req, res } = exchange();
      const refused = refusedRequest(undecodable(), req, res, path, true);
      expect(refused?.path).toBe(path);
      expect(refusalOf(refused?.body)).toMatchObject({ code: 'invalid_request', status: 400, param: 'path' });
    }
  });

  it('is left to the host where the gateway shares its mount with the app, or when it is no router refusal', () => {
    const { req, res } = exchange();
    expect(refusedRequest(undecodable(), req, res, '/v1/models/%E0%A4%A')).toBeUndefined();
    expect(refusedRequest(new URIError('URI malformed'), req, res, '/v1/models/x', true)).toBeUndefined();
  });
});
