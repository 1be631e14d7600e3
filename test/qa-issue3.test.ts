import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { cassette, fixtureBytes, fixtureText, splitSse } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockReply, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * QA of issue 3 from a client's side: every native provider (anthropic, google, bedrock, cohere)
 * behind both routes — provider errors keep their status and arrive in the route's error shape,
 * a client that leaves stops the upstream call, and /v1/messages (the Anthropic SDK) reaches the
 * providers that are neither OpenAI nor Anthropic, tools included.
 */
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const KEYS = { anthropic: 'sk-ant-qa-upstream', google: 'AIza-qa-upstream', cohere: 'co-qa-upstream' };

type Native = 'anthropic' | 'google' | 'bedrock' | 'cohere';
const NATIVE: Native[] = ['anthropic', 'google', 'bedrock', 'cohere'];

const target = (p: Native, url: string): Record<string, unknown> => {
  switch (p) {
    case 'anthropic':
      return { provider: p, api_key: KEYS.anthropic, custom_host: `${url}/v1` };
    case 'google':
      return { provider: p, api_key: KEYS.google, custom_host: `${url}/v1beta` };
    case 'cohere':
      return { provider: p, api_key: KEYS.cohere, custom_host: `${url}/v2` };
    case 'bedrock':
      return {
        provider: p,
        aws_access_key_id: 'AKIDEXAMPLE',
        aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        aws_region: 'us-east-1',
        custom_host: url,
      };
  }
};

/** A model name each provider would accept. */
const MODEL: Record<Native, string> = {
  anthropic: 'claude-sonnet-4-5',
  google: 'gemini-2.5-flash',
  bedrock: 'us.amazon.nova-micro-v1:0',
  cohere: 'command-a-03-2025',
};

const apps = {} as Record<Native, TestApp>;
beforeAll(async () => {
  await Promise.all(NATIVE.map(async (p) => (apps[p] = await appFactories.express5!({ env: {}, config: { targets: [target(p, upstream.url)] } }))));
});
afterAll(() => Promise.all(NATIVE.map((p) => apps[p]?.close())));

const post = (url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal });

const chatBody = (p: Native, stream: boolean) => ({ model: MODEL[p], messages: [{ role: 'user', content: 'Hi' }], ...(stream ? { stream: true } : {}) });
const messagesBody = (p: Native, stream: boolean) => ({ model: MODEL[p], max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }], ...(stream ? { stream: true } : {}) });

// ---- provider errors ----

interface ErrorCase {
  status: number;
  what: string;
  message: string;
  /** The Anthropic error type a client of /v1/messages should see (one of several where the status is ambiguous). */
  anthropicType: string[];
  openaiType?: string;
}

const CASES: ErrorCase[] = [
  { status: 400, what: 'context too long', message: 'prompt is too long: 208310 tokens > 200000 maximum', anthropicType: ['invalid_request_error'] },
  { status: 401, what: 'bad key', message: 'invalid api token', anthropicType: ['authentication_error'], openaiType: 'authentication_error' },
  { status: 429, what: 'rate limited', message: 'Too many requests, please wait before trying again.', anthropicType: ['rate_limit_error'], openaiType: 'rate_limit_error' },
  { status: 529, what: 'overloaded (Anthropic)', message: 'Overloaded', anthropicType: ['overloaded_error', 'api_error'] },
  { status: 503, what: 'unavailable', message: 'The model is overloaded. Please try again later.', anthropicType: ['overloaded_error', 'api_error'] },
];

