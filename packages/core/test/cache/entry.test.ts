import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, isCompleteStream, type CacheEntry } from '../../src/cache/entry.js';
import { replayChunks } from '../../src/cache/replay.js';
import type { ChatCompletionChunk } from '../../src/providers/openai-types.js';

const chunk = (choices: ChatCompletionChunk['choices'], usage?: ChatCompletionChunk['usage']): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices,
  ...(usage ? { usage } : {}),
});

describe('cache entries', () => {
  it('round-trip a completion and a stream', () => {
    const completion: CacheEntry = {
      v: 1,
      createdAt: 5,
      cost: 0.01,
      kind: 'completion',
      completion: { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] },
    };
    expect(decodeEntry(encodeEntry(completion))).toEqual(completion);
    const stream: CacheEntry = { v: 1, createdAt: 5, kind: 'stream', chunks: [chunk([{ index: 0, delta: { content: 'a' }, finish_reason: 'stop' }])] };
    expect(decodeEntry(encodeEntry(stream))).toEqual(stream);
  });

  it('keep every head member of a completion, names with quotes and backslashes included', () => {
    const completion: CacheEntry = {
      v: 1,
      createdAt: 1_700_000_000_123,
      provider: 'open"ai\\x',
      target: 'targets[0] "main"',
      cost: 1.5e-7,
      kind: 'completion',
      completion: { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: '"completion":' }, finish_reason: 'stop' }] },
    };
    const text = encodeEntry(completion);
    expect(JSON.parse(text)).toEqual(completion);
    expect(decodeEntry(text)).toEqual(completion);
  });

  it('read anything foreign or corrupt as a miss', () => {
    for (const bad of [undefined, 42, '', 'not json', '{}', '{"v":2,"createdAt":1,"kind":"completion","completion":{"choices":[]}}', '{"v":1,"createdAt":1,"kind":"stream","chunks":[]}', '{"v":1,"createdAt":1,"kind":"completion"}', '{"v":1,"kind":"completion","completion":{"choices":[]}}']) {
      expect(decodeEntry(bad), String(bad)).toBeUndefined();
    }
  });

  it('count a stream as complete only when every choice it opened has finished', () => {
    expect(isCompleteStream([chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }])])).toBe(false);
    expect(isCompleteStream([chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]), chunk([{ index: 0, delta: {}, finish_reason: 'stop' }])])).toBe(true);
    expect(
      isCompleteStream([chunk([{ index: 0, delta: {}, finish_reason: 'stop' }, { index: 1, delta: { content: 'b' }, finish_reason: null }])]),
    ).toBe(false);
    expect(isCompleteStream([chunk([], { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 })])).toBe(false);
  });

  it('replay a stored stream chunk by chunk', async () => {
    const chunks = [chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]), chunk([{ index: 0, delta: {}, finish_reason: 'stop' }])];
    const out = [];
    for await (const c of replayChunks(chunks)) out.push(c.chunk);
    expect(out).toEqual(chunks);
  });
});
