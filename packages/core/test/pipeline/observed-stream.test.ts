import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { observe } from '../../src/pipeline/observed-stream.js';
import type { GatewayInternals } from '../../src/pipeline/internals.js';
import type { Outcome, PipelineStage, RequestState } from '../../src/pipeline/state.js';
import type { ChunkOut } from '../../src/providers/types.js';
import { chunkBatches } from '../../src/stream/batches.js';

const out = (content: string): ChunkOut => ({ chunk: { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] } });
const usage = (): ChunkOut => ({ chunk: { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } } });

/** A source of batches the test answers one by one, recording whether it was let go of. */
function source() {
  const waiting: Array<{ resolve: (r: IteratorResult<ChunkOut[], void>) => void; reject: (e: unknown) => void }> = [];
  const seen = { returned: 0 };
  const iterator: AsyncGenerator<ChunkOut[], void, undefined> = {
    next: () => new Promise((resolve, reject) => void waiting.push({ resolve, reject })),
    return: async () => {
      seen.returned++;
      return { done: true, value: undefined };
    },
    throw: async (e: unknown) => {
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncGenerator<ChunkOut[], void, undefined>;
  return {
    seen,
    batches: chunkBatches(() => iterator),
    send: (batch: ChunkOut[]) => waiting.shift()!.resolve({ done: false, value: batch }),
    end: () => waiting.shift()!.resolve({ done: true, value: undefined }),
    fail: (e: unknown) => waiting.shift()!.reject(e),
  };
}

/** A gateway of one after-stage that records each outcome, and a stream request's state. */
function setup(state: Partial<RequestState> = {}) {
  const outcomes: Outcome[] = [];
  const stage: PipelineStage = { name: 'record', after: (_s, outcome) => void outcomes.push(outcome) };
  const gw = { stages: [stage], options: {} } as unknown as GatewayInternals;
  const s = { scratch: {}, attempts: [], stream: true, wantsStreamUsage: false, ...state } as unknown as RequestState;
  return { gw, state: s, outcomes };
}

/** An observed stream whose first batch (`Hi`) was relayed. */
async function pastFirstBatch() {
  const { gw, state, outcomes } = setup();
  const src = source();
  const it = observe(gw, state, src.batches).batches();
  const first = it.next();
  src.send([out('Hi')]);
  await first;
  return { src, it, outcomes };
}

const texts = (batch: ChunkOut[]) => batch.map((o) => o.chunk.choices[0]?.delta.content);
const tick = () => new Promise((r) => setImmediate(r));

describe('observe (the stream on its way out)', () => {
  it('relays batches as they come, drops the usage chunk the client did not ask for, and ends the request once with 200', async () => {
    const { gw, state, outcomes } = setup();
    const src = source();
    const it = observe(gw, state, src.batches).batches();
    const first = it.next();
    src.send([out('Hi'), out(' there')]);
    expect(texts((await first).value as ChunkOut[])).toEqual(['Hi', ' there']);
    expect(state.firstTokenAt).toBeTypeOf('number');
    // A batch of nothing but the unasked-for usage leaves nothing: the observer reads on.
    const second = it.next();
    src.send([usage()]);
    await tick();
    src.end();
    expect((await second).done).toBe(true);
    expect(state.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    expect(outcomes.map((o) => o.status)).toEqual([200]);
  });

  it('a broken source ends the request as 502 and passes the error on', async () => {
    const { src, it, outcomes } = await pastFirstBatch();
    const next = it.next();
    src.fail(new GatewayError('stream_interrupted', 'openai closed the stream before it finished', { provider: 'openai' }));
    await expect(next).rejects.toMatchObject({ code: 'stream_interrupted' });
    expect(outcomes).toMatchObject([{ status: 502, incomplete: true }]);
    expect((await it.next()).done).toBe(true);
  });

  it('left between batches, it lets go of the source, then ends the request as 499, once', async () => {
    const { src, it, outcomes } = await pastFirstBatch();
    expect((await it.return(undefined)).done).toBe(true);
    expect(src.seen.returned).toBe(1);
    expect(outcomes).toMatchObject([{ status: 499, incomplete: true }]);
    await it.return(undefined);
    expect(src.seen.returned).toBe(1);
    expect(outcomes).toHaveLength(1);
  });

  it('left while a batch is on its way, it waits for that batch before letting go, as a generator does', async () => {
    const { gw, state, outcomes } = setup();
    const src = source();
    const it = observe(gw, state, src.batches).batches();
    const first = it.next();
    let left = false;
    const leaving = it.return(undefined).then(() => (left = true));
    await tick();
    expect(left).toBe(false);
    expect(src.seen.returned).toBe(0);
    src.send([out('Hi')]);
    expect(texts((await first).value as ChunkOut[])).toEqual(['Hi']);
    await leaving;
    expect(src.seen.returned).toBe(1);
    expect(outcomes).toMatchObject([{ status: 499 }]);
  });

  it('let go of before its first read, it still ends the request (its record, its budget settlement)', async () => {
    const { gw, state, outcomes } = setup();
    const src = source();
    const stream = observe(gw, state, src.batches);
    await stream[Symbol.asyncIterator]().return!(undefined);
    expect(src.seen.returned).toBe(1);
    expect(outcomes).toMatchObject([{ status: 499, incomplete: true }]);
  });
});
