import { calcPrice, extractUsage, findProvider } from '@pydantic/genai-prices';
import { describe, expect, it, vi } from 'vitest';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { PriceBook } from '../../src/cost/price-book.js';
import { createGateway } from '../../src/index.js';
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

  it('Anthropic 1-hour cache writes and web searches, through the Anthropic translator', () => {
    const body = fixtureJson('anthropic/messages.text.json');
    body.usage = {
      ...body.usage,
      cache_read_input_tokens: 3000,
      cache_creation_input_tokens: 2000,
      cache_creation: { ephemeral_5m_input_tokens: 500, ephemeral_1h_input_tokens: 1500 },
      server_tool_use: { web_search_requests: 3 },
    };
    const cost = ourPrice('anthropic', body.model, toOpenAIUsage(body.usage));
    expect(cost).toBeCloseTo(databasePrice('anthropic', body), 12);
    // Sonnet 4.5: $3 input, $0.30 read, $3.75 5-minute write, $6 1-hour write, $15 output per MTok; $10 per 1000 searches.
    expect(cost).toBeCloseTo((12 * 3 + 3000 * 0.3 + 500 * 3.75 + 1500 * 6 + 29 * 15) / 1e6 + 3 * 0.01, 12);
  });

  it('Gemini audio input, cached audio included, through the Gemini translator', () => {
    const body = fixtureJson('gemini/generateContent.text.json');
    body.modelVersion = 'gemini-2.5-flash';
    body.usageMetadata = {
      promptTokenCount: 3000,
      candidatesTokenCount: 100,
      totalTokenCount: 3100,
      cachedContentTokenCount: 1500,
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: 1000 }, { modality: 'AUDIO', tokenCount: 2000 }],
      cacheTokensDetails: [{ modality: 'TEXT', tokenCount: 500 }, { modality: 'AUDIO', tokenCount: 1000 }],
    };
    const cost = ourPrice('google', body.modelVersion, geminiUsage(body.usageMetadata)!);
    expect(cost).toBeCloseTo(databasePrice('google', body), 12);
    // gemini-2.5-flash per MTok: text $0.30 (cached $0.03), audio $1 (cached $0.10), output $2.50.
    expect(cost).toBeCloseTo((500 * 0.3 + 1000 * 1 + 500 * 0.03 + 1000 * 0.1 + 100 * 2.5) / 1e6, 12);
  });

  it('OpenAI audio tokens in and out', () => {
    const usage = {
      prompt_tokens: 1000,
      completion_tokens: 400,
      total_tokens: 1400,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 600 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 300 },
    };
    expect(ourPrice('openai', 'gpt-audio', usage)).toBeCloseTo(databasePrice('openai', { model: 'gpt-audio', usage }, 'chat'), 12);
  });

  it('Perplexity’s per-request fee', () => {
    const usage = { prompt_tokens: 16, completion_tokens: 363, total_tokens: 379 };
    expect(ourPrice('perplexity', 'sonar', usage)).toBeCloseTo(databasePrice('perplexity', { model: 'sonar', usage }), 12);
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

describe('the arithmetic matches the price database’s own engine', () => {
  /** A small deterministic generator, so a failure replays. */
  function random(seed: number): (max: number) => number {
    let x = seed;
    return (max) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return max <= 0 ? 0 : x % (max + 1);
    };
  }

  it.each([
    ['anthropic', 'claude-sonnet-4-5'],
    ['google', 'gemini-2.5-flash'],
    ['google', 'gemini-2.5-pro'],
    ['openai', 'gpt-realtime'],
    ['openai', 'o3-mini'],
    ['perplexity', 'sonar'],
  ])('%s/%s, for consistent usages of every part', (provider, model) => {
    const sheet = book.find(provider, [model])!;
    const rand = random(model.length);
    for (let i = 0; i < 200; i++) {
      const input = rand(300_000);
      const cacheRead = rand(input / 3);
      const cacheWrite = rand(input / 3);
      const cacheAudioRead = rand(cacheRead);
      const output = rand(20_000);
      const reasoning = rand(output / 2);
      const t = {
        input,
        cacheRead,
        cacheWrite,
        cacheWrite1h: rand(cacheWrite),
        inputAudio: cacheAudioRead + rand(input - cacheRead - cacheWrite),
        cacheAudioRead,
        output,
        reasoning,
        outputAudio: rand(output - reasoning),
        webSearches: rand(5),
      };
      const usage = {
        input_tokens: t.input,
        cache_read_tokens: t.cacheRead,
        cache_write_tokens: t.cacheWrite,
        cache_write_1h_tokens: t.cacheWrite1h,
        input_audio_tokens: t.inputAudio,
        cache_audio_read_tokens: t.cacheAudioRead,
        output_tokens: t.output,
        output_reasoning_tokens: t.reasoning,
        output_audio_tokens: t.outputAudio,
        web_searches: t.webSearches,
      };
      const expected = calcPrice(usage, model, { providerId: provider })!.total_price;
      expect(priceTokens(sheet, t), JSON.stringify(t)).toBeCloseTo(expected, 9);
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

  it('takes every rate the database has from the pricing option: 1-hour cache writes, audio, request and search fees', () => {
    const own = new PriceBook({
      'my-model': {
        input: 1,
        output: 4,
        cached_input: 0.1,
        cache_write: 1.25,
        cache_write_1h: 2,
        reasoning: 5,
        input_audio: 3,
        cached_input_audio: 0.3,
        output_audio: 8,
        per_request: 0.005,
        per_web_search: 0.01,
      },
    });
    const sheet = own.find('openai', ['my-model'])!;
    // 100 plain input, 200 cache reads (50 of them audio), 300 cache writes (120 for an hour), 40 audio in;
    // 60 output of which 10 reasoning and 20 audio; 2 web searches.
    const usage = {
      prompt_tokens: 640,
      completion_tokens: 60,
      total_tokens: 700,
      prompt_tokens_details: { cached_tokens: 200, cached_tokens_details: { audio_tokens: 50 }, cache_creation_tokens: 300, cache_creation_1h_tokens: 120, audio_tokens: 90 },
      completion_tokens_details: { reasoning_tokens: 10, audio_tokens: 20 },
      server_tool_use: { web_search_requests: 2 },
    } as Usage;
    const t = tokenCounts(usage);
    const expected =
      (100 * 1 + 40 * 3 + 150 * 0.1 + 50 * 0.3 + 180 * 1.25 + 120 * 2 + 30 * 4 + 10 * 5 + 20 * 8) / 1e6 + 0.005 + 2 * 0.01;
    expect(priceTokens(sheet, t)).toBeCloseTo(expected, 12);
  });

  it('refuses a pricing entry with a misspelt or negative rate, naming it', () => {
    expect(() => createGateway({ pricing: { m: { input: 1, output: 1, cache_read: 1 } as never } })).toThrow('options.pricing.m: Unrecognized key: "cache_read"');
    expect(() => createGateway({ pricing: { m: { input: 1, output: 1, per_request: -1 } } })).toThrow('options.pricing.m.per_request');
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
  it('prices every input token at the dearest input rate (a 1-hour cache write at Anthropic), every output at output', () => {
    const sheet = book.find('anthropic', ['claude-sonnet-4-5-20250929'])!;
    // Sonnet 4.5: input $3, 5-minute write $3.75, 1-hour write $6, output $15 per million tokens.
    expect(worstCasePrice(sheet, 1000, 500)).toBeCloseTo((1000 * 6 + 500 * 15) / 1e6, 12);
    // Each web search its tools allow: $10 per thousand.
    expect(worstCasePrice(sheet, 1000, 500, 5)).toBeCloseTo((1000 * 6 + 500 * 15) / 1e6 + 5 * 0.01, 12);
  });

  it('covers audio input and the per-request fee', () => {
    // gemini-2.5-flash: text $0.30, audio $1 per million input tokens, output $2.50.
    expect(worstCasePrice(book.find('google', ['gemini-2.5-flash'])!, 1000, 100)).toBeCloseTo((1000 * 1 + 100 * 2.5) / 1e6, 12);
    // Perplexity sonar: $1 / $1 per million tokens and $12 per thousand requests.
    expect(worstCasePrice(book.find('perplexity', ['sonar'])!, 1000, 100)).toBeCloseTo(1100 / 1e6 + 0.012, 12);
  });

  it('is never below the price of any usage within its bounds', () => {
    const cases: Array<[string, string, Usage]> = [
      ['anthropic', 'claude-sonnet-4-5', toOpenAIUsage({ input_tokens: 10, cache_creation_input_tokens: 990, cache_creation: { ephemeral_1h_input_tokens: 990 }, output_tokens: 500, server_tool_use: { web_search_requests: 2 } })],
      ['google', 'gemini-2.5-flash', geminiUsage({ promptTokenCount: 1000, candidatesTokenCount: 500, promptTokensDetails: [{ modality: 'AUDIO', tokenCount: 1000 }] })!],
      ['perplexity', 'sonar', { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 }],
    ];
    for (const [provider, model, usage] of cases) {
      expect(worstCasePrice(book.find(provider, [model])!, 1000, 500, 2)).toBeGreaterThanOrEqual(ourPrice(provider, model, usage));
    }
  });
});

describe('prices that change with the time of day', () => {
  it('a repeated model keeps its sheet within the minute, and is looked up again after it (DeepSeek off-peak)', () => {
    vi.useFakeTimers();
    try {
      const own = new PriceBook();
      vi.setSystemTime(new Date('2025-01-10T16:29:30Z')); // peak: $0.27/M input
      expect(own.find('deepseek', ['deepseek-chat'])!.input).toBeCloseTo(0.27, 9);
      vi.setSystemTime(new Date('2025-01-10T16:30:10Z')); // off-peak began, but the sheet is under a minute old
      expect(own.find('deepseek', ['deepseek-chat'])!.input).toBeCloseTo(0.27, 9);
      vi.setSystemTime(new Date('2025-01-10T16:30:31Z'));
      expect(own.find('deepseek', ['deepseek-chat'])!.input).toBeCloseTo(0.135, 9);
      // Another model in between must not leave the first one's sheet behind.
      expect(own.find('openai', ['gpt-4o-mini'])!.input).toBeCloseTo(0.15, 9);
      expect(own.find('deepseek', ['deepseek-chat'])!.input).toBeCloseTo(0.135, 9);
    } finally {
      vi.useRealTimers();
    }
  });
});
