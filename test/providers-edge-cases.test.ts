import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appPerTarget } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, sseFromJsonl, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';
import { AWS, eventFrame } from '../packages/core/test/providers/bedrock-setup.js';

/**
 * The provider translators (anthropic, google, bedrock, cohere, openai-compatible) and the
 * /v1/messages ingress, as a user of the official `openai` SDK (or @anthropic-ai/sdk) sees them:
 * thinking signatures in streams, malformed tools, empty tool arguments, token limits and content
 * shapes other servers need, and who is blamed when a stream stops early. Each of these failed on
 * 0e22b12; each test says where the behaviour it asserts is specified.
 */

let upstream: MockUpstream;

const targets = (url: string): Record<string, Record<string, unknown>> => ({
  anthropic: { provider: 'anthropic', api_key: 'sk-ant-review', custom_host: `${url}/v1` },
  google: { provider: 'google', api_key: 'AIza-review', custom_host: `${url}/v1beta` },
  bedrock: {
    provider: 'bedrock',
    aws_access_key_id: AWS.accessKeyId,
    aws_secret_access_key: AWS.secretAccessKey,
    aws_region: 'us-east-1',
    custom_host: url,
  },
  cohere: { provider: 'cohere', api_key: 'co-review', custom_host: `${url}/v2` },
  openai: { provider: 'openai', api_key: 'sk-review', custom_host: `${url}/v1` },
  deepseek: { provider: 'deepseek', api_key: 'sk-deepseek-review', custom_host: url },
});

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});
const { apps, clients } = appPerTarget(targets, () => upstream);
beforeEach(() => upstream.reset());

