import { describe, expect, it } from 'vitest';
import { estimateInputTokens, maxOutputTokens, MEDIA_PART_TOKENS, utf8Length } from '../../src/limits/estimate.js';
import { outputOverridesOf } from '../../src/limits/output-overrides.js';
import { planOf } from '../router/helpers.js';

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
  it('takes the larger of max_completion_tokens and max_tokens, times n, else the default', () => {
    expect(maxOutputTokens({ messages: [], max_completion_tokens: 100, max_tokens: 5 }, 4096)).toBe(100);
    // Mistral and OpenAI-compatible servers may read max_tokens: the larger one is what may be written.
    expect(maxOutputTokens({ messages: [], max_completion_tokens: 1, max_tokens: 5 }, 4096)).toBe(5);
    expect(maxOutputTokens({ messages: [], max_completion_tokens: null, max_tokens: 5, n: 2 }, 4096)).toBe(10);
    expect(maxOutputTokens({ messages: [], max_tokens: 50, n: 3 }, 4096)).toBe(150);
    expect(maxOutputTokens({ messages: [] }, 4096)).toBe(4096);
    expect(maxOutputTokens({ input: 'x' }, 4096)).toBe(0);
  });

  it('without a limit, adds the thinking budget Claude targets are sent on top of the default', () => {
    expect(maxOutputTokens({ messages: [], reasoning_effort: 'high' }, 4096)).toBe(4096 + 4096);
    expect(maxOutputTokens({ messages: [], reasoning_effort: 'none' }, 4096)).toBe(4096);
    expect(maxOutputTokens({ messages: [], thinking: { type: 'enabled', budget_tokens: 10_000 } }, 4096)).toBe(14_096);
    expect(maxOutputTokens({ messages: [], thinking: { type: 'disabled' } }, 4096)).toBe(4096);
    // With a limit, the budget fits inside it (translate-request.ts): the limit is the bound.
    expect(maxOutputTokens({ messages: [], reasoning_effort: 'high', max_completion_tokens: 3000 }, 4096)).toBe(3000);
  });

  it("covers what each target's override_params send over the body, the largest of them", () => {
    const body = { messages: [], max_tokens: 1 };
    expect(maxOutputTokens(body, 4096, [{ max_tokens: 5 }])).toBe(5);
    // One target forces 5, another sends the body as it came (10): either may serve.
    expect(maxOutputTokens({ messages: [], max_tokens: 10 }, 4096, [{}, { max_tokens: 5 }])).toBe(10);
    // A target forcing a lower limit sends only that.
    expect(maxOutputTokens({ messages: [], max_tokens: 10 }, 4096, [{ max_tokens: 2 }])).toBe(2);
    // Forced beside the client's other field: both are sent, the larger may be read.
    expect(maxOutputTokens({ messages: [], max_completion_tokens: 3 }, 4096, [{ max_tokens: 7 }])).toBe(7);
    expect(maxOutputTokens({ messages: [], max_completion_tokens: 30 }, 4096, [{ max_tokens: 7 }])).toBe(30);
    expect(maxOutputTokens(body, 4096, [{ n: 4 }])).toBe(4);
    expect(maxOutputTokens({ messages: [], n: 2 }, 4096, [{ max_completion_tokens: 8 }])).toBe(16);
    // A forced null removes the client's limit: the upstream's default applies.
    expect(maxOutputTokens({ messages: [], max_tokens: 10 }, 4096, [{ max_tokens: null }])).toBe(4096);
    expect(maxOutputTokens({ input: 'x' }, 4096, [{ max_tokens: 5 }])).toBe(0);
  });
});

describe('output limits a plan forces', () => {
  it('are none for a plan whose targets override no output field, or that has no targets', () => {
    expect(outputOverridesOf(planOf({ targets: [{ provider: 'openai' }, { provider: 'anthropic', override_params: { model: 'claude-x', temperature: 0 } }] }))).toEqual([]);
    expect(outputOverridesOf(planOf({ budget: { max_cost_per_day: 1 } }))).toEqual([]);
  });

  it('list each distinct set once, with {} for targets that force none, across every branch and inherited from parents', () => {
    const plan = planOf({
      strategy: { mode: 'fallback' },
      targets: [
        { provider: 'openai' },
        { provider: 'openai', override_params: { max_tokens: 5, temperature: 1 } },
        {
          strategy: { mode: 'loadbalance' },
          override_params: { n: 2 },
          targets: [{ provider: 'mistral', override_params: { max_tokens: 5 } }, { provider: 'anthropic', override_params: { max_completion_tokens: 9 } }],
        },
        { provider: 'openai', override_params: { max_tokens: 5 } },
      ],
    });
    expect(outputOverridesOf(plan)).toEqual([{}, { max_tokens: 5 }, { n: 2, max_tokens: 5 }, { n: 2, max_completion_tokens: 9 }]);
    expect(outputOverridesOf(plan)).toBe(outputOverridesOf(plan));
    expect(maxOutputTokens({ messages: [], max_tokens: 1 }, 4096, outputOverridesOf(plan))).toBe(18);
  });
});

describe('thinking budgets a target forces', () => {
  it('reserves the thinking budget a target adds through override_params when the request sets no limit', () => {
    const body = { messages: [] };
    expect(maxOutputTokens(body, 4096, [{ reasoning_effort: 'high' }])).toBe(4096 + 4096);
    expect(maxOutputTokens(body, 4096, [{ thinking: { type: 'enabled', budget_tokens: 8000 } }, {}])).toBe(4096 + 8000);
    // A limit bounds thinking and answer together.
    expect(maxOutputTokens({ messages: [], max_tokens: 2000 }, 4096, [{ reasoning_effort: 'high' }])).toBe(2000);
  });
});
