/**
 * Adversarial review of today's changes (8147583..HEAD) at their edges: `strict` now sent to OpenAI
 * for /v1/messages tools, `caller` on tool_use blocks,
 * `allow_storage_uris` (and its server-side setting), a 200 JSON error body on a stream request, U+FEFF
 * in streams, and cache replay of streamed audio. Real adapters (Express 5), official SDKs, mock
 * upstreams on 127.0.0.1.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { cassette, fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';

const TOOL_CALL = cassette('openai/chat-completions.tool-call.cassette.yaml')[0]!.response.parsed_body as Record<string, unknown>;

let up: MockUpstream;
const apps: TestApp[] = [];

beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await up.close();
});
beforeEach(() => up.reset());

async function app(options: Record<string, unknown>): Promise<TestApp> {
  const a = await appFactories.express5!({ env: {}, ...options } as never);
  apps.push(a);
  return a;
}

const openaiTarget = (extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1`, ...extra });
const anthropicClient = (a: TestApp) => new Anthropic({ baseURL: a.gatewayURL, apiKey: 'client-key', maxRetries: 0 });
const openaiClient = (a: TestApp) => new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 });

/**
 * OpenAI's strict-mode rule for a function's schema (its documented "Supported schemas" for Structured
 * Outputs): every object sets `additionalProperties: false` and lists every property in `required`.
 * Anything else is a 400 before the model runs.
 */
function openAIStrictProblem(schema: unknown, at = 'context=()'): string | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const s = schema as Record<string, unknown>;
  if (s.type === 'object' || s.properties !== undefined) {
    if (s.additionalProperties !== false) return `In ${at}, 'additionalProperties' is required to be supplied and to be false.`;
    const props = Object.keys((s.properties as Record<string, unknown>) ?? {});
    const required = Array.isArray(s.required) ? (s.required as string[]) : [];
    const missing = props.find((p) => !required.includes(p));
    if (missing) return `In ${at}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`;
    for (const [k, v] of Object.entries((s.properties as Record<string, unknown>) ?? {})) {
      const inner = openAIStrictProblem(v, `${at}, path=('properties', '${k}')`);
      if (inner) return inner;
    }
  }
  return undefined;
}

/** The mock's OpenAI: refuses a strict function whose schema strict mode cannot take, as OpenAI does. */
function openAIWithStrictCheck(req: RecordedRequest) {
  for (const t of (req.json?.tools ?? []) as Array<{ function: { name: string; strict?: boolean; parameters?: unknown } }>) {
    const problem = t.function.strict === true ? openAIStrictProblem(t.function.parameters) : undefined;
    if (problem) {
      return {
        status: 400,
        json: { error: { message: `Invalid schema for function '${t.function.name}': ${problem}`, type: 'invalid_request_error', param: 'tools[0].function.parameters', code: 'invalid_function_parameters' } },
      };
    }
  }
  return { json: TOOL_CALL };
}

/** A weather tool whose `unit` is optional: a schema Anthropic's strict tool use takes as it is. */
const weatherTool = {
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  strict: true,
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city'],
    additionalProperties: false,
  },
};

const chunkHead = { id: 'chatcmpl-edge', object: 'chat.completion.chunk', created: 1782955818, model: 'gpt-4o-mini-2024-07-18' };
const sseOf = (chunks: object[]) => [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];

async function streamedText(client: OpenAI, body: Record<string, unknown> = {}): Promise<string> {
  const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true, ...body } as never);
  let text = '';
  for await (const c of stream as unknown as AsyncIterable<OpenAI.ChatCompletionChunk>) text += c.choices[0]?.delta?.content ?? '';
  return text;
}

