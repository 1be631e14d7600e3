/**
 * What a cache hit hands back, compared with the answer that was stored, across request variants:
 * stream ↔ non-stream conversions, /v1/messages passthrough answers replayed for the Anthropic SDK,
 * and request variants that must not share one entry. Adversarial review; bugs are marked.
 */
import Anthropic from '@anthropic-ai/sdk';
import Keyv from 'keyv';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const CHAT = '/v1/chat/completions';
const MESSAGES = '/v1/messages';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

async function start(config: GatewayConfig, options: AppOptions = {}) {
  const app = await appFactories.express5!({ config, ...options });
  apps.push(app);
  return {
    app,
    openai: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 }),
  };
}

const cached = (provider: string, path = '/v1') =>
  ({ cache: { mode: 'simple' }, targets: [{ provider, api_key: 'sk-test-upstream', custom_host: `${upstream.url}${path}` }] }) as GatewayConfig;

const post = (app: TestApp, path: string, body: unknown) =>
  fetch(`${app.gatewayURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });

const sse = (chunks: object[]) => [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
const head = { id: 'chatcmpl-replay', object: 'chat.completion.chunk', created: 1782955818, model: 'gpt-4o-mini-2024-07-18' };

/** Anthropic SSE text → its events, in order. */
const eventsOf = (text: string) =>
  text
    .split('\n\n')
    .filter((e) => e.trim())
    .map((e) => JSON.parse(e.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as { type: string; index?: number; [k: string]: unknown });

/**
 * What an Anthropic answer says, without the fields a gateway may legitimately change. A rebuilt
 * `tool_use` block always says `caller: {type: "direct"}` (the SDK's types require it; answers recorded
 * before the API sent it lack it), so the gist adds it where missing.
 */
const gist = (m: Anthropic.Message) => ({
  content: m.content.map((b) => (b.type === 'tool_use' && !('caller' in b) ? { ...(b as object), caller: { type: 'direct' } } : b)),
  stop_reason: m.stop_reason,
  stop_sequence: m.stop_sequence ?? null,
  input_tokens: m.usage.input_tokens,
  output_tokens: m.usage.output_tokens,
});

describe('works', () => {
  it('/v1/messages passthrough answers come back whole and well-formed from a hit, stream and non-stream, stored either way', async () => {
    for (const fixture of ['messages.text.stream.sse', 'messages.thinking.stream.sse', 'messages.redacted-thinking.stream.sse', 'messages.text.json', 'messages.thinking.json', 'messages.tool-use.json']) {
      const { app, anthropic } = await start(cached('anthropic'));
      upstream.reset();
      upstream.route(MESSAGES, fixture.endsWith('.sse') ? { chunks: splitSse(fixtureText(`anthropic/${fixture}`)) } : { json: fixtureJson(`anthropic/${fixture}`) });
      const body = { model: 'claude-sonnet-4-5', max_tokens: 3000, messages: [{ role: 'user' as const, content: `replay ${fixture}` }] };
      const live = fixture.endsWith('.sse') ? await anthropic.messages.stream(body).finalMessage() : await anthropic.messages.create(body);
      const streamHit = anthropic.messages.stream(body);
      const replayed = await streamHit.finalMessage();
      expect((await streamHit.withResponse()).response.headers.get('x-llmux-cache'), fixture).toBe('HIT');
      const plainHit = await anthropic.messages.create(body).withResponse();
      expect(plainHit.response.headers.get('x-llmux-cache'), fixture).toBe('HIT');
      expect(upstream.requests).toHaveLength(1);
      expect(gist(replayed), fixture).toEqual(gist(live));
      expect(gist(plainHit.data), fixture).toEqual(gist(live));

      // On the wire: message_start … content blocks (start, deltas, stop, indexes in order) … message_delta, message_stop.
      const raw = await anthropic.messages.create({ ...body, stream: true }).asResponse();
      expect(raw.headers.get('x-llmux-cache')).toBe('HIT');
      expect(raw.headers.get('x-llmux-cost')).toBe('0');
      const events = eventsOf(await raw.text());
      expect(events[0]!.type).toBe('message_start');
      expect(events.at(-2)!.type).toBe('message_delta');
      expect(events.at(-1)!.type).toBe('message_stop');
      let open: number | undefined;
      let next = 0;
      for (const e of events.slice(1, -2)) {
        if (e.type === 'content_block_start') {
          expect(open).toBeUndefined();
          expect(e.index).toBe(next++);
          open = e.index;
        } else if (e.type === 'content_block_delta') expect(e.index).toBe(open);
        else if (e.type === 'content_block_stop') {
          expect(e.index).toBe(open);
          open = undefined;
        } else expect(e.type).toBe('ping');
      }
      expect(next).toBe(live.content.length);
      await app.close();
    }
  });

  it('n=2 with a "length" choice: a stored stream answers a non-stream request, and a stream with usage only when asked, closed by [DONE]', async () => {
    const { app, openai } = await start(cached('openai'));
    upstream.route(CHAT, {
      chunks: sse([
        { ...head, choices: [0, 1].map((index) => ({ index, delta: { role: 'assistant', content: '' }, finish_reason: null })) },
        { ...head, choices: [{ index: 0, delta: { content: 'Red' }, finish_reason: null }] },
        { ...head, choices: [{ index: 1, delta: { content: 'Blue' }, finish_reason: null }] },
        { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
        { ...head, choices: [{ index: 1, delta: { content: ' sky' }, finish_reason: null }] },
        { ...head, choices: [{ index: 1, delta: {}, finish_reason: 'length' }] },
        { ...head, choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } },
      ]),
    });
    const body = { model: 'gpt-4o-mini', n: 2, messages: [{ role: 'user' as const, content: 'A colour?' }] };
    for await (const _ of await openai.chat.completions.create({ ...body, stream: true })) void _;
    const hit = await openai.chat.completions.create(body).withResponse();
    expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(hit.data.choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'Red', 'stop'],
      [1, 'Blue sky', 'length'],
    ]);
    expect(hit.data.usage?.total_tokens).toBe(8);

    for (const include_usage of [true, false]) {
      const res = await post(app, CHAT, { ...body, stream: true, stream_options: { include_usage } });
      expect(res.headers.get('x-llmux-cache')).toBe('HIT');
      const events = (await res.text()).split('\n\n').filter(Boolean);
      expect(events.at(-1)).toBe('data: [DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as OpenAI.ChatCompletionChunk);
      expect(chunks.filter((c) => c.usage).map((c) => c.usage)).toEqual(include_usage ? [{ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8, cost: 0 }] : []);
      expect(chunks.flatMap((c) => c.choices.filter((ch) => ch.finish_reason).map((ch) => [ch.index, ch.finish_reason]))).toEqual([
        [0, 'stop'],
        [1, 'length'],
      ]);
    }
    expect(upstream.requests).toHaveLength(1);
  });

  it("a stored stream holds each chunk as the upstream's own text, and a hit replays the chunks the client got live", async () => {
    // Recorded OpenAI streams (text; tool call) and one written with spaces and escapes, as some
    // OpenAI-compatible servers write their JSON: the entry keeps the texts the client was sent.
    const spaced = [
      '{"id": "chatcmpl-sp", "object": "chat.completion.chunk", "created": 1782955818, "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}',
      '{"id": "chatcmpl-sp", "object": "chat.completion.chunk", "created": 1782955818, "model": "m", "choices": [{"index": 0, "delta": {"content": "h\\u00e9llo \\"w\\u00f6rld\\" \\ud83d\\ude00"}, "finish_reason": null}]}',
      '{"id": "chatcmpl-sp", "object": "chat.completion.chunk", "created": 1782955818, "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}',
      '{"id": "chatcmpl-sp", "object": "chat.completion.chunk", "created": 1782955818, "model": "m", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}}',
    ];
    const streams: Array<[string, string[]]> = [
      ['openai/chat-completions.text.stream-include-usage.sse', splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'))],
      ['openai/chat-completions.tool-call.stream-include-usage.sse', splitSse(fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse'))],
      ['spaced', [...spaced.map((d) => `data: ${d}\n\n`), 'data: [DONE]\n\n']],
    ];
    for (const [name, chunks] of streams) {
      const entries = new Map<string, string>();
      const { openai } = await start({ ...cached('openai'), cache: { mode: 'simple' } }, { cache: { store: new Keyv({ store: entries }) } });
      upstream.reset();
      upstream.route(CHAT, { chunks });
      const body = { model: 'gpt-4o-mini', stream: true as const, stream_options: { include_usage: true }, messages: [{ role: 'user' as const, content: `fidelity ${name}` }] };
      const live: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of await openai.chat.completions.create(body)) live.push(c);
      const hit = await openai.chat.completions.create(body).withResponse();
      expect(hit.response.headers.get('x-llmux-cache'), name).toBe('HIT');
      const replayed: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of hit.data) replayed.push(c);
      // A hit costs nothing: its usage says so; everything else is the live stream's.
      const withoutCost = (cs: OpenAI.ChatCompletionChunk[]) => cs.map((c) => (c.usage ? { ...c, usage: { ...c.usage, cost: undefined } } : c));
      expect(withoutCost(replayed), name).toEqual(withoutCost(live));
      expect(upstream.requests, name).toHaveLength(1);

      // The entry: each data line of the upstream's stream, as it was sent, inside it.
      const stored = [...entries.values()].map((v) => (JSON.parse(v) as { value: string }).value);
      expect(stored, name).toHaveLength(1);
      const sent = chunks.flatMap((c) => c.split('\n')).filter((l) => l.startsWith('data: {')).map((l) => l.slice(6));
      expect(sent.length, name).toBeGreaterThan(2);
      for (const text of sent) expect(stored[0], name).toContain(text);
    }
  });

  it('/v1/chat/completions and /v1/messages with the same prompt share one entry, each answered in its own shape', async () => {
    // (Sent without the SDK: @anthropic-ai/sdk pins its own `anthropic-version`, which keys its requests apart, as documented.)
    const { app, openai } = await start(cached('anthropic'));
    upstream.route(MESSAGES, { json: fixtureJson('anthropic/messages.text.json') });
    const stored = (await (await post(app, MESSAGES, { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'How are you?' }] })).json()) as Anthropic.Message;
    const chat = await openai.chat.completions
      .create({ model: 'claude-sonnet-4-5', max_completion_tokens: 100, messages: [{ role: 'user', content: 'How are you?' }] })
      .withResponse();
    expect(chat.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(chat.data.object).toBe('chat.completion');
    expect(chat.data.choices[0]!.message.content).toBe((stored.content[0] as Anthropic.TextBlock).text);
    expect(chat.data.choices[0]!.finish_reason).toBe('stop');
    expect(chat.data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 29 });
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('fixed bugs (each test failed before its fix)', () => {
  const GEMINI_TOOLS = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }];
  const signatureOf = (holder: unknown) => (holder as { extra_content?: { google?: { thought_signature?: string } } } | undefined)?.extra_content?.google?.thought_signature;

  it("Gemini 3's thought signature on a tool call survives a hit converted between stream and non-stream", async () => {
    // BUG: a Gemini 3 tool call carries its thought signature as `tool_calls[].extra_content.google.thought_signature`
    // (which the client must echo back next turn). A hit that converts the stored answer between stream and
    // non-stream drops it both ways: the live answer has it, the hit has a bare tool call, so the next turn goes to
    // Gemini without the model's signed reasoning (the gateway then sends Google's "skip validator" stand-in).
    // docs/caching.md promises reasoning "and its signed thinking blocks … carried across".
    // Cause: packages/core/src/stream/assemble.ts:75-80 (`assembleCompletion` builds each call from id/name/arguments
    // only, never `extra_content`; nor does it keep a message-level `delta.extra_content`) and assemble.ts:143
    // (`completionToChunks` emits tool calls without `extra_content`).
    const { openai } = await start(cached('google', '/v1beta'));
    upstream.route('/v1beta/models/gemini-3-pro-preview:generateContent', { json: fixtureJson('gemini/generateContent.tool-call.json') });
    upstream.route('/v1beta/models/gemini-3-pro-preview:streamGenerateContent', { chunks: splitSse(fixtureText('gemini/streamGenerateContent.tool-call.sse')) });

    // Stored as a completion, asked as a stream.
    const a = { model: 'gemini-3-pro-preview', tools: GEMINI_TOOLS, messages: [{ role: 'user' as const, content: 'Weather in San Francisco?' }] };
    const first = await openai.chat.completions.create(a);
    const signature = signatureOf(first.choices[0]!.message.tool_calls![0]);
    expect(signature).toMatch(/^EskgCsYg/);
    const streamHit = await openai.chat.completions.create({ ...a, stream: true }).withResponse();
    expect(streamHit.response.headers.get('x-llmux-cache')).toBe('HIT');
    const deltas: unknown[] = [];
    for await (const c of streamHit.data) deltas.push(...(c.choices[0]?.delta.tool_calls ?? []));
    expect(deltas.map(signatureOf).filter(Boolean)).toEqual([signature]);

    // Stored as a stream, asked without one.
    const b = { model: 'gemini-3-pro-preview', tools: GEMINI_TOOLS, messages: [{ role: 'user' as const, content: 'Which country?' }] };
    const liveDeltas: unknown[] = [];
    for await (const c of await openai.chat.completions.create({ ...b, stream: true })) liveDeltas.push(...(c.choices[0]?.delta.tool_calls ?? []));
    const streamed = liveDeltas.map(signatureOf).find(Boolean);
    expect(streamed).toMatch(/^EpwICpkI/);
    const plainHit = await openai.chat.completions.create(b).withResponse();
    expect(plainHit.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(signatureOf(plainHit.data.choices[0]!.message.tool_calls![0])).toBe(streamed);
    expect(upstream.requests).toHaveLength(2);
  });

  it('a legacy `function_call` answer survives a hit converted between stream and non-stream', async () => {
    // BUG: an answer to a request with (deprecated, still served) `functions` is `message.function_call`, streamed as
    // `delta.function_call` fragments. A hit converted between modes drops it: the client gets `content: null`, no
    // function call, and `finish_reason: "function_call"` — an empty answer, served from the cache on every repeat.
    // Cause: packages/core/src/stream/assemble.ts:60-84 (`assembleCompletion` never reads `delta.function_call`) and
    // assemble.ts:111-149 (`completionToChunks` never emits `message.function_call`).
    const { openai } = await start(cached('openai'));
    const functions = [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];
    const call = { name: 'get_weather', arguments: '{"city":"Paris"}' };

    upstream.enqueue(CHAT, {
      json: {
        id: 'chatcmpl-fc',
        object: 'chat.completion',
        created: 1782955818,
        model: 'gpt-4o-mini-2024-07-18',
        choices: [{ index: 0, message: { role: 'assistant', content: null, function_call: call }, finish_reason: 'function_call', logprobs: null }],
        usage: { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49 },
      },
    });
    const a = { model: 'gpt-4o-mini', functions, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }] };
    expect((await openai.chat.completions.create(a)).choices[0]!.message.function_call).toEqual(call);
    const streamHit = await openai.chat.completions.create({ ...a, stream: true }).withResponse();
    expect(streamHit.response.headers.get('x-llmux-cache')).toBe('HIT');
    const assembled = { name: '', arguments: '' };
    for await (const c of streamHit.data) {
      const f = c.choices[0]?.delta.function_call;
      assembled.name += f?.name ?? '';
      assembled.arguments += f?.arguments ?? '';
    }
    expect(assembled).toEqual(call);

    upstream.enqueue(CHAT, {
      chunks: sse([
        { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '' } }, finish_reason: null }] },
        { ...head, choices: [{ index: 0, delta: { function_call: { arguments: '{"city":' } }, finish_reason: null }] },
        { ...head, choices: [{ index: 0, delta: { function_call: { arguments: '"Paris"}' } }, finish_reason: null }] },
        { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'function_call' }] },
        { ...head, choices: [], usage: { prompt_tokens: 40, completion_tokens: 9, total_tokens: 49 } },
      ]),
    });
    const b = { model: 'gpt-4o-mini', functions, messages: [{ role: 'user' as const, content: 'And in Paris today?' }] };
    for await (const _ of await openai.chat.completions.create({ ...b, stream: true })) void _;
    const plainHit = await openai.chat.completions.create(b).withResponse();
    expect(plainHit.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(plainHit.data.choices[0]!.message.function_call).toEqual(call);
  });

  it('an audio answer (modalities: ["text", "audio"]) stored as a completion reaches a stream request with its audio', async () => {
    // BUG: OpenAI audio answers (`message.audio`: id, base64 data, transcript; `content` is null) pass through for
    // OpenAI targets and are cached. A stream request for the same prompt (same key: `stream` is not in it) is a HIT
    // that streams only `role` and `finish_reason: "stop"`: no `delta.audio`, no transcript — an empty answer, on
    // every repeat. README: "A parameter that changes the answer is … never silently dropped".
    // Cause: packages/core/src/stream/assemble.ts:111-149 (`completionToChunks` never emits `message.audio`; likewise
    // `assembleCompletion`, assemble.ts:60-84, never collects `delta.audio`).
    const { openai } = await start(cached('openai'));
    const audio = { id: 'audio_abc123', data: 'UklGRiQAAABXQVZFZm10IBAAAAABAAEA', expires_at: 1782959418, transcript: 'Hello there!' };
    upstream.route(CHAT, (req) =>
      req.json.stream
        ? {
            chunks: sse([
              { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }] },
              { ...head, choices: [{ index: 0, delta: { audio: { id: audio.id, transcript: audio.transcript } }, finish_reason: null }] },
              { ...head, choices: [{ index: 0, delta: { audio: { data: audio.data } }, finish_reason: null }] },
              { ...head, choices: [{ index: 0, delta: { audio: { expires_at: audio.expires_at } }, finish_reason: 'stop' }] },
              { ...head, choices: [], usage: { prompt_tokens: 10, completion_tokens: 30, total_tokens: 40 } },
            ]),
          }
        : {
            json: {
              id: 'chatcmpl-audio',
              object: 'chat.completion',
              created: 1782955818,
              model: 'gpt-4o-audio-preview-2025-06-03',
              choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, audio }, finish_reason: 'stop', logprobs: null }],
              usage: { prompt_tokens: 10, completion_tokens: 30, total_tokens: 40 },
            },
          },
    );
    const body = {
      model: 'gpt-4o-audio-preview',
      modalities: ['text', 'audio'] as Array<'text' | 'audio'>,
      audio: { voice: 'alloy' as const, format: 'pcm16' as const },
      messages: [{ role: 'user' as const, content: 'Say hello' }],
    };
    const first = await openai.chat.completions.create(body);
    expect(first.choices[0]!.message.audio?.transcript).toBe(audio.transcript);

    const stream = await openai.chat.completions.create({ ...body, stream: true });
    let transcript = '';
    let data = '';
    for await (const c of stream) {
      const d = (c.choices[0]?.delta as { audio?: { transcript?: string; data?: string } } | undefined)?.audio;
      transcript += d?.transcript ?? '';
      data += d?.data ?? '';
    }
    expect({ transcript, data }).toEqual({ transcript: audio.transcript, data: audio.data });
  });

  it('/v1/messages: a document with citations enabled is not answered from the entry of the same document without them', async () => {
    // BUG: the key of a /v1/messages request is its OpenAI translation, and a `document` block with a text source
    // becomes a bare text part: its `citations`, `title` and `context` are dropped without being noted in
    // `anthropic_extras.dropped`. A request that enables citations is then a HIT on the answer stored for the same
    // document without them: the Anthropic SDK gets text with no `citations` (the upstream is never asked). Same for
    // another `title`/`context`. to-chat-request.ts:9-12 itself promises "Everything left out is kept in `dropped`,
    // so two requests that differ only there never share a cache entry".
    // Cause: packages/core/src/ingress/anthropic-messages/to-chat-request.ts:76-84 (`partOf`, case 'document').
    const { anthropic } = await start(cached('anthropic'));
    const base = fixtureJson('anthropic/messages.text.json');
    upstream.enqueue(
      MESSAGES,
      { json: { ...base, content: [{ type: 'text', text: 'The sky is blue.' }] } },
      {
        json: {
          ...base,
          content: [
            {
              type: 'text',
              text: 'The sky is blue.',
              citations: [{ type: 'char_location', cited_text: 'The sky is blue.', document_index: 0, document_title: 'Sky facts', start_char_index: 0, end_char_index: 16 }],
            },
          ],
        },
      },
    );
    const ask = (extra: object) =>
      anthropic.messages
        .create({
          model: 'claude-sonnet-4-5',
          max_tokens: 200,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'The sky is blue.' }, title: 'Sky facts', ...extra } as Anthropic.DocumentBlockParam,
                { type: 'text', text: 'What colour is the sky?' },
              ],
            },
          ],
        })
        .withResponse();
    const plain = await ask({});
    expect((plain.data.content[0] as Anthropic.TextBlock).citations ?? null).toBeNull();
    const cited = await ask({ citations: { enabled: true } });
    expect(cited.response.headers.get('x-llmux-cache')).not.toBe('HIT');
    expect(upstream.requests).toHaveLength(2);
    expect((cited.data.content[0] as Anthropic.TextBlock).citations).toHaveLength(1);
  });

  it('/v1/messages: tool_choice is part of the key when the only tools are server tools', async () => {
    // BUG: with only server tools (web search), `tool_choice` never reaches the OpenAI translation the key is made
    // of (it is translated only beside client tools, and is a TRANSLATED field so it is not kept in
    // `anthropic_extras` either). `tool_choice: {type: "none"}` (search forbidden) and `{type: "auto"}` then share
    // one entry: a client that allows the search is served the answer written without it, and vice versa.
    // Cause: packages/core/src/ingress/anthropic-messages/to-chat-request.ts:403-411 (tool_choice read only inside
    // `if (tools.length)`) with TRANSLATED at to-chat-request.ts:53.
    const { anthropic } = await start(cached('anthropic'));
    const base = fixtureJson('anthropic/messages.text.json');
    upstream.enqueue(
      MESSAGES,
      { json: { ...base, content: [{ type: 'text', text: 'From what I know, without searching: no news.' }] } },
      { json: { ...base, content: [{ type: 'text', text: 'Searched: here is today’s news.' }] } },
    );
    const ask = (tool_choice: Anthropic.ToolChoice) =>
      anthropic.messages
        .create({
          model: 'claude-sonnet-4-5',
          max_tokens: 500,
          tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 3 }],
          tool_choice,
          messages: [{ role: 'user', content: 'What is in the news today?' }],
        })
        .withResponse();
    await ask({ type: 'none' });
    const allowed = await ask({ type: 'auto' });
    expect(allowed.response.headers.get('x-llmux-cache')).not.toBe('HIT');
    expect(upstream.requests.map((r) => r.json.tool_choice)).toEqual([{ type: 'none' }, { type: 'auto' }]);
    expect((allowed.data.content[0] as Anthropic.TextBlock).text).toMatch(/^Searched/);
  });

  it("/v1/messages: a tool's `strict` is part of the key", async () => {
    // BUG: Anthropic's `strict: true` on a tool guarantees the call's input matches its schema; the OpenAI
    // translation the key is made of keeps only name, description and input_schema, so the strict and the non-strict
    // request share one entry (the strict client can be served a call made without the guarantee).
    // Cause: packages/core/src/ingress/anthropic-messages/to-chat-request.ts:256-267 (`toTools` drops every other
    // tool field and does not note it in `dropped`).
    const { anthropic } = await start(cached('anthropic'));
    upstream.route(MESSAGES, { json: fixtureJson('anthropic/messages.tool-use.json') });
    const ask = (strict: boolean) =>
      anthropic.messages
        .create({
          model: 'claude-haiku-4-5',
          max_tokens: 500,
          tools: [{ name: 'json', input_schema: { type: 'object', properties: { elements: { type: 'array' } }, required: ['elements'] }, strict } as Anthropic.Tool],
          messages: [{ role: 'user', content: 'Weather in four cities, as JSON' }],
        })
        .withResponse();
    await ask(false);
    const strict = await ask(true);
    expect(strict.response.headers.get('x-llmux-cache')).not.toBe('HIT');
    expect(upstream.requests.map((r) => r.json.tools[0].strict)).toEqual([false, true]);
  });

  it('/v1/messages: a hit gives back the `caller` of each tool_use block of a stored passthrough answer', async () => {
    // BUG: Anthropic's tool_use blocks carry `caller` ({"type": "direct"}, a field the Anthropic SDK types as
    // required on ToolUseBlock). The answer is stored (docs/caching.md: passthrough answers are stored "only when a
    // hit can give them back whole"), but a hit, stream or not, rebuilds the blocks from the OpenAI translation and
    // the `caller` is gone: `block.caller.type` throws on a hit and not on the live answer.
    // Cause: packages/core/src/providers/anthropic/translate-response.ts:40-45 and providers/anthropic/stream.ts:72-82 keep
    // id/name/input only without calling `onDropped`; ingress/anthropic-messages/to-message.ts:47-49 and
    // to-events.ts:119 rebuild tool_use blocks without it.
    const { anthropic } = await start(cached('anthropic'));
    upstream.route(MESSAGES, { chunks: splitSse(fixtureText('anthropic/messages.parallel-tool-use.stream.sse')) });
    const body = {
      model: 'claude-haiku-4-5',
      max_tokens: 500,
      tools: [{ name: 'pelican_name_generator', input_schema: { type: 'object' as const, properties: {} } }],
      messages: [{ role: 'user' as const, content: 'Two pelican names, please' }],
    };
    const live = await anthropic.messages.stream(body).finalMessage();
    expect(live.content.map((b) => (b as Anthropic.ToolUseBlock).caller)).toEqual([{ type: 'direct' }, { type: 'direct' }]);
    const plainHit = await anthropic.messages.create(body).withResponse();
    const streamHit = await anthropic.messages.stream(body).finalMessage();
    expect(plainHit.data.content).toEqual(live.content);
    expect(streamHit.content).toEqual(live.content);
  });
});