/** The error body each provider sends for a status, as its docs and the fixtures README describe it. */
function errorReply(p: Native, k: ErrorCase, stream: boolean): MockReply {
  switch (p) {
    case 'anthropic': {
      const type = { 400: 'invalid_request_error', 401: 'authentication_error', 429: 'rate_limit_error', 529: 'overloaded_error', 503: 'api_error' }[k.status]!;
      return { status: k.status, json: { type: 'error', error: { type, message: k.message } } };
    }
    case 'google': {
      const status = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 429: 'RESOURCE_EXHAUSTED', 529: 'UNAVAILABLE', 503: 'UNAVAILABLE' }[k.status]!;
      // A failed stream request answers with the SSE content type but a plain JSON body (recorded quirk).
      return { status: k.status, headers: stream ? { 'content-type': 'text/event-stream' } : {}, json: { error: { code: k.status, message: k.message, status } } };
    }
    case 'bedrock': {
      const type = { 400: 'ValidationException', 401: 'UnrecognizedClientException', 429: 'ThrottlingException', 529: 'ServiceUnavailableException', 503: 'ServiceUnavailableException' }[k.status]!;
      return { status: k.status, headers: { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` }, json: { message: k.message } };
    }
    case 'cohere':
      return { status: k.status, json: { id: 'a3b5c1d2-qa', message: k.message } };
  }
}

describe('a provider error reaches the client with its status, never as a 200 or a 500', () => {
  for (const p of NATIVE) {
    describe(p, () => {
      for (const k of CASES) {
        it(`${k.status} ${k.what}: OpenAI shape on /v1/chat/completions, Anthropic shape on /v1/messages, stream or not`, async () => {
          for (const stream of [false, true]) {
            upstream.enqueue('*', errorReply(p, k, stream));
            const res = await post(`${apps[p].gatewayURL}/v1/chat/completions`, chatBody(p, stream));
            expect(res.status, `chat stream=${stream}`).toBe(k.status);
            expect(res.headers.get('content-type')).toMatch(/^application\/json/);
            const body = await res.json();
            expect(body.error, `chat stream=${stream}`).toMatchObject({ message: expect.stringContaining(k.message), type: expect.any(String) });
            // Bedrock deliberately keeps the AWS exception name (x-amzn-errortype) as `type`; the SDKs branch on the status.
            if (k.openaiType && p !== 'bedrock') expect(body.error.type).toBe(k.openaiType);
            expect(JSON.stringify(body)).not.toContain(KEYS.anthropic);

            upstream.enqueue('*', errorReply(p, k, stream));
            const msg = await post(`${apps[p].gatewayURL}/v1/messages`, messagesBody(p, stream), { 'anthropic-version': '2023-06-01' });
            expect(msg.status, `messages stream=${stream}`).toBe(k.status);
            const anth = await msg.json();
            expect(anth, `messages stream=${stream}`).toMatchObject({ type: 'error', error: { message: expect.stringContaining(k.message) } });
            expect(k.anthropicType).toContain(anth.error.type);
          }
          expect(upstream.requests).toHaveLength(4);
        });
      }

      it('the official SDKs raise their typed errors with the status (429 and 401)', async () => {
        const openai = new OpenAI({ baseURL: `${apps[p].gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
        const anthropic = new Anthropic({ baseURL: apps[p].gatewayURL, apiKey: 'unused', maxRetries: 0 });
        const [limited, denied] = [CASES[2]!, CASES[1]!];
        upstream.enqueue('*', errorReply(p, limited, false), errorReply(p, denied, true));
        expect(await openai.chat.completions.create(chatBody(p, false) as never).catch((e) => e)).toBeInstanceOf(OpenAI.RateLimitError);
        const streamErr = await (async () => {
          const s = await openai.chat.completions.create({ ...(chatBody(p, true) as never), stream: true });
          for await (const _ of s);
        })().catch((e) => e);
        expect(streamErr).toBeInstanceOf(OpenAI.AuthenticationError);
        upstream.enqueue('*', errorReply(p, limited, true), errorReply(p, denied, false));
        expect(await anthropic.messages.stream(messagesBody(p, false) as never).finalMessage().catch((e) => e)).toBeInstanceOf(Anthropic.RateLimitError);
        expect(await anthropic.messages.create(messagesBody(p, false) as never).catch((e) => e)).toBeInstanceOf(Anthropic.AuthenticationError);
      });
    });
  }
});

// ---- client aborts ----

