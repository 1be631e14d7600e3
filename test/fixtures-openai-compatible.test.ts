import { readdirSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { cassette, FIXTURES, fixtureJson, fixtureText, splitSse, type CassetteInteraction } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockReply, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * Every recorded chat-completions and embeddings file of the OpenAI-compatible providers, replayed by a
 * mock upstream through the gateway (each via its preset pointed at the mock with `custom_host`) to the
 * official `openai` SDK.
 *
 * Not replayed: the Responses API (`openai/responses.*`, `azure/responses.*`) and legacy completions
 * (`openai/completions-legacy.*`). They are other wire formats than chat completions; the gateway's
 * chat route does not translate them, so there is nothing of ours to test with them here.
 */
const OUT_OF_SCOPE = /^(openai|azure)\/(responses\.|completions-legacy\.)/;

interface Preset {
  provider: string;
  key: string;
  /** Target settings besides provider and key: `custom_host` and provider-specific ones. */
  settings: (mock: string) => Record<string, unknown>;
  chatPath: string;
  embeddingsPath?: string;
  auth: (key: string) => Record<string, string>;
  /** Mistral rejects `stream_options`; everyone else is asked for usage so streams can be costed. */
  asksUsage: boolean;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const PRESETS = {
  openai: { provider: 'openai', key: 'sk-openai-fixture', settings: (m) => ({ custom_host: `${m}/v1` }), chatPath: '/v1/chat/completions', embeddingsPath: '/v1/embeddings', auth: bearer, asksUsage: true },
  azure: {
    provider: 'azure-openai',
    key: 'azure-fixture-key',
    settings: (m) => ({ custom_host: m, resource_name: 'pydanticai7521574644', deployment_id: 'gpt-4o', api_version: '2024-12-01-preview' }),
    chatPath: '/openai/deployments/gpt-4o/chat/completions',
    auth: (key) => ({ 'api-key': key }),
    asksUsage: true,
  },
  groq: { provider: 'groq', key: 'gsk-groq-fixture', settings: (m) => ({ custom_host: `${m}/openai/v1` }), chatPath: '/openai/v1/chat/completions', auth: bearer, asksUsage: true },
  deepseek: { provider: 'deepseek', key: 'sk-deepseek-fixture', settings: (m) => ({ custom_host: m }), chatPath: '/chat/completions', auth: bearer, asksUsage: true },
  mistral: { provider: 'mistral', key: 'mistral-fixture-key', settings: (m) => ({ custom_host: `${m}/v1` }), chatPath: '/v1/chat/completions', auth: bearer, asksUsage: false },
  xai: { provider: 'xai', key: 'xai-fixture-key', settings: (m) => ({ custom_host: `${m}/v1` }), chatPath: '/v1/chat/completions', auth: bearer, asksUsage: true },
  openrouter: { provider: 'openrouter', key: 'sk-or-fixture', settings: (m) => ({ custom_host: `${m}/api/v1` }), chatPath: '/api/v1/chat/completions', auth: bearer, asksUsage: true },
} satisfies Record<string, Preset>;
type PresetName = keyof typeof PRESETS;

const NON_STREAM: Array<[PresetName, string]> = [
  ['openai', 'openai/chat-completions.text.json'],
  ['groq', 'groq/chat-completions.text.json'],
  ['groq', 'groq/chat-completions.tool-call.json'],
  ['deepseek', 'deepseek/chat-completions.reasoning.json'],
  ['deepseek', 'deepseek/chat-completions.json-mode.json'],
  ['deepseek', 'deepseek/chat-completions.tool-call.json'],
  ['mistral', 'mistral/chat-completions.text.json'],
  ['mistral', 'mistral/chat-completions.tool-call.json'],
  ['xai', 'xai/chat-completions.text.json'],
  ['xai', 'xai/chat-completions.tool-call.json'],
];
const STREAMS: Array<[PresetName, string]> = [
  ['openai', 'openai/chat-completions.tool-call.stream-include-usage.sse'],
  ['openai', 'openai/chat-completions.text.stream-include-usage.sse'],
  ['azure', 'azure/chat-completions.model-router.chunks.jsonl'],
  ['groq', 'groq/chat-completions.tool-call.chunks.jsonl'],
  ['deepseek', 'deepseek/chat-completions.reasoning.stream.sse'],
  ['deepseek', 'deepseek/chat-completions.tool-call.chunks.jsonl'],
  ['mistral', 'mistral/chat-completions.text.chunks.jsonl'],
  ['mistral', 'mistral/chat-completions.tool-call.chunks.jsonl'],
  ['mistral', 'mistral/chat-completions.reasoning.chunks.jsonl'],
  ['mistral', 'mistral/chat-completions.thinking.stream.sse'],
  ['xai', 'xai/chat-completions.text.chunks.jsonl'],
  ['xai', 'xai/chat-completions.tool-call.chunks.jsonl'],
];
const STREAM_ERRORS: Array<[PresetName, string]> = [
  ['openrouter', 'openrouter/chat-completions.stream-comments-and-error.sse'],
  ['groq', 'groq/chat-completions.reasoning-then-error.stream.sse'],
];
/**
 * How a recorded request is written for the OpenAI SDK, where its recording client differed: the
 * Mistral SDK leaves out `tools[].type`, which OpenAI's API (and so the gateway) requires.
 */
const AS_OPENAI_REQUEST: Record<string, (body: any) => any> = {
  'mistral/chat-completions.tool-call.cassette.yaml': (body) => ({ ...body, tools: body.tools.map((t: object) => ({ type: 'function', ...t })) }),
};
const CASSETTES: Array<[PresetName, string]> = [
  ['openai', 'openai/chat-completions.tool-call.cassette.yaml'],
  ['openai', 'openai/chat-completions.json-schema.cassette.yaml'],
  ['openai', 'openai/chat-completions.tool-roundtrip.stream.cassette.yaml'],
  ['openai', 'openai/chat-completions.error-404-model-not-found.cassette.yaml'],
  ['openai', 'openai/chat-completions.error-400-unsupported-value.cassette.yaml'],
  ['openai', 'openai/embeddings.error-404.cassette.yaml'],
  ['azure', 'azure/chat-completions.text.cassette.yaml'],
  ['groq', 'groq/chat-completions.error-400-tool-use-failed.cassette.yaml'],
  ['groq', 'groq/chat-completions.error-404-model-not-found.cassette.yaml'],
  ['mistral', 'mistral/chat-completions.tool-call.cassette.yaml'],
  ['openrouter', 'openrouter/chat-completions.error-429-upstream.cassette.yaml'],
  ['openrouter', 'openrouter/chat-completions.stream-comments-and-error.cassette.yaml'],
];
const EMBEDDINGS = ['openai/embeddings.float.json', 'openai/embeddings.float-trimmed.json', 'openai/embeddings.base64.json'];
/** Recorded without its status; OpenAI sends it with 400 (fixtures README). */
const ERROR_BODIES: Array<[PresetName, string, number]> = [['openai', 'openai/chat-completions.error-400-unsupported-parameter.json', 400]];

// ---- reading the recordings, independently of the gateway's own code ----

/** The `data:` payloads of a recorded stream, in order, without `[DONE]`. */
function payloads(file: string, raw = fixtureText(file)): any[] {
  if (file.endsWith('.jsonl')) return raw.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  return raw
    .split(/\r?\n/)
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));
}

