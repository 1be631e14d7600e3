import { describe, expect, it } from 'vitest';
import { toOpenAISse } from '../../src/stream/encode.js';
import { chunkBatches } from '../../src/stream/batches.js';
import { GatewayError, toGatewayError } from '../../src/errors.js';
import type { ChunkOut } from '../../src/providers/types.js';

const out = (content: string): ChunkOut => ({ chunk: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] } });
const decoder = new TextDecoder();
const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : decoder.decode(bytes));
const contentOf = (event: string) => JSON.parse(event.slice('data: '.length)).choices[0].delta.content;

/** Batches from an upstream that records how far it was read and whether it was stopped. */
function upstream(batches: Array<ChunkOut[] | Error>) {
  const seen = { started: false, finished: false, pulled: 0 };
  async function* gen() {
    seen.started = true;
    try {
      for (const b of batches) {
        seen.pulled++;
        if (b instanceof Error) throw b;
        yield b;
      }
    } finally {
      seen.finished = true;
    }
  }
  return { seen, stream: chunkBatches(gen) };
}

async function drain(iterator: AsyncIterator<Uint8Array>): Promise<string[]> {
  const got: string[] = [];
  for (let step = await iterator.next(); !step.done; step = await iterator.next()) got.push(text(step.value)!);
  return got;
}

describe('the OpenAI SSE encoder', () => {
  it('writes one buffer per batch, skips empty batches, ends with [DONE] and then stays done', async () => {
    const { seen, stream } = upstream([[out('a'), out('b')], [], [out('c')]]);
    const sse = toOpenAISse(stream, toGatewayError);
    const got = await drain(sse);
    expect(got).toHaveLength(3);
    expect(got[0]!.split('\n\n').filter(Boolean).map(contentOf)).toEqual(['a', 'b']);
    expect(got[1]!.split('\n\n').filter(Boolean).map(contentOf)).toEqual(['c']);
    expect(got[2]).toBe('data: [DONE]\n\n');
    expect(seen.finished).toBe(true);
    expect(await sse.next()).toEqual({ value: undefined, done: true });
  });

  it('relays an unchanged chunk as the upstream text', async () => {
    const raw = '{"id":"x","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}';
    const { stream } = upstream([[{ chunk: JSON.parse(raw), raw }]]);
    expect((await drain(toOpenAISse(stream, toGatewayError)))[0]).toBe(`data: ${raw}\n\n`);
  });

  it('turns a failing upstream into one error event in the OpenAI shape, without [DONE]', async () => {
    const { stream } = upstream([[out('a')], new GatewayError('stream_interrupted', 'the upstream closed early', { source: 'provider' })]);
    const got = await drain(toOpenAISse(stream, toGatewayError));
    expect(got).toHaveLength(2);
    expect(contentOf(got[0]!)).toBe('a');
    const { error } = JSON.parse(got[1]!.slice('data: '.length));
    expect(error).toMatchObject({ code: 'stream_interrupted', message: 'the upstream closed early' });
    expect(got.join('')).not.toContain('[DONE]');
  });

  it('a chunk it cannot encode ends the stream with an error event and stops the upstream', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const { seen, stream } = upstream([[out('a')], [{ chunk: cyclic as never }], [out('never read')]]);
    const got = await drain(toOpenAISse(stream, (e) => new GatewayError('internal_error', `could not encode: ${(e as Error).name}`)));
    expect(got).toHaveLength(2);
    expect(JSON.parse(got[1]!.slice('data: '.length)).error.message).toBe('could not encode: TypeError');
    expect(seen).toMatchObject({ finished: true, pulled: 2 });
  });

  it('return() before the first read does not start the upstream; after it, stops the upstream', async () => {
    const unread = upstream([[out('a')]]);
    const never = toOpenAISse(unread.stream, toGatewayError);
    expect(await never.return(undefined)).toEqual({ value: undefined, done: true });
    expect(unread.seen.started).toBe(false);
    expect(await never.next()).toEqual({ value: undefined, done: true });

    const read = upstream([[out('a')], [out('b')]]);
    const sse = toOpenAISse(read.stream, toGatewayError);
    expect(contentOf(text((await sse.next()).value)!)).toBe('a');
    expect(read.seen.finished).toBe(false);
    expect(await sse.return(undefined)).toEqual({ value: undefined, done: true });
    expect(read.seen).toMatchObject({ finished: true, pulled: 1 });
    expect(await sse.next()).toEqual({ value: undefined, done: true });
  });

  it('throw() while reading stops the upstream and gives the error event (as Readable.from destroys it); before or after, it rethrows', async () => {
    const read = upstream([[out('a')], [out('b')]]);
    const sse = toOpenAISse(read.stream, toGatewayError);
    await sse.next();
    const thrown = await sse.throw(new GatewayError('stream_interrupted', 'client closed the connection', { status: 499 }));
    expect(thrown.done).toBe(false);
    expect(JSON.parse(text(thrown.value as Uint8Array)!.slice('data: '.length)).error.message).toBe('client closed the connection');
    expect(read.seen).toMatchObject({ finished: true, pulled: 1 });
    await expect(sse.throw(new Error('again'))).rejects.toThrow('again');

    const unread = upstream([[out('a')]]);
    await expect(toOpenAISse(unread.stream, toGatewayError).throw(new Error('early'))).rejects.toThrow('early');
    expect(unread.seen.started).toBe(false);
  });
});
