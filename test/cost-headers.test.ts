import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  upstream.reset();
});

async function app(options: AppOptions = {}, provider = 'openai'): Promise<TestApp> {
  const started = await appFactories.express5!({
    config: { targets: [{ provider, api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }] },
    ...options,
  });
  apps.push(started);
  return started;
}

const dollars = (usage: Record<string, number>, model: string, providerId = 'openai') =>
  calcPrice(usage, model, { providerId })!.total_price;

describe('x-llmux-cost', () => {
  it('prices a completion from its usage with the price database', async () => {
    const recorded = fixtureJson('openai/chat-completions.text.json');
    upstream.enqueue('/v1/chat/completions', { json: recorded });
    const gateway = await app();
    const client = new OpenAI({ baseURL: `${gateway.gatewayURL}/v1`, apiKey: 'unused' });
    const { response } = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const expected = dollars({ input_tokens: recorded.usage.prompt_tokens, output_tokens: recorded.usage.completion_tokens }, recorded.model);
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
    expect(response.headers.get('x-llmux-cost')).toMatch(/^\d+\.\d+$/);
    expect(response.headers.get('x-llmux-cost-status')).toBeNull();
  });

  it('prices Anthropic answers, translated, with the Anthropic price', async () => {
    const recorded = fixtureJson('anthropic/messages.text.json');
    upstream.enqueue('/v1/messages', { json: recorded });
    const gateway = await app({}, 'anthropic');
    const res = await fetch(`${gateway.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const expected = dollars({ input_tokens: recorded.usage.input_tokens, output_tokens: recorded.usage.output_tokens }, recorded.model, 'anthropic');
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
  });

  it('prices embeddings', async () => {
    upstream.enqueue('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
    const gateway = await app();
    const client = new OpenAI({ baseURL: `${gateway.gatewayURL}/v1`, apiKey: 'unused' });
    const { data, response } = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'hello' }).withResponse();
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(dollars({ input_tokens: data.usage.prompt_tokens, output_tokens: 0 }, 'text-embedding-3-large'), 12);
  });

  it('uses the pricing option over the database', async () => {
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const gateway = await app({ pricing: { 'gpt-4.1-nano': { input: 100, output: 1000 } } });
    const res = await fetch(`${gateway.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] }),
    });
    // 16 prompt and 363 completion tokens recorded.
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo((16 * 100 + 363 * 1000) / 1e6, 10);
  });
});

describe('streams', () => {
  const recordedUsage = { input_tokens: 78, output_tokens: 9 };
  const streamBody = { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'x' }] };

  it('asks the upstream for usage, strips it for a client that did not ask, and sends the cost as a trailer', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
    const gateway = await app();
    const res = await request(`${gateway.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(streamBody),
    });
    const text = await res.body.text();
    expect(upstream.requests[0]!.json.stream_options).toEqual({ include_usage: true });
    expect(text).not.toContain('"usage":{');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(res.headers['x-llmux-cost']).toBeUndefined();
    expect(Number(res.trailers['x-llmux-cost'])).toBeCloseTo(dollars(recordedUsage, 'gpt-4o-mini-2024-07-18'), 10);
  });

  it('adds usage.cost to the usage chunk a client asked for', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
    const gateway = await app();
    const client = new OpenAI({ baseURL: `${gateway.gatewayURL}/v1`, apiKey: 'unused' });
    const stream = await client.chat.completions.create({ ...streamBody, stream: true, stream_options: { include_usage: true } } as never);
    let usage: any;
    for await (const chunk of stream as unknown as AsyncIterable<any>) if (chunk.usage) usage = chunk.usage;
    expect(usage.total_tokens).toBe(87);
    expect(usage.cost).toBeCloseTo(dollars(recordedUsage, 'gpt-4o-mini-2024-07-18'), 10);
  });
});

describe('models without a price', () => {
  const unpriced = { model: 'my-finetune-7b', messages: [{ role: 'user', content: 'hi' }] };
  const reply = { ...fixtureJson('openai/chat-completions.text.json'), model: 'my-finetune-7b' };

  it('are flagged, never counted as a silent $0, and logged once per model', async () => {
    upstream.route('/v1/chat/completions', { json: reply });
    const warnings: any[] = [];
    const gateway = await app({ logger: { info() {}, error() {}, warn: (obj: object, msg?: string) => warnings.push({ ...obj, msg }) } });
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${gateway.gatewayURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(unpriced),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-llmux-cost')).toBeNull();
      expect(res.headers.get('x-llmux-cost-status')).toBe('unpriced');
    }
    expect(warnings).toEqual([expect.objectContaining({ provider: 'openai', model: 'my-finetune-7b', msg: expect.stringContaining('no price') })]);
  });

  it('are refused before any upstream call with unpricedPolicy "reject"', async () => {
    upstream.route('/v1/chat/completions', { json: reply });
    const gateway = await app({ unpricedPolicy: 'reject' });
    const res = await fetch(`${gateway.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(unpriced),
    });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toMatchObject({ code: 'forbidden', param: 'model', message: expect.stringContaining('my-finetune-7b') });
    expect(upstream.requests).toHaveLength(0);
    const priced = await fetch(`${gateway.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...unpriced, model: 'gpt-4o-mini' }),
    });
    expect(priced.status).toBe(200);
  });
});
