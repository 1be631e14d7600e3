import { describe, expect, it } from 'vitest';
import { tokenCounts } from '../../src/cost/token-counts.js';
import { priceTokens } from '../../src/cost/price-sheet.js';

describe('token counts from OpenAI-shaped usage', () => {
  it('keeps cached tokens inside the prompt and reasoning inside the completion', () => {
    expect(
      tokenCounts({
        prompt_tokens: 1000,
        completion_tokens: 500,
        total_tokens: 1500,
        prompt_tokens_details: { cached_tokens: 600 },
        completion_tokens_details: { reasoning_tokens: 400 },
      }),
    ).toEqual({ input: 1000, cacheRead: 600, cacheWrite: 0, output: 500, reasoning: 400 });
  });

  it('adds reasoning reported outside completion_tokens (xAI), seen from total_tokens', () => {
    const t = tokenCounts({ prompt_tokens: 12, completion_tokens: 1, total_tokens: 241, completion_tokens_details: { reasoning_tokens: 228 } });
    expect(t.output).toBe(229);
  });

  it('repairs a prompt count that excluded its cached part', () => {
    const t = tokenCounts({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 315, prompt_tokens_details: { cached_tokens: 300 } });
    expect(t.input).toBe(310);
  });

  it('ignores missing, negative and non-numeric fields', () => {
    expect(tokenCounts({ prompt_tokens: -3, completion_tokens: Number.NaN, total_tokens: 0 })).toEqual({
      input: 0,
      cacheRead: 0,
      cacheWrite: 0,
      output: 0,
      reasoning: 0,
    });
  });
});

describe('pricing arithmetic', () => {
  it('uses separate cache and reasoning rates when given, input/output rates otherwise', () => {
    const counts = { input: 1000, cacheRead: 400, cacheWrite: 100, output: 300, reasoning: 200 };
    expect(priceTokens({ input: 2, output: 8 }, counts)).toBeCloseTo((1000 * 2 + 300 * 8) / 1e6, 12);
    expect(priceTokens({ input: 2, output: 8, cacheRead: 0.5, cacheWrite: 2.5, reasoning: 10 }, counts)).toBeCloseTo(
      (500 * 2 + 400 * 0.5 + 100 * 2.5 + 100 * 8 + 200 * 10) / 1e6,
      12,
    );
  });
});
