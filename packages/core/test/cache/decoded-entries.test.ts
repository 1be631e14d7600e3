import { afterEach, describe, expect, it, vi } from 'vitest';
import { DecodedEntries } from '../../src/cache/decoded-entries.js';
import { encodeEntry, type CacheEntry } from '../../src/cache/entry.js';
import { jsonTextOf } from '../../src/http/json-text.js';

const completion = (content: string): CacheEntry => ({
  v: 1,
  createdAt: 5,
  provider: 'openai',
  target: 'config.targets[0]',
  cost: 0.002,
  kind: 'completion',
  completion: {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, message: { role: 'assistant', content, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  },
});

afterEach(() => vi.restoreAllMocks());

describe('decoded cache entries', () => {
  it('gives each read its own entry, equal to a fresh parse, however the one before was changed', () => {
    const memo = new DecodedEntries();
    const text = encodeEntry(completion('hi'));
    const first = memo.decode('k', text)!;
    expect(first).toEqual(completion('hi'));
    // A caller that edits its answer in place (an adapter, an app's own code on handle()'s body).
    if (first.kind === 'completion') {
      first.completion.choices[0]!.message.content = 'changed';
      first.completion.usage!.total_tokens = 99;
      first.completion.choices[0]!.message.tool_calls!.push({ id: 'x', type: 'function', function: { name: 'g', arguments: '{}' } });
    }
    const second = memo.decode('k', text)!;
    expect(second).toEqual(completion('hi'));
    expect(second).not.toBe(first);
  });

  it('sends a copy as the stored text: the completion\'s JSON text is known, byte for byte', () => {
    const memo = new DecodedEntries();
    const text = encodeEntry(completion('hi'));
    for (let i = 0; i < 2; i++) {
      const entry = memo.decode('k', text)!;
      expect(entry.kind).toBe('completion');
      if (entry.kind === 'completion') expect(jsonTextOf(entry.completion)).toBe(JSON.stringify(completion('hi').completion));
    }
  });

  it('parses a text once while the store keeps giving it back, and again once the store holds another', () => {
    const memo = new DecodedEntries();
    const parse = vi.spyOn(JSON, 'parse');
    const text = encodeEntry(completion('hi'));
    memo.decode('k', text);
    const parsedOnce = parse.mock.calls.length;
    for (let i = 0; i < 5; i++) memo.decode('k', `${text}`);
    expect(parse.mock.calls.length).toBe(parsedOnce);
    // Refreshed or overwritten under the same key: the new answer, never the memo's.
    expect(memo.decode('k', encodeEntry(completion('new')))).toEqual(completion('new'));
    expect(parse.mock.calls.length).toBeGreaterThan(parsedOnce);
    // Replaced by something unreadable: a miss, not the entry parsed before.
    expect(memo.decode('k', '{"v":1,"createdAt":')).toBeUndefined();
    expect(memo.decode('k', undefined)).toBeUndefined();
    expect(memo.decode('k', encodeEntry(completion('new')))).toEqual(completion('new'));
  });

  it('copies embeddings whole', () => {
    const memo = new DecodedEntries();
    const embeddings: CacheEntry = { v: 1, createdAt: 1, kind: 'embeddings', embeddings: { object: 'list', model: 'e', data: [{ object: 'embedding', index: 0, embedding: [0.5, -1, 2e-7] }] } };
    const a = memo.decode('e', encodeEntry(embeddings))!;
    const b = memo.decode('e', encodeEntry(embeddings))!;
    expect(b).toEqual(embeddings);
    expect(b).not.toBe(a);
  });

  it('replays a stream as its chunks\' texts, each chunk copied only when read and equal to a fresh parse, however the one before was changed', async () => {
    const memo = new DecodedEntries();
    const base = { id: 'c', object: 'chat.completion.chunk' as const, created: 1, model: 'm' };
    const chunks = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant' as const, content: 'a "quoted" \\ é' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' as const }] },
      { ...base, choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } },
    ];
    const stream: CacheEntry = { v: 1, createdAt: 1, provider: 'openai', target: 'config.targets[0]', cost: 0.5, kind: 'stream', chunks };
    const text = encodeEntry(stream);
    const parse = vi.spyOn(JSON, 'parse');
    const stringify = vi.spyOn(JSON, 'stringify');
    for (let read = 0; read < 3; read++) {
      const parsed = parse.mock.calls.length;
      const serialised = stringify.mock.calls.length;
      const entry = memo.decode('s', text)!;
      if (entry.kind !== 'stream' || !entry.replay) throw new Error('expected a replayed stream');
      const outs = [];
      for await (const batch of entry.replay.replay().batches()) outs.push(...batch);
      const raws = outs.map((o) => o.raw);
      // Parsed and serialised once, on the first read; the hits after it do neither.
      if (read > 0) expect([parse.mock.calls.length - parsed, stringify.mock.calls.length - serialised]).toEqual([0, 0]);
      expect(entry).toMatchObject({ v: 1, createdAt: 1, provider: 'openai', target: 'config.targets[0]', cost: 0.5, kind: 'stream' });
      // Sent as the text JSON.stringify gives the stored chunk: what serialising it would send.
      expect(raws).toEqual(chunks.map((c) => JSON.stringify(c)));
      // Only the plain delta is marked plain: the finish and the usage are read by the stream observer.
      expect(outs.map((o) => o.plain)).toEqual([true, false, false]);
      expect(outs.map((o) => o.chunk)).toEqual(chunks);
      // A reader that edits its chunks in place (gateway.chatStream's caller) changes nothing for the next read.
      (outs[0]!.chunk.choices[0]!.delta as { content: string }).content = 'changed';
      outs[2]!.chunk.usage!.total_tokens = 99;
      expect(outs[0]!.chunk.choices[0]!.delta.content).toBe('changed');
    }
  });

  it('keeps `__proto__` members of a replayed chunk own, as JSON.parse does', async () => {
    const memo = new DecodedEntries();
    const odd = '{"v":1,"createdAt":1,"kind":"stream","chunks":[{"id":"c","__proto__":{"polluted":true},"choices":[]}]}';
    for (let i = 0; i < 2; i++) {
      const entry = memo.decode('odd', odd)!;
      if (entry.kind !== 'stream' || !entry.replay) throw new Error('expected a replayed stream');
      const outs = [];
      for await (const batch of entry.replay.replay().batches()) outs.push(...batch);
      const chunk = outs[0]!.chunk as unknown as Record<string, unknown>;
      expect(chunk).toEqual(JSON.parse(odd).chunks[0]);
      expect(Object.getPrototypeOf(chunk)).toBe(Object.prototype);
      expect(Object.hasOwn(chunk, '__proto__')).toBe(true);
      expect(chunk.polluted).toBeUndefined();
      expect(outs[0]!.raw).toBe('{"id":"c","__proto__":{"polluted":true},"choices":[]}');
    }
  });

  it('reads a stream nested too deeply to serialise by recursion as parsed, on every read, instead of failing', () => {
    const memo = new DecodedEntries();
    const depth = 200_000;
    const text = `{"v":1,"createdAt":1,"kind":"stream","chunks":[{"id":"c","x":${'['.repeat(depth)}${']'.repeat(depth)},"choices":[]}]}`;
    for (let i = 0; i < 2; i++) {
      const entry = memo.decode('deep', text)!;
      expect(entry.kind).toBe('stream');
      expect(entry.kind === 'stream' && entry.replay).toBe(undefined);
      expect(entry.kind === 'stream' && entry.chunks?.[0]?.id).toBe('c');
    }
    expect((memo as unknown as { byKey: Map<string, unknown> }).byKey.has('deep')).toBe(false);
  });

  it('stays within its bound, and reads right past it', () => {
    const texts = Array.from({ length: 6 }, (_, i) => encodeEntry(completion(`answer ${i}`)));
    const size = texts[0]!.length;
    // Room for two entries; a long one is never kept.
    const memo = new DecodedEntries(2 * size + 10, size + 5);
    const kept = () => (memo as unknown as { byKey: Map<string, unknown>; chars: number });
    for (let round = 0; round < 2; round++) {
      texts.forEach((text, i) => expect(memo.decode(`k${i}`, text)).toEqual(completion(`answer ${i}`)));
      expect([...kept().byKey.keys()]).toEqual(['k4', 'k5']);
      expect(kept().chars).toBe(2 * size);
    }
    const long = encodeEntry(completion('x'.repeat(size)));
    expect(memo.decode('long', long)).toEqual(completion('x'.repeat(size)));
    expect(kept().byKey.has('long')).toBe(false);
  });
});

describe('cache hits through handle()', () => {
  it('an app that edits one hit\'s body in place never changes the next hit', async () => {
    const { createGateway } = await import('../../src/index.js');
    const gateway = createGateway({ config: { targets: [{ provider: 'mock' }], cache: { mode: 'simple' } }, logger: false, metrics: false });
    const ask = () =>
      gateway.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: { model: 'mock-1', messages: [{ role: 'user', content: 'Hi' }] } });
    try {
      const miss = await ask();
      const original = JSON.parse(JSON.stringify(miss.body));
      for (let i = 0; i < 3; i++) {
        const hit = await ask();
        expect(hit.headers['x-llmux-cache']).toBe('HIT');
        expect(hit.body).toEqual(original);
        const body = hit.body as { choices: Array<{ message: { content: string } }>; usage: { total_tokens: number } };
        body.choices[0]!.message.content = `edited ${i}`;
        body.usage.total_tokens = -1;
      }
    } finally {
      await gateway.close();
    }
  });
});
