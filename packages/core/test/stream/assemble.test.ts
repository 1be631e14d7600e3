import { describe, expect, it } from 'vitest';
import { assembleCompletion } from '../../src/stream/assemble.js';
import type { ChatCompletionChunk } from '../../src/providers/openai-types.js';

const chunk = (delta: Record<string, unknown>, finish: string | null = null): { chunk: ChatCompletionChunk } => ({
  chunk: { id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] },
});

describe('assembleCompletion', () => {
  it("gathers a stream's annotations and citations into the answer, in order", () => {
    const cite = (text: string) => ({ start: 0, end: text.length, text, sources: [], type: 'TEXT_CONTENT' });
    const link = (url: string) => ({ type: 'url_citation', url_citation: { url, title: '', start_index: 0, end_index: 1 } });
    const done = assembleCompletion([
      chunk({ role: 'assistant', content: 'Paris' }),
      chunk({ citations: [cite('Paris')] }),
      chunk({ content: ' is big', citations: [cite('big')], annotations: [link('https://a.test')] }),
      chunk({ annotations: [link('https://b.test')] }, 'stop'),
    ]);
    const message = done.choices[0]!.message as Record<string, unknown>;
    expect(message.content).toBe('Paris is big');
    expect(message.citations).toEqual([cite('Paris'), cite('big')]);
    expect(message.annotations).toEqual([link('https://a.test'), link('https://b.test')]);
  });
});
