import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GatewayContext } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { readUntil } from './helpers/read-until.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * One suite, every adapter (express 4/5, koa 2/3, nestjs with and without a global prefix), each
 * both behind the host app's JSON body parser and reading the raw body itself.
 */
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const LIMIT = 1024 * 1024;
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const STREAM_TEXT = STREAM.map((e) => e.match(/"content":"([^"]*)"/)?.[1] ?? '').join('');
const hi = [{ role: 'user' as const, content: 'héllo ✓ 日本' }];

const post = (url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(url, { method: 'POST', headers, body });

/** The upstream sends role and first words, then waits 5 s before the rest: long past every assertion. */
function enqueueSlowStream(): void {
  upstream.enqueue('/v1/chat/completions', { chunks: [STREAM[0]! + STREAM[1]!, ...STREAM.slice(2)], chunkDelayMs: 5000 });
}

for (const [name, start] of Object.entries(appFactories)) {
  describe(`${name} adapter`, () => {
    const apps = {} as Record<'parsed' | 'raw', TestApp>;
    /** What each request's pipeline saw as its identity. */
    const identities: GatewayContext[] = [];
    beforeAll(async () => {
      const options: AppOptions = {
        config: { targets: [{ provider: 'openai', api_key: 'sk-test-upstream-key', custom_host: `${upstream.url}/v1` }] },
        bodyLimit: '1mb',
        limits: { maxBodyBytes: LIMIT },
        // Express and Nest hand over their request, Koa its context (which has `state`).
        identify: (r: any) => ({ user: r.headers['x-test-user'], from: 'state' in r ? 'koa-context' : 'request' }),
      };
      [apps.parsed, apps.raw] = await Promise.all([start(options), start({ ...options, bodyParser: false })]);
      for (const app of Object.values(apps)) app.gateway.internals.stages.unshift({ name: 'probe', before: (state) => void identities.push(state.identity) });
    });
    afterAll(() => Promise.all([apps.parsed?.close(), apps.raw?.close()]));

    for (const mode of ['parsed', 'raw'] as const) {
      describe(mode === 'parsed' ? 'behind the host body parser' : 'reading the raw body', () => {
        const app = () => apps[mode];
        const sdk = () => new OpenAI({ baseURL: `${app().gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });

        it('serves the openai SDK: chat, streamed chat and embeddings', async () => {
          const completion = fixtureJson('openai/chat-completions.text.json');
          upstream.enqueue('/v1/chat/completions', { json: completion });
          const chat = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
          expect(chat.choices[0]!.message.content).toBe(completion.choices[0].message.content);
          expect(upstream.requests[0]!.json.messages).toEqual(hi);

          upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
          const { data: stream, response } = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true }).withResponse();
          expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
          expect(response.headers.get('x-llmux-trace-id')).toMatch(/.+/);
          let text = '';
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
          expect(text).toBe(STREAM_TEXT);

          upstream.enqueue('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
          const embeddings = await sdk().embeddings.create({ model: 'text-embedding-3-large', input: 'hello' });
          expect(embeddings.data[0]!.embedding.length).toBeGreaterThan(10);
        });

        it('delivers the first SSE chunk while the upstream is still waiting', async () => {
          enqueueSlowStream();
          const res = await post(`${app().gatewayURL}/v1/chat/completions`, JSON.stringify({ model: 'gpt-4o-mini', messages: hi, stream: true }));
          const { received, reader } = await readUntil(res, '"content":"The"');
          await reader.cancel();
          // The upstream connection was still open when the client left: it had not finished.
          await vi.waitFor(() => expect(upstream.aborted).toBe(1));
          expect(received).not.toContain('[DONE]');
        });

        it('closes the upstream connection when the client aborts mid-stream', async () => {
          enqueueSlowStream();
          const stream = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true });
          for await (const chunk of stream) if (chunk.choices[0]?.delta.content) break; // `break` aborts the request
          await vi.waitFor(() => expect(upstream.aborted).toBe(1));
          expect(upstream.requests).toHaveLength(1);
        });

        it("keeps the host app's own routes working", async () => {
          expect(await (await fetch(`${app().url}/health`)).json()).toEqual({ ok: true });
          const echo = await post(`${app().url}/echo`, JSON.stringify({ a: 1 }));
          expect(echo.status).toBe(200);
          expect(await echo.json()).toEqual({ body: mode === 'parsed' ? { a: 1 } : null });
          expect(upstream.requests).toHaveLength(0);
        });

        it.each([
          ['a missing model', { messages: hi }, 'model'],
          ['missing messages', { model: 'gpt-4o' }, 'messages'],
          ['a model that is not a string', { model: 42, messages: hi }, 'model'],
          ['messages that are not an array', { model: 'gpt-4o', messages: 'hi' }, 'messages'],
          ['a temperature that is not a number', { model: 'gpt-4o', messages: hi, temperature: 'hot' }, 'temperature'],
          ['a body that is not an object', [{ model: 'gpt-4o' }], 'body'],
        ])('answers %s with a 400 naming the field', async (_case, body, param) => {
          const res = await post(`${app().gatewayURL}/v1/chat/completions`, JSON.stringify(body));
          expect(res.status).toBe(400);
          const { error } = await res.json();
          expect(error.param).toBe(param);
          expect(error.message).toContain(param);
          expect(upstream.requests).toHaveLength(0);
        });

        it('answers invalid JSON with a 400', async () => {
          const res = await post(`${app().gatewayURL}/v1/chat/completions`, '{"model": "gpt-4o", ');
          expect(res.status).toBe(400);
          // Behind a body parser the host's parser refuses it first, in the host's own format.
          if (mode === 'raw') expect((await res.json()).error).toMatchObject({ code: 'invalid_json', param: 'body' });
          expect(upstream.requests).toHaveLength(0);
        });

        it('refuses a body over the limit with a 413', async () => {
          const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(LIMIT + 1000) }] });
          const res = await post(`${app().gatewayURL}/v1/chat/completions`, body);
          expect(res.status).toBe(413);
          if (mode === 'raw') expect((await res.json()).error.code).toBe('payload_too_large');
          expect(upstream.requests).toHaveLength(0);
        });

        it('answers unknown gateway routes with a JSON 404', async () => {
          for (const res of [await fetch(`${app().gatewayURL}/v1/nope`), await post(`${app().gatewayURL}/nope`, '{}')]) {
            expect(res.status).toBe(404);
            expect(res.headers.get('content-type')).toMatch(/^application\/json/);
            expect((await res.json()).error.code).toBe('not_found');
          }
        });
      });
    }

    it("hands identify the framework's own request and passes its answer to the pipeline", async () => {
      identities.length = 0;
      upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
      const res = await post(`${apps.parsed.gatewayURL}/v1/chat/completions`, JSON.stringify({ model: 'gpt-4o', messages: hi }), {
        'content-type': 'application/json',
        'x-test-user': 'u-42',
      });
      expect(res.status).toBe(200);
      expect(identities).toEqual([{ user: 'u-42', from: name.startsWith('koa') ? 'koa-context' : 'request' }]);
    });

    it('gives identical results for pre-parsed and raw bodies', async () => {
      const body = JSON.stringify({ model: 'gpt-4o-mini', messages: hi, temperature: 0.2, user: 'u-1', some_new_param: { x: [1, 'ü'] } });
      const results = [];
      for (const app of [apps.parsed, apps.raw]) {
        upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
        const res = await post(`${app.gatewayURL}/v1/chat/completions`, body);
        upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
        const streamed = await post(`${app.gatewayURL}/v1/chat/completions`, body.replace('{', '{"stream":true,'));
        const invalid = await post(`${app.gatewayURL}/v1/chat/completions`, JSON.stringify({ model: 'gpt-4o-mini' }));
        results.push({ status: res.status, json: await res.json(), stream: await streamed.text(), invalid: await invalid.json() });
      }
      expect(results[0]).toEqual(results[1]);
      const [parsedChat, parsedStream, rawChat, rawStream] = upstream.requests;
      expect(parsedChat!.text).toBe(rawChat!.text);
      expect(parsedStream!.text).toBe(rawStream!.text);
      expect(rawChat!.json.some_new_param).toEqual({ x: [1, 'ü'] });
    });
  });
}
