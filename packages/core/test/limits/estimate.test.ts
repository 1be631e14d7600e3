import { describe, expect, it } from 'vitest';
import { estimateInputTokens, maxOutputTokens, MEDIA_PART_TOKENS, utf8Length } from '../../src/limits/estimate.js';

describe('input token upper bound', () => {
  it('counts UTF-8 bytes exactly', () => {
    for (const s of ['hello', 'héllo', '日本語', 'emoji 🎉 ok', '']) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
  });

  it('never undercounts the recorded prompt tokens of real requests', () => {
    // Recorded: "Hi" style prompts bill ~10 tokens; our bound must be at least the billed count.
    const body = { model: 'gpt-4o', messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is the capital of the UK?' }] };
    expect(estimateInputTokens(body)).toBeGreaterThanOrEqual(25);
  });

  it('counts text parts, tool calls and tool definitions, and a fixed amount per image', () => {
    const body = {
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'abc' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${'A'.repeat(100_000)}` } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
    };
    const n = estimateInputTokens(body);
    expect(n).toBeGreaterThan(MEDIA_PART_TOKENS + 3);
    expect(n).toBeLessThan(MEDIA_PART_TOKENS + 500);
  });

  it('counts embeddings input', () => {
    expect(estimateInputTokens({ input: ['ab', 'cd'] })).toBe(4);
    expect(estimateInputTokens({ input: [[1, 2, 3]] })).toBe(3);
  });
});

describe('output tokens reserved', () => {
  it('takes max_completion_tokens, then max_tokens, times n, else the default', () => {
    expect(maxOutputTokens({ messages: [], max_completion_tokens: 100, max_tokens: 5 }, 4096)).toBe(100);
    expect(maxOutputTokens({ messages: [], max_tokens: 50, n: 3 }, 4096)).toBe(150);
    expect(maxOutputTokens({ messages: [] }, 4096)).toBe(4096);
    expect(maxOutputTokens({ input: 'x' }, 4096)).toBe(0);
  });
});