const replyFor = (file: string): MockReply =>
  file.endsWith('.jsonl') ? { chunks: sseFromJsonl(fixtureText(file), { done: true }) } : { chunks: splitSse(fixtureText(file)) };

/** What a stream adds up to: text, reasoning, tool calls (by index, or by id order where the index is missing), finish, usage. */
function summarize(chunks: any[]) {
  let text = '';
  let reasoning = '';
  const finish: string[] = [];
  const ids: string[] = [];
  const tools: Array<{ id: string; name: string; args: string }> = [];
  let usage: unknown;
  for (const c of chunks) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices ?? []) {
      const d = ch.delta ?? {};
      if (typeof d.content === 'string') text += d.content;
      if (Array.isArray(d.content)) {
        for (const p of d.content) {
          if (p.type === 'text') text += p.text;
          if (p.type === 'thinking') reasoning += p.thinking.map((t: { text: string }) => t.text).join('');
        }
      }
      if (typeof d.reasoning_content === 'string') reasoning += d.reasoning_content;
      else if (typeof d.reasoning === 'string') reasoning += d.reasoning;
      for (const t of d.tool_calls ?? []) {
        if (t.id && !ids.includes(t.id)) ids.push(t.id);
        const index = t.index ?? (t.id ? ids.indexOf(t.id) : ids.length - 1);
        const call = (tools[index] ??= { id: '', name: '', args: '' });
        if (t.id) call.id = t.id;
        if (t.function?.name) call.name += t.function.name;
        if (t.function?.arguments) call.args += t.function.arguments;
      }
      if (ch.finish_reason) finish.push(ch.finish_reason);
    }
  }
  return { text, reasoning, finish, tools, usage };
}

