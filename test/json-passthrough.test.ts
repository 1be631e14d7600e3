import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * Bodies that need no change travel as the bytes that came in (no second JSON.stringify): the
 * client's raw request body upstream, the upstream's answer back. Anything that must change still
 * goes through the objects.
 */
const CHAT = '/v1/chat/completions';
// Spacing, key order and an unknown field that re-serialising would not keep byte for byte.
const RAW_BODY = '{ "messages": [ {"role":"user", "content":"Hi"} ],\n  "model": "gpt-4o-mini", "x_vendor": {"b": 1, "a": 2} }';
const RAW_ANSWER =
  '{"id":"chatcmpl-1", "object":"chat.completion","created":1,"model":"gpt-4o-mini",\n "choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"system_fingerprint":"fp_1"}';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const post = (app: TestApp, body: string, headers: Record<string, string> = {}) =>
  fetch(`${app.gatewayURL}${CHAT}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('JSON bodies pass through unchanged when nothing changes them', () => {
  let raw: TestApp;
  let parsed: TestApp;
  let overridden: TestApp;
  beforeAll(async () => {
    const target = { provider: 'openai', api_key: 'sk-test-key', custom_host: `${upstream.url}/v1` };
    raw = await appFactories.express5!({ bodyParser: false, config: { targets: [target] } });
    parsed = await appFactories.express5!({ bodyParser: true, config: { targets: [target] } });
    overridden = await appFactories.express5!({ bodyParser: false, config: { targets: [{ ...target, override_params: { temperature: 0 } }] } });
  });
  afterAll(async () => {
    await Promise.all([raw.close(), parsed.close(), overridden.close()]);
  });

  it('sends a raw request body upstream byte for byte and relays the answer byte for byte', async () => {
    upstream.enqueue(CHAT, { body: RAW_ANSWER, headers: { 'content-type': 'application/json' } });
    const res = await post(raw, RAW_BODY);
    expect(res.status).toBe(200);
    expect(upstream.requests[0]!.text).toBe(RAW_BODY);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.text()).toBe(RAW_ANSWER);
  });

  it('relays the answer byte for byte through Koa 2 and 3 too, as JSON', async () => {
    const target = { provider: 'openai', api_key: 'sk-test-key', custom_host: `${upstream.url}/v1` };
    for (const kind of ['koa2', 'koa3']) {
      const app = await appFactories[kind]!({ bodyParser: false, config: { targets: [target] } });
      try {
        upstream.enqueue(CHAT, { body: RAW_ANSWER, headers: { 'content-type': 'application/json' } });
        const res = await post(app, RAW_BODY);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.text()).toBe(RAW_ANSWER);
      } finally {
        await app.close();
      }
    }
  });

  it('adds only the usage option to a raw stream request', async () => {
    upstream.enqueue(CHAT, { chunks: ['data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\n', 'data: [DONE]\n\n'] });
    const body = '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hi"}]}';
    const res = await post(raw, body);
    expect(await res.text()).toContain('"Hi"');
    const sent = upstream.requests[0]!;
    expect(sent.json).toEqual({ ...JSON.parse(body), stream_options: { include_usage: true } });
    expect(sent.text).toBe(body.slice(0, -1) + ',"stream_options":{"include_usage":true}}');
  });

  it('re-serialises a body that must change: override_params, a parsed body, stream: false', async () => {
    upstream.route(CHAT, { body: RAW_ANSWER, headers: { 'content-type': 'application/json' } });
    await post(overridden, RAW_BODY);
    expect(upstream.requests[0]!.json).toEqual({ ...JSON.parse(RAW_BODY), temperature: 0 });
    await post(parsed, RAW_BODY);
    expect(upstream.requests[1]!.text).toBe(JSON.stringify(JSON.parse(RAW_BODY)));
    await post(raw, RAW_BODY.replace('"model"', '"stream": false, "model"'));
    expect(upstream.requests[2]!.json).toEqual(JSON.parse(RAW_BODY));
  });

  it('serialises an answer the provider had to normalise', async () => {
    const parts = JSON.parse(RAW_ANSWER);
    parts.choices[0].message.content = [{ type: 'text', text: 'Hello' }];
    upstream.enqueue(CHAT, { body: JSON.stringify(parts), headers: { 'content-type': 'application/json' } });
    const res = await post(raw, RAW_BODY);
    expect((await res.json()).choices[0].message.content).toBe('Hello');
  });
});
