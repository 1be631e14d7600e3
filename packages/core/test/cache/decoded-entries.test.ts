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

  it('copies streams and embeddings whole, and keeps `__proto__` members own, as JSON.parse does', () => {
    const memo = new DecodedEntries();
    const stream: CacheEntry = { v: 1, createdAt: 1, kind: 'stream', chunks: [{ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }] }] };
    const embeddings: CacheEntry = { v: 1, createdAt: 1, kind: 'embeddings', embeddings: { object: 'list', model: 'e', data: [{ object: 'embedding', index: 0, embedding: [0.5, -1, 2e-7] }] } };
    for (const [key, entry] of [['s', stream], ['e', embeddings]] as const) {
      const a = memo.decode(key, encodeEntry(entry))!;
      const b = memo.decode(key, encodeEntry(entry))!;
      expect(b).toEqual(entry);
      expect(b).not.toBe(a);
    }
    const odd = '{"v":1,"createdAt":1,"kind":"stream","chunks":[{"id":"c","__proto__":{"polluted":true},"choices":[]}]}';
    for (let i = 0; i < 2; i++) {
      const entry = memo.decode('odd', odd)!;
      expect(entry).toEqual(JSON.parse(odd));
      const chunk = (entry as Extract<CacheEntry, { kind: 'stream' }>).chunks[0]! as unknown as Record<string, unknown>;
      expect(Object.getPrototypeOf(chunk)).toBe(Object.prototype);
      expect(Object.hasOwn(chunk, '__proto__')).toBe(true);
      expect(chunk.polluted).toBeUndefined();
    }
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
