import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, recentRequests } from '@llmux/core';
import { appFactories } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText, chatRequest, streamEvents } from './helpers/observe.js';

let up: MockUpstream;
beforeAll(async () => {
  up = await startMockUpstream();
  // A slow stream: every event 40 ms apart (about a second in all).
  up.route('/slow/v1/chat/completions', { chunks: streamEvents, chunkDelayMs: 40 });
  // A stream that never ends on its own.
  up.route('/endless/v1/chat/completions', { chunks: [...streamEvents.slice(0, 3), ...Array(1000).fill(': keep-alive\n\n')], chunkDelayMs: 50 });
});
afterAll(() => up.close());

const target = (path: string) => ({ targets: [{ provider: 'openai', api_key: 'sk-test-000000', custom_host: `${up.url}/${path}/v1` }] });
const post = (url: string, body: Record<string, unknown>) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body }),
  });

describe('graceful close()', () => {
  it('lets a stream in flight finish while new requests get 503', async () => {
    const app = await appFactories.express5!({ env: {}, config: target('slow') });
    const streaming = await post(app.gatewayURL, { stream: true });
    expect(streaming.status).toBe(200);
    const reader = streaming.body!.getReader();
    await reader.read(); // the stream is under way
    let closed = false;
    const closing = app.gateway.close(10_000).then(() => (closed = true));
    const refused = await post(app.gatewayURL, {});
    expect(refused.status).toBe(503);
    expect((await refused.json()).error).toMatchObject({ code: 'gateway_closing', type: 'gateway_error' });
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      // close() waits for the stream, not only its headers: still open while content flows.
      if (!text.includes('"finish_reason":"stop"')) expect(closed).toBe(false);
    }
    expect(text).toContain('data: [DONE]');
    await closing;
    expect(recentRequests(app.gateway).records.map((r) => r.outcome)).toEqual(['success', 'error']); // newest first
    await app.close();
  });

  it('ends streams still running at the deadline, and then resolves', async () => {
    const g = createGateway({ env: {}, config: target('endless') });
    const res = await g.handle(chatRequest({ stream: true }));
    const body = bodyText(res);
    await new Promise((r) => setTimeout(r, 100));
    await g.close(200);
    const text = await body;
    expect(text).not.toContain('[DONE]');
    expect(text).toMatch(/data: \{"error"/);
    expect(recentRequests(g).records[0]).toMatchObject({ outcome: 'stream_cut' });
  });

  it('answers 503 to direct calls after close', async () => {
    const g = createGateway({ env: {}, config: { targets: [{ provider: 'mock' }] } });
    await g.close();
    await expect(g.chat({ model: 'x', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toMatchObject({ code: 'gateway_closing', status: 503 });
    expect((await g.handle(chatRequest())).status).toBe(503);
  });
});
