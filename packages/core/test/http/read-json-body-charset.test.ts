import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readJsonBody } from '../../src/http/read-body.js';

const JSON_TEXT = '{"model":"m","messages":[{"role":"user","content":"café"}]}';
const stream = () => Readable.from([Buffer.from(JSON_TEXT, 'latin1')]);
const read = (body: unknown, contentType: string) => readJsonBody(body, 1 << 20, { 'content-type': contentType });

describe('readJsonBody: the declared charset', () => {
  it('refuses raw bytes in a charset other than UTF-8 with a 415 naming Content-Type, before reading them', async () => {
    const body = stream();
    const refused = await read(body, 'application/json; charset=iso-8859-1').catch((e) => e);
    expect(refused).toMatchObject({ code: 'unsupported_media_type', status: 415, param: 'content-type' });
    expect(refused.message).toBe('request body cannot be read: unsupported charset "ISO-8859-1"');
    // Left unread, so the connection closes rather than read the rest.
    expect(refused.headers).toEqual({ connection: 'close' });
    expect(body.readableEnded).toBe(false);
    await expect(read(Buffer.from(JSON_TEXT, 'latin1'), 'application/json;charset="Windows-1252"')).rejects.toMatchObject({ status: 415 });
  });

  it('reads UTF-8 however it is spelled, and bodies without a charset', async () => {
    for (const type of ['application/json; charset=UTF-8', 'application/json; charset="utf8"', 'application/json;CHARSET=utf-8', 'application/json', 'text/plain']) {
      const utf8 = Readable.from([Buffer.from(JSON_TEXT)]);
      expect(await read(utf8, type), type).toMatchObject({ messages: [{ content: 'café' }] });
    }
  });

  it('takes text a host already decoded, and parsed objects, whatever charset was declared', async () => {
    expect(await read(JSON_TEXT, 'application/json; charset=iso-8859-1')).toMatchObject({ model: 'm' });
    expect(await read({ model: 'm' }, 'application/json; charset=iso-8859-1')).toEqual({ model: 'm' });
  });
});
