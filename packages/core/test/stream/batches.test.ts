import { describe, expect, it } from 'vitest';
import { chunkBatches, heldBatches } from '../../src/stream/batches.js';
import type { ChunkOut } from '../../src/providers/types.js';

const out = (content: string): ChunkOut => ({ chunk: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] } });
const text = (c: ChunkOut) => c.chunk.choices[0]!.delta.content;

/** Batches from an upstream that records whether it was stopped. */
function source(batches: string[][]) {
  const seen = { finished: false };
  async function* gen() {
    try {
      for (const b of batches) yield b.map(out);
    } finally {
      seen.finished = true;
    }
  }
  return { seen, stream: chunkBatches(gen) };
}

describe('chunk streams read a chunk at a time', () => {
  it('yields every chunk of every batch in order, empty batches skipped', async () => {
    const { seen, stream } = source([['a', 'b'], [], ['c']]);
    const got: unknown[] = [];
    for await (const c of stream) got.push(text(c));
    expect(got).toEqual(['a', 'b', 'c']);
    expect(seen.finished).toBe(true);
  });

  it('stops the source when the reader leaves mid-batch', async () => {
    const { seen, stream } = source([['a', 'b'], ['c']]);
    for await (const c of stream) {
      expect(text(c)).toBe('a');
      break;
    }
    expect(seen.finished).toBe(true);
  });
});

describe('held batches without a source', () => {
  it('gives its one batch, then ends', async () => {
    const it = heldBatches([[out('x'), out('y')]]);
    const first = await it.next();
    expect(first.done).toBe(false);
    expect((first.value as ChunkOut[]).map(text)).toEqual(['x', 'y']);
    expect((await it.next()).done).toBe(true);
  });

  it('gives nothing once returned early', async () => {
    const it = heldBatches([[out('x')]]);
    expect((await it.return(undefined)).done).toBe(true);
    expect((await it.next()).done).toBe(true);
  });
});
