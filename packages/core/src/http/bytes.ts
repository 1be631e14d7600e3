/** The parts as one array (the part itself when there is only one), for a single decode at the end. */
export function concatBytes(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.byteLength;
  }
  return all;
}

/** The parts of a Node `Readable` this module uses, typed structurally (the core imports nothing from `node:`). */
interface EventedReadable {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  read(): unknown;
  destroy(error?: Error): unknown;
  readableEnded?: boolean;
  destroyed?: boolean;
}

const isEvented = (body: unknown): body is EventedReadable =>
  typeof (body as Partial<EventedReadable>).on === 'function' && typeof (body as Partial<EventedReadable>).read === 'function';

/**
 * What happens to a body past its limit. `destroy`: it is closed (an upstream's: nothing more is
 * downloaded). `discard`: a client's request, whose socket must stay up for the 413 to reach it
 * (destroying the request resets the connection before the answer): what follows is read and
 * dropped for a while (`DISCARD_BYTES`, `DISCARD_MS`), then the body is destroyed. The 413 itself
 * closes the connection once sent (see `payloadTooLarge`); the bound is for an answer that is slow to
 * leave, so a client sending without end never has the gateway read its body without end.
 */
export type Overflow = 'destroy' | 'discard';

/**
 * How much of a refused body is read on (RFC 9110 §15.5.14 lets the server close instead). Enough
 * to outlast the few milliseconds the 413 takes to be written on a fast link, little next to what
 * an endless upload would cost; 2 s is Apache's lingering-close read timeout.
 */
const DISCARD_BYTES = 16 * 1024 * 1024;
const DISCARD_MS = 2000;

const encoder = new TextEncoder();

const ignore = () => {};

/**
 * The one UTF-8 decoder of the gateway: creating a TextDecoder builds an ICU converter (~4 µs). It is
 * never used with `stream: true`, so concurrent reads cannot share state (streams hold back a split
 * character themselves, see `stream/decode.ts`).
 */
export const utf8 = new TextDecoder();

type BufferFrom = { from(text: string, encoding: 'utf8'): Uint8Array };
const NodeBuffer = (globalThis as { Buffer?: BufferFrom }).Buffer;

/**
 * The UTF-8 bytes of a text. Node's `Buffer.from` where there is one: texts under 4 KB are cut from
 * a shared pool (~0.5 µs for a 360-byte stream batch), while `TextEncoder.encode` gives every call an
 * ArrayBuffer of its own (~6 µs, most of it allocation and the GC work it causes), and a stream
 * encodes a batch per upstream read. A Buffer is a Uint8Array; elsewhere the encoder is used.
 */
export const utf8Bytes: (text: string) => Uint8Array = NodeBuffer ? (text) => NodeBuffer.from(text, 'utf8') : (text) => encoder.encode(text);

/** Bytes as base64, a chunk at a time: one `fromCharCode` over megabytes would exceed the argument limit. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

const asBytes = (chunk: Uint8Array | string): Uint8Array => (typeof chunk === 'string' ? utf8Bytes(chunk) : chunk);

/**
 * Every byte of a body, refusing more than `limit` (then `tooLarge()` is thrown and the body
 * destroyed). A Node stream is read through its events: its async iterator builds a generator, an
 * end-of-stream watcher and a promise per chunk (~5 µs per body on Node 20), and every request reads
 * two bodies. Other async iterables are iterated.
 */
export function readAllBytes(
  body: AsyncIterable<Uint8Array | string>,
  limit: number,
  tooLarge: () => Error,
  overflow: Overflow = 'destroy',
): Promise<Uint8Array> {
  if (!isEvented(body)) return iterateAll(body, limit, tooLarge);
  if (body.readableEnded) return Promise.resolve(new Uint8Array());
  if (body.destroyed) return Promise.reject(new Error('the body was closed before it was read'));
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    let size = 0;
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (chunk: Uint8Array | string) => {
      const bytes = asBytes(chunk);
      size += bytes.byteLength;
      if (size > limit) {
        cleanup();
        // Destroying can emit 'error' (undici's body emits RequestAbortedError): with no listener left
        // that would be an uncaught exception in the host app.
        body.on('error', ignore);
        if (overflow === 'destroy') body.destroy();
        else discard(body);
        return reject(tooLarge());
      }
      parts.push(bytes);
    };
    const onEnd = () => {
      cleanup();
      resolve(concatBytes(parts, size));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    // 'end' comes before 'close' on a body read to its end; 'close' alone means it was cut short.
    const onClose = () => {
      cleanup();
      reject(new Error('the body closed before its end'));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/** Reads and drops what `body` still sends, up to `DISCARD_BYTES` or `DISCARD_MS`, then destroys it. */
function discard(body: EventedReadable): void {
  let left = DISCARD_BYTES;
  const stop = () => {
    clearTimeout(timer);
    body.off('data', onData);
    body.off('end', stop);
    body.off('close', stop);
  };
  const cut = () => {
    stop();
    body.destroy();
  };
  const onData = (chunk: Uint8Array | string) => {
    left -= typeof chunk === 'string' ? chunk.length : chunk.byteLength;
    if (left < 0) cut();
  };
  const timer = setTimeout(cut, DISCARD_MS);
  // Not what keeps a process alive: a host shutting down must not wait for a refused upload.
  (timer as { unref?: () => void }).unref?.();
  body.on('end', stop);
  body.on('close', stop);
  // A 'data' listener keeps a flowing stream flowing, and sets a paused one flowing.
  body.on('data', onData);
  (body as { resume?: () => void }).resume?.();
}

/** `readAllBytes`, decoded as UTF-8. */
export async function readAllText(body: AsyncIterable<Uint8Array | string>, limit: number, tooLarge: () => Error, overflow: Overflow = 'destroy'): Promise<string> {
  return utf8.decode(await readAllBytes(body, limit, tooLarge, overflow));
}

async function iterateAll(body: AsyncIterable<Uint8Array | string>, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = asBytes(chunk);
    size += bytes.byteLength;
    if (size > limit) throw tooLarge();
    parts.push(bytes);
  }
  return concatBytes(parts, size);
}