/** A recorded stream of each provider, cut after its first content event: the rest waits 5 s. */
function slowStream(p: Native): MockReply {
  const hold = (events: Array<string | Uint8Array>, firstContent: number): MockReply => {
    const head = events.slice(0, firstContent + 1);
    const joined = typeof head[0] === 'string' ? (head as string[]).join('') : Buffer.concat(head as Uint8Array[]);
    return { chunks: [joined, ...events.slice(firstContent + 1)], chunkDelayMs: 5000 };
  };
  switch (p) {
    case 'anthropic': {
      const events = splitSse(fixtureText('anthropic/messages.text.stream.sse'));
      return hold(events, events.findIndex((e) => e.includes('text_delta')));
    }
    case 'google': {
      const events = splitSse(fixtureText('gemini/streamGenerateContent.text.sse'));
      return hold(events, events.findIndex((e) => e.includes('"text"')));
    }
    case 'cohere': {
      const events = sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true });
      return hold(events, events.findIndex((e) => e.includes('content-delta')));
    }
    case 'bedrock': {
      const bytes = new Uint8Array(fixtureBytes('bedrock/converse-stream.text.eventstream.bin'));
      const frames: Uint8Array[] = [];
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let off = 0; off < bytes.length; off += view.getUint32(off)) frames.push(bytes.subarray(off, off + view.getUint32(off)));
      const first = frames.findIndex((f) => Buffer.from(f).includes('contentBlockDelta'));
      return { ...hold(frames, first), headers: { 'content-type': 'application/vnd.amazon.eventstream' } };
    }
  }
}

/** Reads a response body until `until` appears, then cancels it (the client leaves). */
async function readUntil(res: Response, until: RegExp): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let received = '';
  while (!until.test(received)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${until}: ${received}`);
    received += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return received;
}

describe('a client that leaves closes the upstream connection, for every native provider', () => {
  for (const p of NATIVE) {
    it(`${p}: mid-stream on /v1/chat/completions (openai SDK break)`, async () => {
      upstream.enqueue('*', slowStream(p));
      const client = new OpenAI({ baseURL: `${apps[p].gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const stream = await client.chat.completions.create({ ...(chatBody(p, true) as never), stream: true });
      let content = '';
      for await (const chunk of stream) {
        content += chunk.choices[0]?.delta.content ?? '';
        if (content) break;
      }
      expect(content.length).toBeGreaterThan(0);
      await vi.waitFor(() => expect(upstream.aborted).toBe(1));
      expect(upstream.requests).toHaveLength(1);
    });

    it(`${p}: mid-stream on /v1/messages`, async () => {
      upstream.enqueue('*', slowStream(p));
      const res = await post(`${apps[p].gatewayURL}/v1/messages`, messagesBody(p, true));
      expect(res.status).toBe(200);
      const got = await readUntil(res, /text_delta/);
      expect(got).not.toContain('message_stop');
      await vi.waitFor(() => expect(upstream.aborted).toBe(1));
    });

    it(`${p}: while waiting for a non-stream answer, on both routes`, async () => {
      for (const [path, body] of [
        ['/v1/chat/completions', chatBody(p, false)],
        ['/v1/messages', messagesBody(p, false)],
      ] as const) {
        upstream.reset();
        upstream.enqueue('*', { hang: true });
        const client = new AbortController();
        const pending = post(`${apps[p].gatewayURL}${path}`, body, {}, client.signal);
        await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
        client.abort();
        await expect(pending).rejects.toThrow();
        await vi.waitFor(() => expect(upstream.aborted).toBe(1));
      }
    });
  }
});

// ---- /v1/messages (the Anthropic SDK) against Gemini, Bedrock and Cohere, with tool use ----

