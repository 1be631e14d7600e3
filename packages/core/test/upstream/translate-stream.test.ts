import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { openAICompatible } from '../../src/providers/openai-compatible/provider.js';
import type { CallContext, ChunkOut, ResolvedTarget } from '../../src/providers/types.js';
import { TranslatedStream, type StreamControl } from '../../src/upstream/translate-stream.js';

const provider = openAICompatible({ id: 'openai', baseURL: 'http://127.0.0.1:1/v1' });
const ctx = { target: { path: 'config', index: 0, provider: 'openai', baseURL: 'http://127.0.0.1:1/v1', overrideParams: {} } as unknown as ResolvedTarget, model: 'm', stream: true, headers: {} } as CallContext;
const enc = new TextEncoder();
const chunk = (content: string) => `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}]}\n\n`;
const finish = 'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n';

/** A body whose reads the test answers one by one, recording whether the reader let go of it. */
function body() {
  const waiting: Array<(r: IteratorResult<Uint8Array>) => void> = [];
  const failing: Array<(e: unknown) => void> = [];
  const seen = { reads: 0, returned: false };
  const iterator: AsyncIterableIterator<Uint8Array> = {
    next: () => {
      seen.reads++;
      return new Promise((resolve, reject) => {
        waiting.push(resolve);
        failing.push(reject);
      });
    },
    return: async () => {
      seen.returned = true;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  const take = () => {
    failing.shift();
    return waiting.shift()!;
  };
  return {
    seen,
    iterator,
    send: (text: string) => take()({ done: false, value: enc.encode(text) }),
    end: () => take()({ done: true, value: undefined }),
    fail: (e: unknown) => {
      waiting.shift();
      failing.shift()!(e);
    },
  };
}

/** The attempt's side, as a log of what the stream told it. */
function control() {
  const log: string[] = [];
  const c: StreamControl = {
    waiting: () => void log.push('waiting'),
    heard: () => void log.push('heard'),
    finish: (complete) => void log.push(`finish(${complete})`),
    failure: (e) => {
      log.push('failure');
      return e instanceof GatewayError ? e : new GatewayError('network_error', `could not be reached: ${(e as Error).message}`, { provider: 'openai' });
    },
  };
  return { log, control: c };
}

function stream() {
  const b = body();
  const c = control();
  const res = { status: 200, headers: {}, body: b.iterator, dump: async () => {} };
  const s = new TranslatedStream(res, provider, ctx, c.control, () => undefined);
  return { b, c, s };
}

const texts = (batch: ChunkOut[]) => batch.map((o) => o.chunk.choices[0]?.delta.content ?? o.chunk.choices[0]?.finish_reason);
const tick = () => new Promise((r) => setImmediate(r));

describe('TranslatedStream', () => {
  it('gives one batch per read, times silence around each wait, and finishes complete after the end', async () => {
    const { b, c, s } = stream();
    const first = s.next();
    b.send(chunk('Hi') + chunk(' there'));
    expect(texts(((await first).value as ChunkOut[]))).toEqual(['Hi', ' there']);
    const second = s.next();
    b.send(finish + 'data: [DONE]\n\n');
    expect(texts(((await second).value as ChunkOut[]))).toEqual(['stop']);
    const last = s.next();
    b.end();
    expect((await last).done).toBe(true);
    expect(c.log).toEqual(['waiting', 'heard', 'waiting', 'heard', 'waiting', 'heard', 'finish(true)']);
    expect(b.seen.returned).toBe(false);
    expect((await s.next()).done).toBe(true);
  });

  it('reads on past a read that held no whole event', async () => {
    const { b, s } = stream();
    const first = s.next();
    const whole = chunk('Hi');
    b.send(whole.slice(0, 20));
    await tick();
    b.send(whole.slice(20));
    expect(texts(((await first).value as ChunkOut[]))).toEqual(['Hi']);
    expect(b.seen.reads).toBe(2);
  });

  it('lets the chunks before a broken event out first, then fails the attempt with it', async () => {
    const { b, c, s } = stream();
    const first = s.next();
    b.send(chunk('Hi') + 'data: {not json\n\n' + chunk('never'));
    expect(texts(((await first).value as ChunkOut[]))).toEqual(['Hi']);
    await expect(s.next()).rejects.toMatchObject({ code: 'provider_error', message: expect.stringContaining('not JSON') });
    expect(c.log.slice(-2)).toEqual(['failure', 'finish(false)']);
    // The body was not read to its end: it is let go of, and its upstream call with it.
    expect(b.seen.returned).toBe(true);
    expect((await s.next()).done).toBe(true);
  });

  it('fails the attempt when a read fails', async () => {
    const { b, c, s } = stream();
    const first = s.next();
    b.fail(new Error('socket hang up'));
    await expect(first).rejects.toMatchObject({ code: 'network_error', message: expect.stringContaining('socket hang up') });
    expect(c.log).toEqual(['waiting', 'failure', 'finish(false)']);
  });

  it('a stream the body ends before it finished fails as cut', async () => {
    const { b, c, s } = stream();
    const first = s.next();
    b.send(chunk('Hi'));
    await first;
    const next = s.next();
    b.end();
    await expect(next).rejects.toMatchObject({ code: 'stream_interrupted' });
    // Read to its end: there is nothing left to stop.
    expect(c.log.slice(-2)).toEqual(['failure', 'finish(true)']);
    expect(b.seen.returned).toBe(false);
  });

  it('leaving between reads lets go of the body and finishes incomplete', async () => {
    const { b, c, s } = stream();
    const first = s.next();
    b.send(chunk('Hi'));
    await first;
    expect(await s.return()).toEqual({ done: true, value: undefined });
    expect(b.seen.returned).toBe(true);
    expect(c.log.at(-1)).toBe('finish(false)');
    expect((await s.next()).done).toBe(true);
  });

  it('leaving while a read is on its way waits for that read, as a generator queues it', async () => {
    const { b, c, s } = stream();
    const first = s.next();
    let returned = false;
    const leaving = s.return().then(() => (returned = true));
    await tick();
    expect(returned).toBe(false);
    expect(c.log).toEqual(['waiting']);
    b.send(chunk('Hi'));
    expect(texts(((await first).value as ChunkOut[]))).toEqual(['Hi']);
    await leaving;
    expect(b.seen.returned).toBe(true);
    expect(c.log).toEqual(['waiting', 'heard', 'finish(false)']);
  });

  it('an `event: error` is a batch of its own, after the chunks ahead of it', async () => {
    const { b, s } = stream();
    const first = s.next();
    b.send(chunk('Hi') + 'event: error\ndata: {"error":{"message":"overloaded","type":"server_error"}}\n\n');
    expect(texts(((await first).value as ChunkOut[]))).toEqual(['Hi']);
    await expect(s.next()).rejects.toMatchObject({ message: expect.stringContaining('overloaded') });
  });
});
