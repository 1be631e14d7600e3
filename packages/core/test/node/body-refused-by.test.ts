import { describe, expect, it } from 'vitest';
import { bodyRefusedBy } from '../../src/node/parser-refusals.js';
import { refusalOf } from '../../src/http/body-refusal.js';

/** The error the gateway answers such a body with (before any route handler runs). */
const refusedWith = (err: unknown) => refusalOf(bodyRefusedBy(err)) as any;

describe('bodyRefusedBy', () => {
  it('a client that left mid-upload is a 499, not a gateway failure', async () => {
    const e = await refusedWith(Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400 }));
    expect(e).toMatchObject({ code: 'invalid_request', status: 499, param: 'body' });
  });

  it('another exposed 4xx refusal from a parser keeps its status and message', async () => {
    const e = await refusedWith(Object.assign(new Error('request size did not match content length'), { type: 'request.size.invalid', status: 400, expose: true }));
    expect(e).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(e.message).toMatch(/did not match content length/);
  });

  it("co-body's rethrown SyntaxError (@koa/bodyparser, koa-bodyparser: status 400, no type) is malformed JSON", async () => {
    let parseError: unknown;
    try {
      JSON.parse('{"a":');
    } catch (e) {
      parseError = Object.assign(e as Error, { status: 400, body: '{"a":' });
    }
    expect(await refusedWith(parseError)).toMatchObject({ code: 'invalid_json', status: 400, param: 'body' });
    // A SyntaxError that is no refusal of the body (a bug elsewhere: no 400 on it) is not taken.
    expect(bodyRefusedBy(new SyntaxError('Unexpected token'))).toBeUndefined();
  });

  it('errors that are not a parser refusing the body are not taken', () => {
    expect(bodyRefusedBy(new Error('database down'))).toBeUndefined();
    expect(bodyRefusedBy(Object.assign(new Error('boom'), { status: 500, type: 'x' }))).toBeUndefined();
    expect(bodyRefusedBy(Object.assign(new Error('forbidden'), { status: 403 }))).toBeUndefined();
    expect(bodyRefusedBy(null)).toBeUndefined();
    expect(bodyRefusedBy('text')).toBeUndefined();
  });
});