const weatherTool: Anthropic.Tool = {
  name: 'weather',
  description: 'Weather in a location.',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

/** The non-stream tool-call recording of each provider and the tool calls it holds. */
const TOOL_ANSWER: Record<'google' | 'bedrock' | 'cohere', () => { reply: MockReply; calls: Array<{ name: string; input: unknown }> }> = {
  google: () => ({ reply: { json: JSON.parse(fixtureText('gemini/generateContent.tool-call.json')) }, calls: [{ name: 'weather', input: { location: 'San Francisco' } }] }),
  bedrock: () => {
    const body = {
      output: { message: { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_XjTErzm6TpyMMpDviNVY3g', name: 'get_weather', input: { city: 'Paris' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 572, outputTokens: 53, totalTokens: 625 },
    };
    return { reply: { json: body }, calls: [{ name: 'get_weather', input: { city: 'Paris' } }] };
  },
  cohere: () => ({
    reply: { json: JSON.parse(fixtureText('cohere/chat-v2.tool-call.json')) },
    calls: [
      { name: 'weather', input: { location: 'San Francisco' } },
      { name: 'cityAttractions', input: { city: 'San Francisco' } },
    ],
  }),
};

/** The streamed tool-call recording of each provider, framed as it travels. */
const TOOL_STREAM: Record<'google' | 'bedrock' | 'cohere', () => MockReply> = {
  google: () => ({ chunks: splitSse(fixtureText('gemini/streamGenerateContent.tool-call.sse')) }),
  bedrock: () => ({ headers: { 'content-type': 'application/vnd.amazon.eventstream' }, body: new Uint8Array(fixtureBytes('bedrock/converse-stream.tool-use.eventstream.bin')) }),
  cohere: () => ({ chunks: sseFromJsonl(fixtureText('cohere/chat-v2.tool-call.chunks.jsonl'), { eventFromType: true }) }),
};

describe('/v1/messages reaches every provider, tools included (Anthropic SDK)', () => {
  for (const p of ['google', 'bedrock', 'cohere'] as const) {
    it(`${p}: non-stream tool_use, then the tool_result goes back as ${p}'s own tool-result turn`, async () => {
      const client = new Anthropic({ baseURL: apps[p].gatewayURL, apiKey: 'sk-ant-client', maxRetries: 0 });
      const { reply, calls } = TOOL_ANSWER[p]();
      upstream.enqueue('*', reply);
      const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in San Francisco, and what to see?' }];
      const first = await client.messages.create({ model: MODEL[p], max_tokens: 500, messages, tools: [weatherTool] });
      expect(first.type).toBe('message');
      expect(first.stop_reason).toBe('tool_use');
      const uses = first.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(uses.map((u) => ({ name: u.name, input: u.input }))).toEqual(calls);
      expect(new Set(uses.map((u) => u.id)).size).toBe(uses.length);
      expect(first.usage.input_tokens).toBeGreaterThan(0);
      expect(first.usage.output_tokens).toBeGreaterThan(0);

      // Round trip: every tool_use answered with a tool_result.
      messages.push({ role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] });
      messages.push({ role: 'user', content: uses.map((u) => ({ type: 'tool_result' as const, tool_use_id: u.id, content: `result of ${u.name}` })) });
      upstream.enqueue('*', { status: 400, json: p === 'google' ? { error: { code: 400, message: 'stop here', status: 'INVALID_ARGUMENT' } } : { message: 'stop here' } });
      // Gemini 3 validates thought signatures on echoed function calls.
      const model = p === 'google' ? 'gemini-3-pro-preview' : MODEL[p];
      await client.messages.create({ model, max_tokens: 500, messages, tools: [weatherTool] }).catch(() => undefined);
      const sent = upstream.requests[1]!.json;
      const text = JSON.stringify(sent);
      for (const u of uses) expect(text).toContain(`result of ${u.name}`);
      if (p === 'google') {
        const parts = sent.contents.flatMap((c: any) => c.parts);
        expect(parts.find((x: any) => x.functionCall)).toMatchObject({ functionCall: { name: 'weather', args: { location: 'San Francisco' } } });
        // Gemini 3 refuses a function call sent back without a thought signature; an Anthropic tool_use block
        // cannot carry Gemini's, so Google's documented stand-in must be there at least.
        const recorded = JSON.parse(fixtureText('gemini/generateContent.tool-call.json')).candidates[0].content.parts[0].thoughtSignature;
        expect([recorded, 'skip_thought_signature_validator']).toContain(parts.find((x: any) => x.functionCall).thoughtSignature);
        expect(parts.find((x: any) => x.functionResponse)).toMatchObject({ functionResponse: { name: 'weather' } });
      }
      if (p === 'bedrock') {
        const blocks = sent.messages.flatMap((m: any) => m.content);
        expect(blocks.find((b: any) => b.toolUse)).toMatchObject({ toolUse: { toolUseId: uses[0]!.id, name: 'get_weather', input: { city: 'Paris' } } });
        expect(blocks.find((b: any) => b.toolResult)).toMatchObject({ toolResult: { toolUseId: uses[0]!.id } });
      }
      if (p === 'cohere') {
        const assistant = sent.messages.find((m: any) => m.role === 'assistant');
        expect(assistant.tool_calls.map((t: any) => t.id)).toEqual(uses.map((u) => u.id));
        expect(sent.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id)).toEqual(uses.map((u) => u.id));
      }
    });

    it(`${p}: streamed tool_use assembles in the SDK`, async () => {
      const client = new Anthropic({ baseURL: apps[p].gatewayURL, apiKey: 'sk-ant-client', maxRetries: 0 });
      upstream.enqueue('*', TOOL_STREAM[p]());
      const stream = client.messages.stream({ model: MODEL[p], max_tokens: 500, messages: [{ role: 'user', content: 'Go' }], tools: [weatherTool] });
      const types: string[] = [];
      stream.on('streamEvent', (e) => types.push(e.type));
      const msg = await stream.finalMessage();
      expect(msg.stop_reason).toBe('tool_use');
      const uses = msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
      expect(uses.length).toBeGreaterThan(0);
      for (const u of uses) {
        expect(u.id).toMatch(/.+/);
        expect(u.name).toMatch(/.+/);
        expect(typeof u.input).toBe('object');
      }
      if (p === 'cohere') expect(uses.map((u) => [u.name, u.input])).toEqual([['weather', { location: 'San Francisco' }], ['cityAttractions', { city: 'San Francisco' }]]);
      expect(types[0]).toBe('message_start');
      expect(types.at(-1)).toBe('message_stop');
      expect(msg.usage.output_tokens).toBeGreaterThan(0);
    });
  }
});

// ---- no config: the model name picks the provider, the key comes from its environment variable ----

describe('without a config, a plain client reaches Anthropic and Gemini by model name with keys from process.env', () => {
  let app: TestApp;
  const urls: string[] = [];
  beforeAll(async () => {
    vi.stubEnv('ANTHROPIC_API_KEY', 'sk-ant-from-process-env');
    vi.stubEnv('GEMINI_API_KEY', 'AIza-from-process-env');
    vi.stubEnv('GOOGLE_API_KEY', '');
    // No `env` option and no `providers` override: what a user gets from the README.
    app = await appFactories.express5!({});
    // Every upstream call goes to the mock; the URL the provider would have been called at is kept.
    const client = app.gateway.internals.client;
    const send = client.send.bind(client);
    client.send = (req, signal) => {
      urls.push(req.url);
      const u = new URL(req.url);
      return send({ ...req, url: `${upstream.url}${u.pathname}${u.search}` }, signal);
    };
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await app?.close();
  });
  beforeEach(() => void (urls.length = 0));

  const anthropicText = () => JSON.parse(fixtureText('anthropic/messages.text.json'));
  const geminiText = () => JSON.parse(fixtureText('gemini/generateContent.text.json'));

  it.each([
    ['anthropic/claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['claude-haiku-4-5', 'claude-haiku-4-5'],
  ])('%s → https://api.anthropic.com/v1/messages with ANTHROPIC_API_KEY, non-stream and stream', async (model, sentModel) => {
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-side', maxRetries: 0 });
    upstream.enqueue('/v1/messages', { json: anthropicText() }, { chunks: splitSse(fixtureText('anthropic/messages.text.stream.sse')) });
    const { data: chat, response } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(chat.choices[0]!.message.content).toBe(anthropicText().content[0].text);
    expect(response.headers.get('x-llmux-provider')).toBe('anthropic');
    let text = '';
    for await (const c of await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], stream: true })) text += c.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(urls).toEqual(['https://api.anthropic.com/v1/messages', 'https://api.anthropic.com/v1/messages']);
    for (const sent of upstream.requests) {
      expect(sent.headers['x-api-key']).toBe('sk-ant-from-process-env');
      expect(sent.json.model).toBe(sentModel);
      expect(JSON.stringify(sent.headers)).not.toContain('client-side');
    }
  });

  it.each([['gemini-2.5-flash'], ['google/gemini-2.5-flash'], ['gemini/gemini-2.5-flash']])(
    '%s → generativelanguage.googleapis.com with GEMINI_API_KEY, non-stream and stream',
    async (model) => {
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-side', maxRetries: 0 });
      upstream.enqueue('*', { json: geminiText() }, { chunks: splitSse(fixtureText('gemini/streamGenerateContent.text.sse')) });
      const chat = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] });
      expect(chat.choices[0]!.message.content).toBe(geminiText().candidates[0].content.parts.map((p: any) => p.text ?? '').join(''));
      let text = '';
      for await (const c of await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], stream: true })) text += c.choices[0]?.delta.content ?? '';
      expect(text.length).toBeGreaterThan(0);
      expect(urls).toEqual([
        'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent',
        'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
      ]);
      for (const sent of upstream.requests) expect(sent.headers['x-goog-api-key']).toBe('AIza-from-process-env');
    },
  );

  it('the Anthropic SDK on /v1/messages reaches Anthropic by model name too (passthrough)', async () => {
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'sk-ant-client-side', maxRetries: 0 });
    upstream.enqueue('/v1/messages', { json: anthropicText() });
    const msg = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] });
    expect(msg).toEqual(anthropicText());
    expect(urls).toEqual(['https://api.anthropic.com/v1/messages']);
    expect(upstream.requests[0]!.headers['x-api-key']).toBe('sk-ant-from-process-env');
  });

  it("a model no provider claims is a 400 naming model; a provider whose key is unset gets no other provider's key", async () => {
    const unknown = await post(`${app.gatewayURL}/v1/chat/completions`, { model: 'totally-unknown-model', messages: [{ role: 'user', content: 'Hi' }] });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error.param).toBe('model');
    expect(urls).toEqual([]);
    // COHERE_API_KEY is unset: the call goes out without a key and Cohere's own 401 reaches the client.
    upstream.enqueue('/v2/chat', (req) => (req.headers.authorization ? { json: {} } : { status: 401, json: { id: 'x', message: 'no api key supplied' } }));
    const keyless = await post(`${app.gatewayURL}/v1/chat/completions`, { model: 'command-a-03-2025', messages: [{ role: 'user', content: 'Hi' }] });
    expect(keyless.status).toBe(401);
    expect((await keyless.json()).error.message).toContain('no api key supplied');
    expect(urls).toEqual(['https://api.cohere.com/v2/chat']);
    expect(JSON.stringify(upstream.requests[0]!.headers)).not.toMatch(/from-process-env/);
  });
});

