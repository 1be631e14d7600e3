import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

for (const [name, start] of Object.entries(appFactories)) {
  describe(`OpenAI passthrough via ${name}`, () => {
    let app: TestApp;
    let client: OpenAI;
    beforeAll(async () => {
      app = await start({ config: { targets: [{ provider: 'openai', api_key: 'sk-test-upstream-key', custom_host: `${upstream.url}/v1` }] } });
      client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    });
    afterAll(() => app.close());

    it('answers a chat completion with the recorded body and the provider key', async () => {
      upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
      const res = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
      expect(res.data.choices[0]!.message.content).toBe(fixtureJson('openai/chat-completions.text.json').choices[0].message.content);
      expect(res.response.headers.get('x-llmux-provider')).toBe('openai');
      expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[0]');
      expect(res.response.headers.get('x-llmux-trace-id')).toMatch(/.+/);
      const sent = upstream.requests[0]!;
      expect(sent.headers.authorization).toBe('Bearer sk-test-upstream-key');
      expect(sent.json.model).toBe('gpt-4.1-nano');
    });

    it('streams tool calls chunk by chunk and the SDK assembles them', async () => {
      upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse')) });
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      // The gateway asked for usage to cost the stream, and strips it for a client that did not ask.
      expect(chunks.some((c) => c.usage)).toBe(false);
      expect(upstream.requests[0]!.json.stream_options).toEqual({ include_usage: true });
      const args = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.function?.arguments ?? '').join('');
      expect(() => JSON.parse(args)).not.toThrow();
    });

    it('keeps the usage chunk when the client asked for it', async () => {
      upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
      const stream = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let usage;
      let text = '';
      for await (const c of stream) {
        if (c.usage) usage = c.usage;
        text += c.choices[0]?.delta.content ?? '';
      }
      expect(usage?.total_tokens).toBeGreaterThan(0);
      expect(text.length).toBeGreaterThan(0);
    });

    it('does embeddings', async () => {
      upstream.enqueue('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
      const res = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'hello' });
      expect(res.data[0]!.embedding.length).toBeGreaterThan(10);
    });

    it('names the missing field in a 400', async () => {
      const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o' }),
      });
      expect(res.status).toBe(400);
      const body = await res.json();
      expect(body.error.param).toBe('messages');
      expect(body.error.message).toMatch(/messages/);
      expect(upstream.requests).toHaveLength(0);
    });

    it('passes unknown paths to the host app and 404s unknown gateway routes in the OpenAI shape', async () => {
      expect(await (await fetch(`${app.url}/health`)).json()).toEqual({ ok: true });
      const res = await fetch(`${app.gatewayURL}/v1/nope`);
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    });
  });
}