describe('works', () => {
  it('/v1/messages: a strict tool whose schema OpenAI strict mode takes goes as OpenAI strict; the tool_use says caller direct', async () => {
    up.route('/v1/chat/completions', openAIWithStrictCheck);
    const a = await app({ config: { targets: [openaiTarget()] } });
    const tool = { ...weatherTool, input_schema: { ...weatherTool.input_schema, required: ['city', 'unit'] } };
    const msg = await anthropicClient(a).messages.create({ model: 'gpt-5-mini', max_tokens: 300, tools: [tool], messages: [{ role: 'user', content: "What's the weather in Paris?" }] });
    expect(up.requests[0]!.json.tools[0].function.strict).toBe(true);
    expect(msg.content).toEqual([{ type: 'tool_use', id: 'call_aDdJTteHrpMdhdkEkyxjxEHH', name: 'get_weather', input: { city: 'Paris' }, caller: { type: 'direct' } }]);
  });

  it("a stream request answered 200 with a JSON error split across reads (the first a few bytes) reports the provider's text", async () => {
    const error = JSON.stringify({ error: { message: 'You exceeded your current quota, please check your plan.', type: 'insufficient_quota', code: 'insufficient_quota', param: null } });
    up.route('/v1/chat/completions', { headers: { 'content-type': 'application/json' }, chunks: [error.slice(0, 5), error.slice(5, 40), error.slice(40)], chunkDelayMs: 20 });
    const a = await app({ config: { targets: [openaiTarget()] } });
    const e = await streamedText(openaiClient(a)).then(
      () => undefined,
      (x: Error) => x,
    );
    expect(e?.message).toMatch(/exceeded your current quota/);
  });

  it("a U+FEFF that a read begins with stays in the answer; the stream's own byte-order mark goes", async () => {
    const first = JSON.stringify({ ...chunkHead, choices: [{ index: 0, delta: { role: 'assistant', content: 'a\uFEFFb' }, finish_reason: null }] });
    const bytes = Buffer.from(`data: ${first}\n\n`, 'utf8');
    const at = bytes.indexOf(Buffer.from('\uFEFF', 'utf8'));
    const rest = sseOf([{ ...chunkHead, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }]);
    up.route('/v1/chat/completions', { chunks: [Buffer.from('\uFEFF', 'utf8'), bytes.subarray(0, at), bytes.subarray(at), ...rest], chunkDelayMs: 20 });
    const a = await app({ config: { targets: [openaiTarget()] } });
    expect(await streamedText(openaiClient(a))).toBe('a\uFEFFb');
  });

  it('a streamed audio answer (an empty piece, unpadded pieces) is cached whole for a non-stream request', async () => {
    const pcm = Buffer.from(Array.from({ length: 10 }, (_, i) => i * 7));
    const pieces = [pcm.subarray(0, 4), pcm.subarray(4, 5), pcm.subarray(5)].map((b) => b.toString('base64'));
    up.route('/v1/chat/completions', (r) =>
      r.json?.stream
        ? {
            chunks: sseOf([
              { ...chunkHead, choices: [{ index: 0, delta: { role: 'assistant', content: null, audio: { id: 'audio_1', transcript: 'Hel' } }, finish_reason: null }] },
              { ...chunkHead, choices: [{ index: 0, delta: { audio: { data: pieces[0], transcript: 'lo' } }, finish_reason: null }] },
              { ...chunkHead, choices: [{ index: 0, delta: { audio: { data: '' } }, finish_reason: null }] },
              { ...chunkHead, choices: [{ index: 0, delta: { audio: { data: pieces[1] } }, finish_reason: null }] },
              { ...chunkHead, choices: [{ index: 0, delta: { audio: { data: pieces[2], expires_at: 1782959418 } }, finish_reason: 'stop' }] },
            ]),
          }
        : { status: 500, json: { error: { message: 'the cache should have answered' } } },
    );
    const a = await app({ config: { cache: { mode: 'simple' }, targets: [openaiTarget()] } });
    const body = { model: 'gpt-4o-audio-preview', modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'pcm16' }, messages: [{ role: 'user', content: 'Hi' }] };
    const s = await openaiClient(a).chat.completions.create({ ...body, stream: true } as never);
    for await (const _ of s as unknown as AsyncIterable<unknown>) void _;
    let hit: OpenAI.ChatCompletion | undefined;
    for (let i = 0; i < 50 && !hit?.choices[0]?.message.audio; i++) {
      hit = await openaiClient(a).chat.completions.create(body as never).catch(() => undefined);
      if (!hit?.choices[0]?.message.audio) await new Promise((r) => setTimeout(r, 50));
    }
    expect(hit!.choices[0]!.message.audio).toMatchObject({ id: 'audio_1', transcript: 'Hello', data: pcm.toString('base64'), expires_at: 1782959418 });
  });

  it("allow_storage_uris: false under providers holds for a client's config (any spelling), and against hosts written to hide googleapis.com", async () => {
    up.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
    const a = await app({ allowRequestConfig: true, providers: { gemini: { apiKey: 'AIza-server', baseURL: `${up.url}/v1beta`, allow_storage_uris: false } } });
    const urls = ['gs://b/o.png', 'https://STORAGE.googleapis.com./b/o.png', 'https://x@storage.googleapis.com/b/o.png', 'https://generativelanguage.googleapis.com/v1beta/files/abc', 'https://storage.cloud.google.com/b/o.png'];
    for (const config of [{ provider: 'gemini', allow_storage_uris: true }, { provider: 'google' }, undefined]) {
      for (const url of urls) {
        const r = await fetch(`${a.gatewayURL}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(config ? { 'x-portkey-config': JSON.stringify(config) } : {}) },
          body: JSON.stringify({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'text', text: 'Describe' }, { type: 'image_url', image_url: { url } }] }] }),
        });
        expect(r.status, `${JSON.stringify(config)} ${url}`).toBe(400);
        expect((await r.json()).error.param).toBe('messages[0].content[1].image_url.url');
      }
    }
    expect(up.requests).toHaveLength(0);
  });
});

describe('fixed bugs (each test failed before its fix)', () => {
  it('/v1/messages: a strict tool with an optional property still reaches an OpenAI target', async () => {
    // BUG: to-chat-request.ts:279 (`if (typeof strict === 'boolean') fn.strict = strict`) copies an
    // Anthropic tool's `strict: true` to OpenAI's `function.strict` whatever its schema. Anthropic's
    // strict tool use lets properties be optional; OpenAI's strict mode does not (every property in
    // `required`, every object closed) and answers 400 "Invalid schema for function ...". A /v1/messages
    // request that worked before today on an OpenAI target (strict was not sent) is now the provider's
    // 400 on every turn. The same file already guards `output_config.format` this way (`strictReady`,
    // to-chat-request.ts:309, used at :431); tools skip that check.
    up.route('/v1/chat/completions', openAIWithStrictCheck);
    const a = await app({ config: { targets: [openaiTarget()] } });
    const msg = await anthropicClient(a).messages.create({
      model: 'gpt-5-mini',
      max_tokens: 300,
      tools: [weatherTool],
      messages: [{ role: 'user', content: "What's the weather in Paris?" }],
    });
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
  });

  it("a stream request answered 200 with a JSON error gets the error's own status, as the same non-stream request does", async () => {
    // BUG: upstream/call.ts:443 (`refusalInsteadOfEvents`) builds the error of a 200 JSON error body on a
    // stream request with a fixed status 502, while the same body on a non-stream request keeps the
    // status the body names (openai-compatible/translate.ts:17: `status_code`, else a numeric `code`,
    // as OpenRouter and Groq send). The doc comment promises "the provider's own reason, as a
    // non-stream request would get it". An OpenRouter "Insufficient credits" (code 402) reaches a
    // stream client as a 502 server_error: the SDKs retry it (the upstream is asked again for nothing),
    // the circuit breaker counts it as an upstream failure, and the client cannot tell it must pay.
    const error = { error: { code: 402, message: 'Insufficient credits. Add more using https://openrouter.ai/credits' } };
    up.route('/v1/chat/completions', { json: error });
    const a = await app({ config: { targets: [{ provider: 'openrouter', api_key: 'sk-or-up', custom_host: `${up.url}/v1` }] } });
    const client = new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 1 });
    const request = { model: 'openai/gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
    const plain = await client.chat.completions.create(request).then(
      () => undefined,
      (e: InstanceType<typeof OpenAI.APIError>) => e,
    );
    expect(plain?.status).toBe(402);
    up.reset();
    up.route('/v1/chat/completions', { json: error });
    const streamed = await streamedText(client, request).then(
      () => undefined,
      (e: InstanceType<typeof OpenAI.APIError>) => e,
    );
    expect(streamed?.message).toMatch(/Insufficient credits/);
    expect(streamed?.status).toBe(402);
    // Not retried by the SDK: one upstream call, as for the non-stream request.
    expect(up.requests).toHaveLength(1);
  });

  it('a malformed providers.google.allow_storage_uris stops the gateway at start-up, naming the field (never a 400 to clients)', async () => {
    // Was: config/compile.ts (`holdServerFileRefusal`) threw `invalid_config` (400) at request time for a
    // non-boolean `allow_storage_uris` from the server's own `providers` (e.g. 'false' read from an
    // environment variable): every Gemini request, text only, was a 400 telling the client to fix a
    // server setting it cannot see or change. The `providers` schema now refuses it at start-up.
    await expect(app({ providers: { google: { apiKey: 'AIza-server', baseURL: `${up.url}/v1beta`, allow_storage_uris: 'false' } } })).rejects.toThrow(
      /providers\.google\.allow_storage_uris/,
    );
  });
});
