import { describe, expect, it } from 'vitest';
import { googleEmbeddings } from '../../src/providers/google/embeddings.js';
import type { CallContext, UpstreamRequest } from '../../src/providers/types.js';

const ctx = (model: string): CallContext => ({
  target: { path: 'config.targets[0]', index: 0, provider: 'vertex-ai', baseURL: 'https://vertex.test/v1', apiKey: 'ya29.t', overrideParams: {}, forwardHeaders: [], weight: 1, extra: { vertex_project_id: 'p' } },
  model,
  stream: false,
  headers: {},
});

/** The texts of each :predict call the request is split into. */
async function batches(input: string[], model = 'text-embedding-005'): Promise<string[][]> {
  const req = await googleEmbeddings('vertex').request({ model, input }, ctx(model));
  const calls = Array.isArray(req) ? req : [req];
  return calls.map((c: UpstreamRequest) => (JSON.parse(c.body as string) as { instances: Array<{ content: string }> }).instances.map((i) => i.content));
}
const bytes = (texts: string[]) => texts.reduce((n, t) => n + Buffer.byteLength(t, 'utf8'), 0);

describe('vertex :predict batches', () => {
  it('close before 20,000 bytes of text (Vertex\'s 20,000 input tokens; no token is under a byte), in order', async () => {
    const input = Array.from({ length: 100 }, (_, i) => `${'x'.repeat(995)}${String(i).padStart(5, '0')}`);
    const calls = await batches(input);
    expect(calls.map((c) => c.length)).toEqual([20, 20, 20, 20, 20]);
    expect(calls.flat()).toEqual(input);
  });

  it('count UTF-8 bytes, not characters', async () => {
    // 3 bytes per character: 2,000 characters are 6,000 bytes, so three fit and a fourth does not.
    const input = Array.from({ length: 4 }, () => '語'.repeat(2000));
    const calls = await batches(input);
    expect(calls.map((c) => c.length)).toEqual([3, 1]);
    for (const c of calls) expect(bytes(c)).toBeLessThanOrEqual(20_000);
  });

  it('an input over the limit by itself goes alone, between the others', async () => {
    const calls = await batches(['a', 'b'.repeat(25_000), 'c']);
    expect(calls).toEqual([['a'], ['b'.repeat(25_000)], ['c']]);
  });

  it('still at most 250 instances per call, and one per call for gemini-embedding models', async () => {
    const input = Array.from({ length: 300 }, (_, i) => `t${i}`);
    expect((await batches(input)).map((c) => c.length)).toEqual([250, 50]);
    expect((await batches(['a', 'b'], 'gemini-embedding-001')).map((c) => c.length)).toEqual([1, 1]);
  });
});
