import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAllBytes, utf8Bytes } from '../../src/http/bytes.js';

const tooLarge = () => new Error('too large');
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('readAllBytes', () => {
  it('reads a Node stream to its end, strings and buffers alike', async () => {
    const body = Readable.from([Buffer.from('{"a":'), '1}']);
    expect(text(await readAllBytes(body, 100, tooLarge))).toBe('{"a":1}');
  });

  it('reads any async iterable', async () => {
    async function* parts() {
      yield new TextEncoder().encode('he');
      yield 'llo';
    }
    expect(text(await readAllBytes(parts(), 100, tooLarge))).toBe('hello');
  });

  it('refuses more than the limit and destroys the stream', async () => {
    const body = new PassThrough();
    const read = readAllBytes(body, 5, tooLarge);
    body.write('123');
    body.write('456');
    await expect(read).rejects.toThrow('too large');
    expect(body.destroyed).toBe(true);
  });

  it('rejects on a stream error and on a stream closed before its end — never hangs', async () => {
    const failing = new PassThrough();
    const a = readAllBytes(failing, 100, tooLarge);
    failing.write('x');
    failing.destroy(new Error('socket hang up'));
    await expect(a).rejects.toThrow('socket hang up');

    const cut = new PassThrough();
    const b = readAllBytes(cut, 100, tooLarge);
    cut.write('x');
    cut.destroy();
    await expect(b).rejects.toThrow('closed before its end');

    const gone = new PassThrough();
    gone.destroy();
    await expect(readAllBytes(gone, 100, tooLarge)).rejects.toThrow('closed before');
  });

  it('an already consumed stream reads as empty', async () => {
    const body = Readable.from(['x']);
    for await (const _ of body) void _;
    expect((await readAllBytes(body, 100, tooLarge)).byteLength).toBe(0);
  });
});

describe('utf8Bytes', () => {
  it('gives the UTF-8 bytes TextEncoder gives, as a Uint8Array, multi-byte characters and long texts included', () => {
    for (const t of ['', 'data: {"content":"héllo ✓ 🎉"}\n\n', 'x'.repeat(10_000) + '€']) {
      const bytes = utf8Bytes(t);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect([...bytes]).toEqual([...new TextEncoder().encode(t)]);
      expect(text(bytes)).toBe(t);
    }
  });
});