// ---- the Anthropic SDK behind every adapter ----

describe('@anthropic-ai/sdk at <app>/llm behind every adapter (OpenAI target, tool use)', () => {
  for (const [name, start] of Object.entries(appFactories)) {
    it(`${name}: non-stream and streamed tool_use`, async () => {
      const app = await start({ env: {}, config: { targets: [{ provider: 'openai', api_key: 'sk-openai-qa', custom_host: `${upstream.url}/v1` }] } });
      try {
        const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'sk-ant-client', maxRetries: 0 });
        const events = splitSse(fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse'));
        const whole = cassette('openai/chat-completions.tool-call.cassette.yaml')[0]!.response.parsed_body;
        upstream.enqueue('/v1/chat/completions', { json: whole }, { chunks: events });
        const tools = [{ name: whole.choices[0].message.tool_calls[0].function.name, input_schema: { type: 'object' as const, properties: {} } }];
        const msg = await client.messages.create({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Go' }], tools });
        const use = msg.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
        expect(use).toMatchObject({ id: whole.choices[0].message.tool_calls[0].id, name: tools[0]!.name, input: JSON.parse(whole.choices[0].message.tool_calls[0].function.arguments) });
        const streamed = await client.messages.stream({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Go' }], tools }).finalMessage();
        expect(streamed.stop_reason).toBe('tool_use');
        expect(streamed.content.some((b) => b.type === 'tool_use')).toBe(true);
        expect(upstream.requests.map((r) => r.json.tools[0].function.name)).toEqual([tools[0]!.name, tools[0]!.name]);
      } finally {
        await app.close();
      }
    });
  }
});
