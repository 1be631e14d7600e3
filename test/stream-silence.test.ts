/**
 * A stream whose upstream goes quiet after its first token: cut after the target's `request_timeout`
 * (or the config's overall `deadline`) of silence, with an error event the SDK raises, and its upstream
 * connection closed — while a stream that is merely slow, or a client that reads slowly, is left alone.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type GatewayConfig } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureText, splitSse } from './helpers/fixtures.js';
import { sleep, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

const CHAT = '/v1/chat/completions';
const events = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
/** The fixture's whole text, and what its first four events hold. */
const textOf = (evs: string[]) =>
  evs
    .map((e) => e.replace(/^data: /, '').trim())
    .filter((d) => d.startsWith('{'))
    .map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '')
    .join('');
const WHOLE = textOf(events);
const FIRST_FOUR = textOf(events.slice(0, 4));
const ups: MockUpstream[] = [];
const apps: TestApp[] = [];
const records: Array<Record<string, any>> = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) ups.push(await startMockUpstream());
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(ups.map((u) => u.close()));
});
beforeEach(() => {
  for (const u of ups) u.reset();
  records.length = 0;
});

const target = (i: number, extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: `sk-up-${i}`, custom_host: `${ups[i]!.url}/v1`, ...extra });

async function start(config: GatewayConfig): Promise<TestApp> {
  const app = await appFactories.express5!({ config, onLog: (r) => void records.push(r as never) });
  apps.push(app);
  return app;
}


/** Reads an SDK stream; returns the text it got and the error it raised, if any. */
async function readStream(app: TestApp): Promise<{ text: string; error: unknown }> {
  const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  let text = '';
  try {
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    return { text, error: undefined };
  } catch (error) {
    return { text, error };
  }
}

describe('a stream that goes silent after its first token', () => {
  it('is cut after request_timeout of silence: the SDK raises, the text so far arrived, the upstream connection is closed', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, request_timeout: 300, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { chunks: events, stallAfter: 4 });
    const began = Date.now();
    const { text, error } = await readStream(app);
    const took = Date.now() - began;
    expect(text).toBe(FIRST_FOUR);
    expect(String(error)).toMatch(/openai sent nothing for 300 ms in the middle of the stream/);
    expect(took).toBeGreaterThanOrEqual(290);
    // Content was sent: the stream is not replayed from the fallback target.
    expect(ups[1]!.requests).toHaveLength(0);
    expect(await until(() => ups[0]!.aborted === 1)).toBe(true);
    expect(await until(() => records.length === 1)).toBe(true);
    expect(records[0]).toMatchObject({ stream: true, error: { code: 'upstream_timeout', source: 'provider' } });
  });

  it("without request_timeout, the config's overall deadline bounds the silence", async () => {
    const app = await start({ deadline: 400, targets: [target(0)] });
    ups[0]!.enqueue(CHAT, { chunks: events, stallAfter: 4 });
    const { text, error } = await readStream(app);
    expect(text).toBe(FIRST_FOUR);
    expect(String(error)).toMatch(/sent nothing for 400 ms/);
    expect(await until(() => ups[0]!.aborted === 1)).toBe(true);
  });

  it('a stream slower than the limit in total, but never silent that long, completes', async () => {
    const app = await start({ request_timeout: 300, targets: [target(0)] });
    ups[0]!.enqueue(CHAT, { chunks: events, chunkDelayMs: 100 }); // > 1 s in all, 100 ms between chunks
    const { text, error } = await readStream(app);
    expect(error).toBeUndefined();
    expect(text).toBe(WHOLE);
  });

  it('a reader that pauses longer than the limit while the upstream keeps sending gets the whole stream', async () => {
    const gateway = createGateway({ config: { request_timeout: 250, targets: [target(0)] }, logger: false, metrics: false });
    try {
      ups[0]!.enqueue(CHAT, { chunks: events, chunkDelayMs: 100 }); // 12 events: the rest arrive over ~800 ms
      const res = await gateway.handle({
        method: 'POST',
        path: CHAT,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
      });
      const body = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      const decoder = new TextDecoder();
      // Past the held-back start, so reads of the upstream are under way when the client stops reading.
      let raw = '';
      for (let i = 0; i < 4; i++) raw += decoder.decode((await body.next()).value);
      await sleep(1200); // the client does not read; the upstream, never silent 250 ms, finishes meanwhile
      for (let r = await body.next(); !r.done; r = await body.next()) raw += decoder.decode(r.value);
      expect(textOf(splitSse(raw))).toBe(WHOLE);
      expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
    } finally {
      await gateway.close(1000);
    }
  });
});