// ---- the gateway, one host app per preset ----

let upstream: MockUpstream;
const apps = {} as Record<PresetName, { app: TestApp; client: OpenAI }>;

beforeAll(async () => {
  upstream = await startMockUpstream();
  await Promise.all(
    (Object.entries(PRESETS) as Array<[PresetName, Preset]>).map(async ([name, p]) => {
      const app = await appFactories.express5!({ config: { targets: [{ provider: p.provider, api_key: p.key, ...p.settings(upstream.url) }] } });
      apps[name] = { app, client: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-key-not-for-upstream', maxRetries: 0 }) };
    }),
  );
});
afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.app.close()));
  await upstream.close();
});
beforeEach(() => upstream.reset());

function expectSentTo(name: PresetName, path: string) {
  const p: Preset = PRESETS[name];
  const sent = upstream.requests.at(-1)!;
  expect(sent.path.split('?')[0]).toBe(path);
  for (const [h, v] of Object.entries(p.auth(p.key))) expect(sent.headers[h]).toBe(v);
  if (!('authorization' in p.auth(p.key))) expect(sent.headers.authorization).toBeUndefined();
  expect(JSON.stringify(sent.headers)).not.toContain('client-key-not-for-upstream');
  return sent;
}

async function consume(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const chunks: any[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

const withoutStreamFalse = (body: Record<string, unknown>) => {
  // The gateway leaves out `stream: false`, which is every provider's default.
  const { stream, ...rest } = body;
  return stream === false ? rest : body;
};

describe('every recorded file is replayed', () => {
  it('covers each chat-completions and embeddings fixture of the OpenAI-compatible providers', () => {
    const dirs = ['openai', 'azure', 'groq', 'deepseek', 'mistral', 'xai', 'openrouter'];
    const all = dirs.flatMap((d) => readdirSync(FIXTURES + d).map((f) => `${d}/${f}`));
    const replayed = new Set([...NON_STREAM, ...STREAMS, ...STREAM_ERRORS, ...CASSETTES, ...ERROR_BODIES].map((e) => e[1]).concat(EMBEDDINGS));
    expect(all.filter((f) => !replayed.has(f) && !OUT_OF_SCOPE.test(f))).toEqual([]);
    expect([...replayed].filter((f) => !all.includes(f))).toEqual([]);
  });
});

describe('non-stream answers pass through', () => {
  for (const [name, file] of NON_STREAM) {
    it(`${name}: ${file}`, async () => {
      const recorded = fixtureJson(file);
      upstream.enqueue(PRESETS[name].chatPath, { json: recorded });
      const res = await apps[name].client.chat.completions.create({ model: recorded.model, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
      const sent = expectSentTo(name, PRESETS[name].chatPath);
      expect(sent.json).toEqual({ model: recorded.model, messages: [{ role: 'user', content: 'Hi' }] });
      expect(res.response.headers.get('x-llmux-provider')).toBe(PRESETS[name].provider);
      const c = res.data as any;
      expect(c).toMatchObject(recorded);
      expect(c.usage).toMatchObject(recorded.usage);
      const m = c.choices[0].message;
      for (const t of m.tool_calls ?? []) {
        expect(t.type).toBe('function');
        expect(() => JSON.parse(t.function.arguments)).not.toThrow();
      }
      const recordedReasoning = recorded.choices[0].message.reasoning_content ?? recorded.choices[0].message.reasoning;
      if (recordedReasoning) expect(m.reasoning_content).toBe(recordedReasoning);
    });
  }

  it('deepseek reasoning keeps reasoning_content beside the answer', async () => {
    const recorded = fixtureJson('deepseek/chat-completions.reasoning.json');
    upstream.enqueue('/chat/completions', { json: recorded });
    const c = (await apps.deepseek.client.chat.completions.create({ model: 'deepseek-reasoner', messages: [{ role: 'user', content: 'Hi' }] })) as any;
    expect(c.choices[0].message.reasoning_content.length).toBeGreaterThan(20);
    expect(c.choices[0].message.content).toBe(recorded.choices[0].message.content);
    expect(c.usage.prompt_cache_hit_tokens).toBe(recorded.usage.prompt_cache_hit_tokens);
  });
});

describe('streams pass through chunk by chunk', () => {
  for (const [name, file] of STREAMS) {
    it(`${name}: ${file}`, async () => {
      const p: Preset = PRESETS[name];
      const recorded = payloads(file);
      const want = summarize(recorded);
      const { client } = apps[name];
      upstream.enqueue(p.chatPath, replyFor(file), replyFor(file));
      const model = recorded.find((c) => c.model)?.model ?? 'm';
      const chunks = await consume(await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } }));
      const sent = expectSentTo(name, p.chatPath);
      expect(sent.json.stream).toBe(true);
      expect(sent.json.stream_options).toEqual(p.asksUsage ? { include_usage: true } : undefined);

      const got = summarize(chunks);
      expect(got.text).toBe(want.text);
      expect(got.reasoning).toBe(want.reasoning);
      expect(got.finish).toEqual(want.finish);
      expect(got.tools).toEqual(want.tools);
      // Usage arrives as recorded (the gateway may add its own `cost`).
      expect(got.usage).toMatchObject(want.usage as object);
      for (const t of got.tools) expect(() => JSON.parse(t.args)).not.toThrow();
      // Nothing dropped; where the dialect already was OpenAI's, every recorded field arrives as recorded.
      expect(chunks).toHaveLength(recorded.length);
      if (name !== 'mistral') expect(chunks).toMatchObject(recorded);

      // The SDK's own stream helper assembles the same answer (it needs `index` and `type` on tool calls).
      const final = await client.chat.completions.stream({ model, messages: [{ role: 'user', content: 'Hi' }] }).finalChatCompletion();
      const message = final.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string };
      expect(message.content ?? '').toBe(want.text);
      expect((message.tool_calls ?? []).map((t: any) => [t.id, t.function.name, t.function.arguments])).toEqual(want.tools.map((t) => [t.id, t.name, t.args]));
      expect(final.choices[0]!.finish_reason).toBe(want.finish.at(-1));
    });
  }

  it('azure: the first chunk with choices [] and prompt_filter_results reaches the client', async () => {
    upstream.enqueue(PRESETS.azure.chatPath, replyFor('azure/chat-completions.model-router.chunks.jsonl'));
    const chunks = await consume(await apps.azure.client.chat.completions.create({ model: 'model-router', messages: [{ role: 'user', content: 'Hi' }], stream: true }));
    expect(chunks[0].choices).toEqual([]);
    expect(chunks[0].prompt_filter_results[0].prompt_index).toBe(0);
    expect(summarize(chunks).text).toBe(summarize(payloads('azure/chat-completions.model-router.chunks.jsonl')).text);
    // Not asked for by this client: the gateway's own usage request stays invisible.
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(upstream.requests[0]!.path).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-12-01-preview');
  });

  it('mistral: whole tool calls get index and type, magistral thinking parts become reasoning_content', async () => {
    upstream.enqueue('/v1/chat/completions', replyFor('mistral/chat-completions.tool-call.chunks.jsonl'), replyFor('mistral/chat-completions.reasoning.chunks.jsonl'));
    const tool = await consume(await apps.mistral.client.chat.completions.create({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }], stream: true }));
    expect(tool[1].choices[0].delta.tool_calls).toEqual([{ index: 0, id: 'gSIMJiOkT', type: 'function', function: { name: 'weather', arguments: '{"location": "San Francisco"}' } }]);
    const thinking = await consume(await apps.mistral.client.chat.completions.create({ model: 'magistral-medium-2507', messages: [{ role: 'user', content: 'Hi' }], stream: true }));
    expect(thinking.every((c) => c.choices.every((ch: any) => ch.delta.content === undefined || typeof ch.delta.content === 'string'))).toBe(true);
    expect(thinking[0].choices[0].delta).toEqual({ role: 'assistant', content: '', reasoning_content: 'The user is asking' });
    expect(summarize(thinking).text).toBe('2 + 2 = 4');
  });

  it('mistral: fields Mistral refuses are renamed or dropped, and its 422 validation errors read clearly', async () => {
    upstream.enqueue('/v1/chat/completions', replyFor('mistral/chat-completions.text.chunks.jsonl'));
    await consume(
      await apps.mistral.client.chat.completions.create({
        model: 'mistral-small-latest',
        messages: [{ role: 'user', content: 'Hi' }],
        stream: true,
        stream_options: { include_usage: true },
        max_completion_tokens: 64,
        seed: 3,
      }),
    );
    expect(upstream.requests[0]!.json).toEqual({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }], stream: true, max_tokens: 64, random_seed: 3 });
    // Synthetic: the 422 body Mistral sends for an unknown field (as quoted in public bug reports).
    upstream.enqueue('/v1/chat/completions', {
      status: 422,
      json: { object: 'error', message: { detail: [{ type: 'extra_forbidden', loc: ['body', 'logit_bias'], msg: 'Extra inputs are not permitted', input: {} }] }, type: 'invalid_request_error', param: null, code: null },
    });
    const err = await apps.mistral.client.chat.completions.create({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'Hi' }], logit_bias: {} }).catch((e) => e);
    expect(err.status).toBe(422);
    expect(err.error).toMatchObject({ message: 'logit_bias: Extra inputs are not permitted', type: 'invalid_request_error' });
  });

  it('several tool calls at once, interleaved, with fragmented arguments (synthetic, built from the OpenAI recording)', async () => {
    const recorded = payloads('openai/chat-completions.tool-call.stream-include-usage.sse');
    const calls = recorded.filter((c) => c.choices[0]?.delta.tool_calls);
    const second = (c: any) => {
      const t = c.choices[0].delta.tool_calls[0];
      const copy = { ...t, index: 1, ...(t.id ? { id: `${t.id}_2`, function: { ...t.function, name: 'get_time' } } : {}) };
      return { ...c, choices: [{ ...c.choices[0], delta: { ...c.choices[0].delta, role: undefined, tool_calls: [copy] } }] };
    };
    const interleaved = calls.flatMap((c) => [c, second(c)]);
    const events = [recorded[0], ...interleaved.slice(1), ...recorded.filter((c) => !c.choices[0]?.delta.tool_calls && c !== recorded[0])];
    upstream.enqueue('/v1/chat/completions', { chunks: [...events.map((e) => `data: ${JSON.stringify(e)}\n\n`), 'data: [DONE]\n\n'] });
    const final = await apps.openai.client.chat.completions.stream({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }).finalChatCompletion();
    const got = (final.choices[0]!.message.tool_calls ?? []) as OpenAI.ChatCompletionMessageFunctionToolCall[];
    const args = summarize(recorded).tools[0]!.args;
    expect(got.map((t) => [t.function.name, t.function.arguments])).toEqual([
      ['get_capital', args],
      ['get_time', args],
    ]);
    expect(got[1]!.id).toBe(`${got[0]!.id}_2`);
  });

  it('several whole tool calls without index, Mistral style, get indexes 0 and 1 (synthetic, built from the Mistral recording)', async () => {
    const [first, call] = payloads('mistral/chat-completions.tool-call.chunks.jsonl');
    const t = call.choices[0].delta.tool_calls[0];
    const a = { ...call, choices: [{ ...call.choices[0], finish_reason: null, delta: { content: null, tool_calls: [t] } }], usage: undefined };
    const b = { ...call, choices: [{ ...call.choices[0], delta: { content: null, tool_calls: [{ ...t, id: 'second01' }] } }] };
    upstream.enqueue('/v1/chat/completions', { chunks: [first, a, b].map((e) => `data: ${JSON.stringify(e)}\n\n`).concat('data: [DONE]\n\n') });
    const final = await apps.mistral.client.chat.completions.stream({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'x' }] }).finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls!.map((x) => x.id)).toEqual(['gSIMJiOkT', 'second01']);
  });
});

