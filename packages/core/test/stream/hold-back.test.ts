import { describe, expect, it } from 'vitest';
import { holdBack } from '../../src/stream/hold-back.js';
import type { ChunkOut } from '../../src/providers/types.js';

const out = (content: string): ChunkOut => ({ chunk: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] } });

/** An upstream read as batches, recording how far it was read and whether it was stopped. */
function upstream(batches: string[][], failAfter?: number) {
  const seen = { reads: 0, finished: false };
  async function* source() {
    try {
      for (const batch of batches) {
        if (failAfter !== undefined && seen.reads >= failAfter) throw new Error('upstream broke');
        seen.reads++;
        yield batch.map(out);
      }
    } finally {
      seen.finished = true;
    }
  }
  return { seen, source: source() };
}

const texts = (batch: ChunkOut[]) => batch.map((c) => c.chunk.choices[0]!.delta.content);

describe('holdBack', () => {
  it('relays the held batches, then the rest, and ends the source', async () => {
    const { seen, source } = upstream([[''], ['Hi'], [' there', '!']]);
    const held = await holdBack(source);
    expect(seen.reads).toBe(2);
    const got: Array<Array<string | null | undefined>> = [];
    for await (const batch of held.batches()) got.push(texts(batch));
    expect(got).toEqual([[''], ['Hi'], [' there', '!']]);
    expect(seen.finished).toBe(true);
  });

  it('stops the source when the reader leaves while batches are still held', async () => {
    const { seen, source } = upstream([[''], ['Hi'], [' there']]);
    const held = await holdBack(source);
    for await (const batch of held.batches()) {
      expect(texts(batch)).toEqual(['']);
      break;
    }
    // Leaving early must reach the upstream read (that is what closes its connection).
    expect(seen.finished).toBe(true);
    expect(seen.reads).toBe(2);
  });

  it('stops the source when the reader throws into it', async () => {
    const { seen, source } = upstream([['Hi'], [' there']]);
    const iterator = (await holdBack(source)).batches();
    await expect(iterator.throw(new Error('writer failed'))).rejects.toThrow('writer failed');
    expect(seen.finished).toBe(true);
    expect((await iterator.next()).done).toBe(true);
  });

  it('passes an upstream failure after the first content on to the reader', async () => {
    const { source } = upstream([['Hi'], [' there']], 1);
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const c of await holdBack(source)) got.push(c.chunk.choices[0]!.delta.content as string);
      })(),
    ).rejects.toThrow('upstream broke');
    expect(got).toEqual(['Hi']);
  });

  it('reads chunk by chunk as well as batch by batch', async () => {
    const { source } = upstream([[''], ['Hi', ' there']]);
    const got: string[] = [];
    for await (const c of await holdBack(source)) got.push(c.chunk.choices[0]!.delta.content as string);
    expect(got).toEqual(['', 'Hi', ' there']);
  });
});