async function post(app: string, path: string, body: unknown) {
  const res = await fetch(`${apps[app]!.gatewayURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

/** Every SSE `data:` object of a gateway stream response. */
const dataEvents = (text: string): any[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));

/** Reads an OpenAI SDK stream and assembles choice 0 the way a client does. */
async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  const tools: Array<{ id: string; name: string; arguments: string }> = [];
  let finish: string | null = null;
  for (const c of chunks) {
    const choice = c.choices.find((ch) => ch.index === 0);
    if (!choice) continue;
    for (const t of choice.delta.tool_calls ?? []) {
      const slot = (tools[t.index] ??= { id: '', name: '', arguments: '' });
      if (t.id) slot.id = t.id;
      if (t.function?.name) slot.name += t.function.name;
      slot.arguments += t.function?.arguments ?? '';
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  return { chunks, tools, finish };
}

const EVENTSTREAM = { 'content-type': 'application/vnd.amazon.eventstream' };

// ---------------------------------------------------------------------------------------------
// Regression: the Anthropic stream translator dropped the thinking signature and redacted thinking.
// ---------------------------------------------------------------------------------------------
describe('anthropic stream: signed and redacted thinking reach a streaming OpenAI client', () => {
  /**
   * Anthropic docs (extended thinking + tool use): the thinking blocks of the last assistant turn,
   * signature included, must be sent back with the tool results, or the API answers 400.
   * The non-stream translator keeps them in `message.thinking_blocks` (translate-response.ts) and
   * translate-messages.ts sends exactly that field back; Bedrock's stream hands the signature out as
   * a `thinking_blocks` delta "so it can hand the thinking back next turn" (bedrock-stream.test.ts).
   * The Anthropic stream translator (anthropic/stream.ts `delta()`) ignores `signature_delta` and
   * maps `redacted_thinking` blocks to kind "other", so a streaming client can never complete a
   * tool round trip with thinking on.
   */
  const blocksOf = (chunks: OpenAI.Chat.Completions.ChatCompletionChunk[]) =>
    chunks.flatMap((c) => c.choices.flatMap((ch) => ((ch.delta as { thinking_blocks?: any[] }).thinking_blocks ?? [])));

  it('hands the signature_delta of messages.thinking.stream.sse out as a thinking_blocks delta', async () => {
    const raw = fixtureText('anthropic/messages.thinking.stream.sse');
    const signature = /"signature_delta","signature":"([^"]+)"/.exec(raw)![1]!;
    upstream.enqueue('*', { chunks: splitSse(raw) });
    const { chunks } = await collect(
      await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', stream: true, reasoning_effort: 'low', messages: [{ role: 'user', content: 'How do I cross the street?' }] }),
    );
    expect(blocksOf(chunks).some((b) => b?.type === 'thinking' && b.signature === signature)).toBe(true);
  });

  it('hands the redacted_thinking blocks of messages.redacted-thinking.stream.sse out too, in order', async () => {
    const raw = fixtureText('anthropic/messages.redacted-thinking.stream.sse');
    const data = [...raw.matchAll(/"type":"redacted_thinking","data":"([^"]+)"/g)].map((m) => m[1]);
    expect(data.length).toBe(2);
    upstream.enqueue('*', { chunks: splitSse(raw) });
    const { chunks } = await collect(
      await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', stream: true, reasoning_effort: 'low', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(blocksOf(chunks).filter((b) => b?.type === 'redacted_thinking').map((b) => b.data)).toEqual(data);
  });
});

// ---------------------------------------------------------------------------------------------
// Regression: a function tool without `function` crashed the Gemini request translator.
// ---------------------------------------------------------------------------------------------
describe('google: a function tool without its function object is a 400, not a crash', () => {
  /**
   * DESIGN.md "Errors": "a bad request is 400 naming the bad field … Never a 500 for bad input".
   * The chat schema (http/validate.ts) lets `tools[i].function` be absent; google/tools.ts:22-23 reads
   * `tool.function.name` unguarded. Non-stream this is a 500 internal_error; on a stream the TypeError
   * is wrapped by callChatStream as `network_error` "google could not be reached" (502, source
   * provider), which also makes a fallback move on as if Google were down. Anthropic, Bedrock and
   * Cohere all answer this body with a 400.
   */
  for (const stream of [false, true]) {
    it(`${stream ? 'stream' : 'non-stream'}: answers 400 naming tools[0].function without calling Gemini`, async () => {
      const res = await post('google', '/v1/chat/completions', {
        model: 'gemini-2.5-flash',
        ...(stream ? { stream: true } : {}),
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function' }],
      });
      expect(res.status).toBe(400);
      const error = JSON.parse(res.text).error;
      expect(error.code).toBe('invalid_request');
      expect(String(error.param)).toMatch(/^tools\[0\]/);
      expect(upstream.requests).toHaveLength(0);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Regression: Bedrock streams gave a no-argument tool call "" instead of "{}".
// ---------------------------------------------------------------------------------------------
describe('bedrock stream: a tool call without arguments assembles to "{}" as it does non-stream', () => {
  /**
   * OpenAI sends `"{}"` for a call without arguments, and `arguments` must be JSON text (the SDK's
   * runTools/parse helpers JSON.parse it). Claude sends a no-argument tool as an empty
   * `partial_json: ""` (anthropic/messages.parallel-tool-use.stream.sse); ConverseStream relays that
   * as `toolUse.input: ""`. The non-stream Bedrock translator answers `"{}"` (response.ts:25), the
   * Anthropic and Cohere stream translators add `"{}"` at block end (anthropic/stream.ts:96-99,
   * cohere/stream.ts:56-62), but bedrock/stream.ts:70-72 drops the empty fragment and never closes
   * the call with "{}", so the client assembles `arguments: ""`.
   */
  const frames = (withEmptyDelta: boolean) => [
    eventFrame('messageStart', { role: 'assistant' }),
    eventFrame('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'tooluse_now_1', name: 'current_time' } } }),
    ...(withEmptyDelta ? [eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '' } } })] : []),
    eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
    eventFrame('messageStop', { stopReason: 'tool_use' }),
    eventFrame('metadata', { usage: { inputTokens: 20, outputTokens: 9, totalTokens: 29 }, metrics: { latencyMs: 10 } }),
  ];
  for (const withEmptyDelta of [true, false]) {
    it(`${withEmptyDelta ? 'an empty input fragment' : 'no input fragment at all'} assembles to arguments "{}" (synthetic frames)`, async () => {
      upstream.enqueue('*', { headers: EVENTSTREAM, chunks: frames(withEmptyDelta) });
      const out = await collect(
        await clients.bedrock!.chat.completions.create({
          model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
          stream: true,
          messages: [{ role: 'user', content: 'What time is it?' }],
          tools: [{ type: 'function', function: { name: 'current_time', parameters: { type: 'object', properties: {} } } }],
        }),
      );
      expect(out.finish).toBe('tool_calls');
      expect(out.tools).toEqual([{ id: 'tooluse_now_1', name: 'current_time', arguments: '{}' }]);
      expect(() => JSON.parse(out.tools[0]!.arguments)).not.toThrow();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Regression: /v1/messages sent `max_tokens` to OpenAI, which its reasoning models refuse.
// ---------------------------------------------------------------------------------------------
describe('/v1/messages → an OpenAI reasoning model', () => {
  /**
   * Anthropic requires `max_tokens` on every request, and to-chat-request.ts:158 copies it to the
   * OpenAI body as `max_tokens`, which the openai provider forwards unchanged. OpenAI's reasoning
   * models (o-series, gpt-5*) refuse it: fixture openai/chat-completions.error-400-unsupported-parameter.json
   * ("Unsupported parameter: 'max_tokens' is not supported with this model. Use
   * 'max_completion_tokens' instead."). So every @anthropic-ai/sdk request to such a target fails.
   * `max_completion_tokens` is accepted by every OpenAI chat model (and Mistral's adapt step already
   * renames it back for Mistral).
   */
  it('sends the limit as max_completion_tokens, so the recorded 400 never happens', async () => {
    const refusal = fixtureJson('openai/chat-completions.error-400-unsupported-parameter.json');
    upstream.route('*', (req: RecordedRequest) =>
      req.json?.max_tokens !== undefined ? { status: 400, json: refusal } : { json: { ...fixtureJson('openai/chat-completions.text.json'), model: 'gpt-5-mini' } },
    );
    const res = await post('openai', '/v1/messages', { model: 'gpt-5-mini', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] });
    expect(upstream.requests[0]!.json.max_tokens).toBeUndefined();
    expect(upstream.requests[0]!.json.max_completion_tokens).toBe(1024);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).type).toBe('message');
  });
});

describe('the output limit each OpenAI-compatible service honours', () => {
  /**
   * DeepSeek reads only `max_tokens` and ignores `max_completion_tokens` without a word (so would a
   * /v1/messages request, which now sends the newer name): the limit would be lost, and with it the
   * bound the budget reserved for. OpenAI gets the body as sent.
   */
  it('DeepSeek gets max_completion_tokens as max_tokens, on /v1/chat/completions and /v1/messages; OpenAI gets it as sent', async () => {
    upstream.route('*', () => ({ json: fixtureJson('openai/chat-completions.text.json') }));
    await post('deepseek', '/v1/chat/completions', { model: 'deepseek-chat', max_completion_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    await post('deepseek', '/v1/messages', { model: 'deepseek-chat', max_tokens: 32, messages: [{ role: 'user', content: 'Hi' }] });
    await post('openai', '/v1/chat/completions', { model: 'gpt-5-mini', max_completion_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] });
    const sent = upstream.requests.map((r) => [r.json.max_tokens, r.json.max_completion_tokens]);
    expect(sent).toEqual([
      [64, undefined],
      [32, undefined],
      [undefined, 16],
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Regression: /v1/messages sent content-part arrays where OpenAI-compatible servers need strings.
// ---------------------------------------------------------------------------------------------
describe('/v1/messages → DeepSeek: text-only Anthropic content goes out as string content', () => {
  /**
   * to-chat-request.ts:68-69 itself says "A lone text part reads as plain text, the form every
   * OpenAI-compatible server accepts", and applies that to user and system content, but tool results
   * (toolMessage, line 60) keep `[{type:"text",…}]` arrays, and system/user content of several text
   * blocks (what Claude Code sends) stays an array too. DeepSeek's API accepts only string content:
   * 400 "Failed to deserialize the JSON body into the target type: messages[2]: invalid type:
   * sequence, expected a string" (github.com/microsoft/foundry-dev-tools/issues/264,
   * github.com/marimo-team/marimo/issues/7036). The mock answers like DeepSeek (synthetic error body).
   */
  const deepseekLike = (req: RecordedRequest) => {
    const bad = (req.json?.messages ?? []).findIndex((m: { content?: unknown }) => Array.isArray(m.content));
    return bad >= 0
      ? {
          status: 400,
          json: {
            error: {
              message: `Failed to deserialize the JSON body into the target type: messages[${bad}]: invalid type: sequence, expected a string at line 1 column 200`,
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_request_error',
            },
          },
        }
      : { json: fixtureJson('deepseek/chat-completions.tool-call.json') };
  };

  it('sends a tool_result whose content is one text block (Anthropic SDK / Claude Code form) as a string', async () => {
    upstream.route('*', deepseekLike);
    const res = await post('deepseek', '/v1/messages', {
      model: 'deepseek-chat',
      max_tokens: 512,
      tools: [{ name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_0', name: 'weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_0', content: [{ type: 'text', text: 'sunny, 21°C' }] }] },
      ],
    });
    const tool = upstream.requests[0]!.json.messages.find((m: { role: string }) => m.role === 'tool');
    expect(tool.content).toBe('sunny, 21°C');
    expect(res.status).toBe(200);
  });

  it('sends a system prompt of several text blocks (cache breakpoints, Claude Code form) as one string', async () => {
    upstream.route('*', deepseekLike);
    const res = await post('deepseek', '/v1/messages', {
      model: 'deepseek-chat',
      max_tokens: 512,
      system: [
        { type: 'text', text: 'You are a coding assistant.' },
        { type: 'text', text: 'Answer briefly.', cache_control: { type: 'ephemeral' } },
      ],
      messages: [{ role: 'user', content: 'Hi' }],
    });
    const system = upstream.requests[0]!.json.messages[0];
    expect(system.role).toBe('system');
    expect(typeof system.content).toBe('string');
    expect(system.content).toContain('You are a coding assistant.');
    expect(system.content).toContain('Answer briefly.');
    expect(res.status).toBe(200);
  });

  it('sends user and assistant turns of several text blocks as strings too (assistant text joined as the Anthropic provider joins it)', async () => {
    upstream.route('*', deepseekLike);
    const res = await post('deepseek', '/v1/messages', {
      model: 'deepseek-chat',
      max_tokens: 512,
      messages: [
        { role: 'user', content: [{ type: 'text', text: '<system-reminder>Be terse.</system-reminder>' }, { type: 'text', text: 'Hi' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'The sky is ' }, { type: 'text', text: 'blue' }, { type: 'text', text: '.' }] },
        { role: 'user', content: 'Why?' },
      ],
    });
    const sent = upstream.requests[0]!.json.messages;
    expect(sent[0]).toEqual({ role: 'user', content: '<system-reminder>Be terse.</system-reminder>\n\nHi' });
    expect(sent[1]).toEqual({ role: 'assistant', content: 'The sky is blue.' });
    expect(res.status).toBe(200);
  });

  it('keeps the part array when a block is not text (an image needs it)', async () => {
    upstream.route('*', () => ({ json: fixtureJson('deepseek/chat-completions.tool-call.json') }));
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } };
    const res = await post('deepseek', '/v1/messages', {
      model: 'deepseek-chat',
      max_tokens: 512,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, image] }],
    });
    expect(upstream.requests[0]!.json.messages[0].content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
    ]);
    expect(res.status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Regression: a provider stream that stopped early was blamed on the gateway (bedrock, cohere,
// openai-compatible), while anthropic and google blame the provider for the same event.
// ---------------------------------------------------------------------------------------------
describe('an upstream stream that ends before its terminator is reported as the provider failing', () => {
  /**
   * DESIGN.md "Errors": every error "says whether the gateway or the provider failed". The upstream
   * closing its stream early is the provider's failure; anthropic/stream.ts:144 and google/stream.ts:80
   * say `source: "provider"`, but bedrock/stream.ts:97, cohere/stream.ts:108 and
   * openai-compatible/translate.ts:100 create `stream_interrupted` without a source, so the client
   * reads `type: "gateway_error", source: "gateway"`.
   */
  const cases: Array<[string, string, () => Array<string | Uint8Array>, Record<string, string>]> = [
    ['bedrock', 'anthropic.claude-3-5-haiku-20241022-v1:0', () => [eventFrame('messageStart', { role: 'assistant' }), eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } })], EVENTSTREAM],
    ['cohere', 'command-r-plus', () => sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true }).slice(0, 4), {}],
    ['openai', 'gpt-4o', () => splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')).slice(0, 4), {}],
  ];
  for (const [app, model, chunks, headers] of cases) {
    it(`${app}: the closing error event says source "provider"`, async () => {
      upstream.enqueue('*', { headers, chunks: chunks() });
      const res = await post(app, '/v1/chat/completions', { model, stream: true, messages: [{ role: 'user', content: 'x' }] });
      expect(res.status).toBe(200);
      const last = dataEvents(res.text).at(-1)!;
      expect(last.error.code).toBe('stream_interrupted');
      expect(last.error.source).toBe('provider');
    });
  }
});