describe('errors inside a 200 stream reach the client as errors', () => {
  it('openrouter: ": OPENROUTER PROCESSING" comments are skipped; the error chunk after the content makes the SDK throw', async () => {
    const file = 'openrouter/chat-completions.stream-comments-and-error.sse';
    upstream.enqueue('/api/v1/chat/completions', replyFor(file), replyFor(file));
    const seen: any[] = [];
    const err = await (async () => {
      for await (const c of await apps.openrouter.client.chat.completions.create({ model: 'minimax/minimax-m2:free', messages: [{ role: 'user', content: 'Hello there' }], stream: true })) seen.push(c);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain('Token limit reached');
    expect(err.error).toMatchObject({ message: 'Token limit reached', provider: 'openrouter', source: 'provider' });
    const reasoning = summarize(seen).reasoning;
    expect(reasoning).toBe(summarize(payloads(file).filter((c) => !c.error)).reasoning);
    expect(seen.every((c) => !c.error)).toBe(true);
    // On the wire: no comment lines, and an error event where [DONE] would have been.
    const raw = await (
      await fetch(`${apps.openrouter.app.gatewayURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'minimax/minimax-m2:free', messages: [{ role: 'user', content: 'Hello there' }], stream: true }),
      })
    ).text();
    expect(raw).not.toContain('OPENROUTER PROCESSING');
    expect(raw).not.toContain('[DONE]');
    expect(raw.trimEnd().split('\n\n').at(-1)).toMatch(/^data: \{"error":\{"message":"Token limit reached"/);
  });

  it('groq: reasoning, then "event: error" with tool_use_failed makes the SDK throw with Groq\'s message and code', async () => {
    const file = 'groq/chat-completions.reasoning-then-error.stream.sse';
    upstream.enqueue('/openai/v1/chat/completions', replyFor(file));
    const seen: any[] = [];
    const err = await (async () => {
      for await (const c of await apps.groq.client.chat.completions.create({ model: 'openai/gpt-oss-120b', messages: [{ role: 'user', content: 'x' }], stream: true })) seen.push(c);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain('Tool call validation failed');
    expect(err.error).toMatchObject({ code: 'tool_use_failed', type: 'invalid_request_error', provider: 'groq' });
    // Groq's `reasoning` deltas are also offered as `reasoning_content` and streamed before the failure.
    expect(summarize(seen).reasoning.length).toBeGreaterThan(50);
    expect(seen.some((c) => c.choices[0]?.delta.reasoning_content)).toBe(true);
  });
});

/** Replays each interaction of a cassette: the recorded request goes in through the SDK, the recorded answer comes back. */
async function replayCassette(name: PresetName, interactions: CassetteInteraction[], asOpenAI: (body: any) => any = (b) => b) {
  const p: Preset = PRESETS[name];
  const { client } = apps[name];
  for (const rec of interactions) {
    const status = rec.response.status.code;
    const url = new URL(rec.request.uri);
    const embeddings = url.pathname.endsWith('/embeddings');
    const path = embeddings ? p.embeddingsPath! : p.chatPath;
    const raw = rec.response.body?.string;
    upstream.enqueue(path, raw !== undefined ? { status, chunks: splitSse(raw) } : { status, json: rec.response.parsed_body });
    const body = asOpenAI(rec.request.parsed_body);
    const call: Promise<any> = embeddings ? client.embeddings.create(body) : client.chat.completions.create(body);
    const sentTo = () => {
      const sent = expectSentTo(name, path);
      // The preset builds the provider's real URL (Azure's deployment path and api-version included).
      expect(sent.path).toBe(url.pathname + url.search);
      expect(sent.json).toEqual(body.stream ? body : withoutStreamFalse(body));
    };
    if (status >= 400) {
      const err = await call.catch((e) => e);
      sentTo();
      const recorded = rec.response.parsed_body.error;
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(status);
      expect(err.error.message).toContain(recorded.message);
      if (recorded.metadata?.raw) expect(err.error.message).toContain(recorded.metadata.raw);
      if (typeof recorded.code === 'string') expect(err.error.code).toBe(recorded.code);
      if (recorded.param !== undefined) expect(err.error.param).toBe(recorded.param);
      if (recorded.type) expect(err.error.type).toBe(recorded.type);
      expect(err.error.source).toBe('provider');
      continue;
    }
    if (raw !== undefined) {
      const recorded = payloads('', raw);
      const failure = recorded.find((c) => c.error);
      const chunks: any[] = [];
      const err = await (async () => {
        for await (const c of await call) chunks.push(c);
      })().catch((e) => e);
      sentTo();
      if (failure) {
        expect(err).toBeInstanceOf(OpenAI.APIError);
        expect(err.error.message).toBe(failure.error.message);
      } else {
        expect(err).toBeUndefined();
        expect(chunks).toMatchObject(recorded);
      }
      continue;
    }
    const res = await call;
    sentTo();
    expect(res).toMatchObject(rec.response.parsed_body);
  }
}

describe('recorded cassettes: the provider gets the recorded request, the client gets the recorded answer or error', () => {
  for (const [name, file] of CASSETTES) {
    it(`${name}: ${file}`, () => replayCassette(name, cassette(file), AS_OPENAI_REQUEST[file]));
  }

  it('azure: api-key header and no bearer token, deployment and api-version in the URL', async () => {
    const [rec] = cassette('azure/chat-completions.text.cassette.yaml');
    upstream.enqueue(PRESETS.azure.chatPath, { json: rec!.response.parsed_body });
    const c = await apps.azure.client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'What is the capital of France?' }] });
    const sent = upstream.requests[0]!;
    expect(sent.path).toBe('/openai/deployments/gpt-4o/chat/completions?api-version=2024-12-01-preview');
    expect(sent.headers['api-key']).toBe('azure-fixture-key');
    expect(sent.headers.authorization).toBeUndefined();
    expect(c.choices[0]!.message.content).toBe('The capital of France is **Paris**.');
    expect((c.choices[0] as any).content_filter_results.hate).toEqual({ filtered: false, severity: 'safe' });
  });

  it('openrouter: a 429 keeps its status and reads as a rate limit, with the upstream cause in the message', async () => {
    const [rec] = cassette('openrouter/chat-completions.error-429-upstream.cassette.yaml');
    upstream.enqueue('/api/v1/chat/completions', { status: 429, json: rec!.response.parsed_body });
    const err = await apps.openrouter.client.chat.completions.create(rec!.request.parsed_body).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.error.type).toBe('rate_limit_error');
    expect(err.error.message).toBe(`Provider returned error (Google): ${rec!.response.parsed_body.error.metadata.raw}`);
  });
});

describe('recorded error bodies', () => {
  for (const [name, file, status] of ERROR_BODIES) {
    it(`${name}: ${file} reaches the client with status ${status} in the OpenAI shape`, async () => {
      const recorded = fixtureJson(file);
      upstream.enqueue(PRESETS[name].chatPath, { status, json: recorded });
      const err = await apps[name].client.chat.completions.create({ model: 'o3-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: 10 }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error).toMatchObject({ message: recorded.error.message, type: recorded.error.type, code: recorded.error.code, param: recorded.error.param });
    });
  }
});

describe('embeddings pass through', () => {
  for (const file of EMBEDDINGS) {
    it(`openai: ${file}`, async () => {
      const recorded = fixtureJson(file);
      const base64 = typeof recorded.data[0].embedding === 'string';
      upstream.enqueue('/v1/embeddings', { json: recorded });
      // The SDK asks for base64 unless told otherwise, and decodes it itself.
      const res = await apps.openai.client.embeddings.create({ model: recorded.model, input: 'hello', ...(base64 ? {} : { encoding_format: 'float' as const }) });
      const sent = expectSentTo('openai', '/v1/embeddings');
      expect(sent.json).toEqual({ model: recorded.model, input: 'hello', encoding_format: base64 ? 'base64' : 'float' });
      expect(res.usage).toMatchObject(recorded.usage);
      if (base64) {
        const bytes = Buffer.from(recorded.data[0].embedding, 'base64');
        expect(Array.from(res.data[0]!.embedding)).toEqual(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)));
      } else {
        expect(res).toMatchObject(recorded);
      }
    });
  }
});
