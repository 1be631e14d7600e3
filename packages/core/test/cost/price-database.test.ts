import { calcPrice, extractUsage, findProvider } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { PriceBook } from '../../src/cost/price-book.js';
import { priceTokens, worstCasePrice } from '../../src/cost/price-sheet.js';
import { tokenCounts } from '../../src/cost/token-counts.js';
import type { Usage } from '../../src/providers/openai-types.js';
import { toOpenAIUsage } from '../../src/providers/anthropic/usage.js';
import { toUsage as geminiUsage } from '../../src/providers/google/usage.js';

const book = new PriceBook();

/** What the price database says the recorded response costs, reading the provider's own usage block. */
function databasePrice(providerId: string, body: unknown, flavor?: string): number {
  const { usage, model } = extractUsage(findProvider({ providerId })!, body, flavor);
  return calcPrice(usage, model!, { providerId })!.total_price;
}

function ourPrice(provider: string, model: string, usage: Usage): number {
  const sheet = book.find(provider, [model]);
  expect(sheet, `${provider}/${model} has a price`).toBeDefined();
  return priceTokens(sheet!, tokenCounts(usage));
}

describe('costs of recorded responses match the price database', () => {
  it('OpenAI chat completion', () => {
    const body = fixtureJson('openai/chat-completions.text.json');
    expect(ourPrice('openai', body.model, body.usage)).toBeCloseTo(databasePrice('openai', body, 'chat'), 12);
  });

  it('Anthropic message with thinking tokens, through the Anthropic translator', () => {
    const body = fixtureJson('anthropic/messages.thinking.json');
    const cost = ourPrice('anthropic', body.model, toOpenAIUsage(body.usage));
    expect(cost).toBeCloseTo(databasePrice('anthropic', body), 12);
    expect(cost).toBeGreaterThan(0.04);
  });

  it('Anthropic cache reads and writes are priced at their own rates', () => {
    // The recorded block of messages.text.json with a cached prefix: 12 plain, 3000 read, 1200 written.
    const body = fixtureJson('anthropic/messages.text.json');
    body.usage = { ...body.usage, cache_read_input_tokens: 3000, cache_creation_input_tokens: 1200 };
    const cost = ourPrice('anthropic', body.model, toOpenAIUsage(body.usage));
    expect(cost).toBeCloseTo(databasePrice('anthropic', body), 12);
    // Sonnet 4.5: $3 input, $0.30 cache read, $3.75 cache write, $15 output per million tokens.
    expect(cost).toBeCloseTo((12 * 3 + 3000 * 0.3 + 1200 * 3.75 + 29 * 15) / 1e6, 12);
  });

  it('Gemini thinking tokens are billed as output, through the Gemini translator', () => {
    const body = fixtureJson('gemini/generateContent.text.json');
    expect(ourPrice('google', body.modelVersion, geminiUsage(body.usageMetadata)!)).toBeCloseTo(databasePrice('google', body), 12);
  });

  it('xAI cached and reasoning tokens (reported outside completion_tokens) match xAI’s own bill', () => {
    for (const file of ['xai/chat-completions.text.json', 'xai/chat-completions.tool-call.json']) {
      const body = fixtureJson(file);
      const cost = ourPrice('xai', body.model, body.usage);
      expect(cost).toBeCloseTo(databasePrice('x-ai', body, 'chat'), 12);
      // xAI bills in ticks of 1e-10 USD.
      expect(cost).toBeCloseTo(body.usage.cost_in_usd_ticks / 1e10, 12);
    }
  });

  it('DeepSeek prompt-cache hits', () => {
    const body = fixtureJson('deepseek/chat-completions.tool-call.json');
    expect(body.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    expect(ourPrice('deepseek', body.model, body.usage)).toBeCloseTo(databasePrice('deepseek', body, 'chat'), 12);
  });

  it('long-context tiers switch the whole request to the higher rate', () => {
    const usage = (input: number): Usage => ({ prompt_tokens: input, completion_tokens: 1000, total_tokens: input + 1000 });
    for (const input of [200_000, 200_001]) {
      expect(ourPrice('google', 'gemini-2.5-pro', usage(input))).toBeCloseTo(
        calcPrice({ input_tokens: input, output_tokens: 1000 }, 'gemini-2.5-pro', { providerId: 'google' })!.total_price,
        12,
      );
    }
  });
});

describe('price book', () => {
  it('prefers the pricing option, by provider/model then model, over the database', () => {
    const own = new PriceBook({ 'gpt-4o': { input: 1, output: 2 }, 'openai/gpt-4o-mini': { input: 3, output: 4, cached_input: 0.5 } });
    expect(own.find('openai', ['gpt-4o'])).toEqual({ input: 1, output: 2 });
    expect(own.find('openai', ['gpt-4o-mini'])).toEqual({ input: 3, output: 4, cacheRead: 0.5 });
    expect(own.find('azure-openai', ['gpt-4o-mini'])).not.toEqual({ input: 3, output: 4, cacheRead: 0.5 });
  });

  it('finds nothing for unknown models and self-hosted servers, and prices the local mock at zero', () => {
    expect(book.find('openai', ['my-finetune-xyz'])).toBeUndefined();
    expect(book.find('ollama', ['llama3.1'])).toBeUndefined();
    expect(book.find('nope', ['gpt-4o'])).toBeUndefined();
    expect(book.find('mock', ['anything'])).toEqual({ input: 0, output: 0 });
  });

  it('maps llmux provider ids to the database (azure-openai, bedrock, xai)', () => {
    expect(book.find('azure-openai', ['gpt-4o'])).toBeDefined();
    expect(book.find('bedrock', ['anthropic.claude-3-5-sonnet-20240620-v1:0'])).toBeDefined();
    expect(book.find('xai', ['grok-3-mini'])).toBeDefined();
  });

  it('falls back to the next model name (the dated model reported, then the one asked for)', () => {
    const own = new PriceBook({ 'my-alias': { input: 10, output: 10 } });
    expect(own.find('openai', ['unknown-dated-name', 'my-alias'])).toEqual({ input: 10, output: 10 });
  });
});

describe('worst case', () => {
  it('prices every input token at the dearer of input and cache-write, every output at output', () => {
    const sheet = book.find('anthropic', ['claude-sonnet-4-5-20250929'])!;
    expect(worstCasePrice(sheet, 1000, 500)).toBeCloseTo((1000 * 3.75 + 500 * 15) / 1e6, 12);
  });
});
