import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/** $1 per output token, input free: the numbers below are token counts and dollars at once. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const chunk = (delta: object, extra: object = {}) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
const usageChunk = (completion: number) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [], usage: { prompt_tokens: 5, completion_tokens: completion, total_tokens: 5 + completion } })}\n\n`;
const stream = (completion: number) => [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello' }), chunk({ content: ' world' }), usageChunk(completion), 'data: [DONE]\n\n'];

let upstream: MockUpstream;
let gateway: Gateway;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(async () => {
  upstream.reset();
  await gateway?.close(500);
  gateway = createGateway({
    pricing,
    adminKey: 'k',
    config: {
      targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }],
      budget: { max_cost_per_day: 100 },
      cache: { mode: 'simple' },
    },
  });
});
afterAll(() => gateway.close(500));

const request = (body: object, signal?: AbortSignal) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: {},
  body: { model: 'budget-model', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], ...body },
  ...(signal ? { signal } : {}),
});
async function drain(body: unknown): Promise<string> {
  let text = '';
  for await (const part of body as AsyncIterable<Uint8Array>) text += new TextDecoder().decode(part);
  return text;
}
async function spent(): Promise<{ spent: number; reserved: number }> {
  const res = await gateway.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'k' } });
  return (res.body as any).budgets[0];
}

describe('budgets settle streams', () => {
  it('with the usage the stream reported', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: stream(3) });
    const res = await gateway.handle(request({ stream: true }));
    await drain(res.body);
    expect(res.trailers?.()).toEqual({ 'x-llmux-cost': '3' });
    expect(await spent()).toMatchObject({ spent: 3, reserved: 0 });
  });

  it('at the reserved worst case when the stream broke before its usage', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: stream(3), cutAfter: 3, chunkDelayMs: 30 });
    const res = await gateway.handle(request({ stream: true }));
    const text = await drain(res.body);
    expect(text).toContain('"error"');
    expect(await spent()).toMatchObject({ spent: 10, reserved: 0 });
  });

  it('at the reserved worst case when the client left mid-stream', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: stream(3), chunkDelayMs: 50 });
    const controller = new AbortController();
    const res = await gateway.handle(request({ stream: true }, controller.signal));
    const iterator = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await iterator.return?.();
    for (let i = 0; i < 50 && (await spent()).reserved > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await spent()).toMatchObject({ spent: 10, reserved: 0 });
  });

  it('charge nothing for a cache hit, which answers x-llmux-cost: 0', async () => {
    upstream.enqueue('/v1/chat/completions', {
      json: { id: 'x', object: 'chat.completion', created: 1, model: 'budget-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } },
    });
    const first = await gateway.handle(request({}));
    expect(first.headers['x-llmux-cost']).toBe('2');
    // The cache writes after the response; wait until the entry is there.
    let hit;
    for (let i = 0; i < 50; i++) {
      hit = await gateway.handle(request({}));
      if (hit.headers['x-llmux-cache'] === 'HIT') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(hit!.headers['x-llmux-cache']).toBe('HIT');
    expect(hit!.headers['x-llmux-cost']).toBe('0');
    expect(upstream.requests).toHaveLength(1);
    expect(await spent()).toMatchObject({ spent: 2, reserved: 0 });
  });
});
