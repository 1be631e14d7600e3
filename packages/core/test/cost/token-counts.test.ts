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
    ).toEqual({ input: 1000, cacheRead: 600, cacheWrite: 0, cacheWrite1h: 0, inputAudio: 0, cacheAudioRead: 0, output: 500, reasoning: 400, outputAudio: 0, webSearches: 0 });
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
      cacheWrite1h: 0,
      inputAudio: 0,
      cacheAudioRead: 0,
      output: 0,
      reasoning: 0,
      outputAudio: 0,
      webSearches: 0,
    });
  });

  it('reads 1-hour cache writes, audio (cached too) and web searches, each clamped to the part it belongs to', () => {
    const t = tokenCounts({
      prompt_tokens: 1000,
      completion_tokens: 300,
      total_tokens: 1300,
      prompt_tokens_details: { cached_tokens: 200, cache_creation_tokens: 300, cache_creation_1h_tokens: 900, audio_tokens: 400, cached_tokens_details: { audio_tokens: 250 } },
      completion_tokens_details: { reasoning_tokens: 100, audio_tokens: 500 },
      server_tool_use: { web_search_requests: 2 },
    });
    expect(t).toEqual({ input: 1000, cacheRead: 200, cacheWrite: 300, cacheWrite1h: 300, inputAudio: 400, cacheAudioRead: 200, output: 300, reasoning: 100, outputAudio: 200, webSearches: 2 });
  });
});

const none = { cacheWrite1h: 0, inputAudio: 0, cacheAudioRead: 0, outputAudio: 0, webSearches: 0 };

describe('pricing arithmetic', () => {
  it('uses separate cache and reasoning rates when given, input/output rates otherwise', () => {
    const counts = { ...none, input: 1000, cacheRead: 400, cacheWrite: 100, output: 300, reasoning: 200 };
    expect(priceTokens({ input: 2, output: 8 }, counts)).toBeCloseTo((1000 * 2 + 300 * 8) / 1e6, 12);
    expect(priceTokens({ input: 2, output: 8, cacheRead: 0.5, cacheWrite: 2.5, reasoning: 10 }, counts)).toBeCloseTo(
      (500 * 2 + 400 * 0.5 + 100 * 2.5 + 100 * 8 + 200 * 10) / 1e6,
      12,
    );
  });

  it('prices each narrower part at its own rate, falling back to the wider part\'s', () => {
    const counts = { input: 1000, cacheRead: 300, cacheWrite: 200, cacheWrite1h: 150, inputAudio: 400, cacheAudioRead: 100, output: 500, reasoning: 100, outputAudio: 200, webSearches: 0 };
    const sheet = { input: 1, output: 10, cacheRead: 0.1, cacheWrite: 1.25, cacheWrite1h: 2, inputAudio: 5, cacheAudioRead: 0.5, reasoning: 20, outputAudio: 40 };
    // Plain input: 1000 − 300 read − 200 written − 300 uncached audio = 200.
    const micro = 200 * 1 + 300 * 5 + 200 * 0.1 + 100 * 0.5 + 50 * 1.25 + 150 * 2 + 200 * 10 + 100 * 20 + 200 * 40;
    expect(priceTokens(sheet, counts)).toBeCloseTo(micro / 1e6, 12);
    // Without the narrow rates every token is plain input or output.
    expect(priceTokens({ input: 1, output: 10 }, counts)).toBeCloseTo((1000 * 1 + 500 * 10) / 1e6, 12);
    // A 1-hour write without its own rate is a cache write; cached audio without its own rate a cache read.
    expect(priceTokens({ input: 1, output: 10, cacheRead: 0.1, cacheWrite: 1.25, inputAudio: 5 }, counts)).toBeCloseTo(
      (200 * 1 + 300 * 5 + 300 * 0.1 + 200 * 1.25 + 500 * 10) / 1e6,
      12,
    );
  });

  it('adds the per-request fee and web searches, per thousand', () => {
    const counts = { ...none, input: 100, cacheRead: 0, cacheWrite: 0, output: 10, reasoning: 0, webSearches: 3 };
    expect(priceTokens({ input: 1, output: 1, requestsKcount: 12, webSearchesKcount: 10 }, counts)).toBeCloseTo(110 / 1e6 + 0.012 + 0.03, 12);
  });
});
