/**
 * Cohere v2 and Mistral end to end, through the official `openai` SDK (/v1/chat/completions,
 * /v1/embeddings) and `@anthropic-ai/sdk` (/v1/messages), against a mock upstream on 127.0.0.1 that
 * replays the recorded fixtures (shared/fixtures/cohere, shared/fixtures/mistral). Edits of a fixture
 * are minimal and commented; their shapes follow the providers' documented APIs:
 * - Cohere v2 chat stream events (docs.cohere.com/reference/chat-stream): `citation-start` carries
 *   `delta.message.citations` {start, end, text, sources, type}; `message-end.delta` carries
 *   `finish_reason` (COMPLETE | STOP_SEQUENCE | MAX_TOKENS | TOOL_CALL | ERROR | TIMEOUT), `error`, `usage`.
 * - Cohere errors (docs.cohere.com/reference/errors): `{id, message}` with the HTTP status.
 * - Mistral's OpenAPI: non-stream `finish_reason` is one of stop | length | model_length | error |
 *   tool_calls (stream: stop | length | error | tool_calls); errors `{object:"error", message, type, param, code}`,
 *   422 validation errors nest FastAPI's `detail` in `message`.
 * - Mistral refuses (400, `invalid_request_message_order`, code 3230) a `user` turn right after a `tool`
 *   turn ("Unexpected role 'user' after role 'tool'"), and a last `assistant` turn without `prefix: true`
 *   ("Expected last role User or Tool (or Assistant with prefix True) for serving but got assistant") —
 *   both seen against api.mistral.ai in many public bug reports (LiteLLM #17761 from /v1/messages with
 *   Claude Code, datapizza-ai #98, avante.nvim #2562, AiNiee #641, smolagents #757).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { cassette, fixtureJson, fixtureText } from './helpers/fixtures.js';
import { sseFromJsonl, sleep, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

let up: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  up.reset();
});

const CO_KEY = 'co-review-secret-key-0123456789';
const MI_KEY = 'mi-review-secret-key-0123456789';
const cohere = () => ({ provider: 'cohere', api_key: CO_KEY, custom_host: `${up.url}/v2` });
const mistral = () => ({ provider: 'mistral', api_key: MI_KEY, custom_host: `${up.url}/v1` });
const CO_MODEL = 'command-a-03-2025';
const MI_MODEL = 'mistral-small-latest';
const USER = [{ role: 'user' as const, content: 'What is the capital of France?' }];

async function gateway(target: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const app = await appFactories.express5!({ env: {}, config: { targets: [target] }, ...extra } as never);
  apps.push(app);
  return {
    app,
    oai: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 }),
    ant: new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 }),
  };
}

/** A raw POST (for the SSE text, `[DONE]` and the cost trailers the SDKs do not show). */
async function raw(app: TestApp, path: string, body: unknown) {
  const res = await request(`${app.gatewayURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, trailers: res.trailers as Record<string, string | undefined> };
}

/** `data:` payloads of an SSE text, in order. */
const dataOf = (text: string) =>
  text
    .split('\n\n')
    .map((e) => e.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'))
    .filter(Boolean);

const chunksOf = (text: string) => dataOf(text).filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));

/** Cohere SSE as the API sends it: `event: <type>` then `data: {"type": <type>, …}`. */
const cohereSse = (lines: string[]) => sseFromJsonl(lines.join('\n'), { eventFromType: true });
const cohereLines = (f: string) => fixtureText(`cohere/${f}`).trim().split('\n');
/** Mistral SSE: `data:` lines and `[DONE]`. */
const mistralSse = (lines: string[]) => sseFromJsonl(lines.join('\n'), { done: true });
const mistralLines = (f: string) => fixtureText(`mistral/${f}`).trim().split('\n');

// USD per million tokens from @pydantic/genai-prices: command-a $2.5 in / $10 out; embed-v4.0 $0.12 in;
// mistral-small-latest $0.1 in / $0.3 out.
const COMMAND_A = { input: 2.5e-6, output: 10e-6 };

// ---------------------------------------------------------------------------------------------
describe('cohere chat through the openai SDK', () => {
  it('non-stream: text, billed usage and cost; the request as Cohere v2 takes it', async () => {
    const { oai } = await gateway(cohere());
    up.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    const { data, response } = await oai.chat.completions
      .create({ model: CO_MODEL, messages: [{ role: 'system', content: 'Be brief.' }, ...USER], max_completion_tokens: 50, top_p: 0.5, stop: 'END', seed: 7 })
      .withResponse();
    expect(data.choices[0]).toMatchObject({ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'The capital of France is Paris.' } });
    expect(data.id).toBe('e7592632-1e3d-424f-b129-bd5f9f980f7b');
    // billed_units (12/7), not the processed tokens (507/10).
    expect(data.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 });
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(12 * COMMAND_A.input + 7 * COMMAND_A.output, 12);
    expect(response.headers.get('x-llmux-provider')).toBe('cohere');
    const sent = up.requests[0]!;
    expect(sent.path).toBe('/v2/chat');
    expect(sent.headers.authorization).toBe(`Bearer ${CO_KEY}`);
    expect(sent.json).toEqual({
      model: CO_MODEL,
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is the capital of France?' }],
      stream: false,
      p: 0.5,
      max_tokens: 50,
      stop_sequences: ['END'],
      seed: 7,
    });
  });

  it('non-stream: tool_plan + tool_calls, thinking, citations, MAX_TOKENS', async () => {
    const { oai } = await gateway(cohere());
    up.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.tool-call.json') });
    const t = await oai.chat.completions.create({ model: CO_MODEL, messages: USER, tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }] });
    const m = t.choices[0]!.message as OpenAI.Chat.ChatCompletionMessage & { reasoning_content?: string };
    expect(t.choices[0]!.finish_reason).toBe('tool_calls');
    expect(m.content).toBeNull();
    expect(m.reasoning_content).toMatch(/^I will use the weather tool/);
    expect(m.tool_calls!.map((c) => [c.id, c.type, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['weather_dqgshstja6p9', 'function', 'weather', { location: 'San Francisco' }],
      ['cityAttractions_dcxfx4myvx68', 'function', 'cityAttractions', { city: 'San Francisco' }],
    ]);
    expect(up.requests[0]!.json.tools).toEqual([{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }]);

    up.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.reasoning.json') });
    const r = await oai.chat.completions.create({ model: CO_MODEL, messages: USER, reasoning_effort: 'low' });
    expect(r.choices[0]!.message.content).toBe('2 + 2 = 4');
    expect((r.choices[0]!.message as { reasoning_content?: string }).reasoning_content).toMatch(/^Okay, so I need to figure out/);
    expect(up.requests[1]!.json.thinking).toEqual({ type: 'enabled', token_budget: 1024 });

    const cited = fixtureJson('cohere/chat-v2.citations.json');
    up.enqueue('/v2/chat', { json: cited });
    const c = await oai.chat.completions.create({ model: CO_MODEL, messages: USER });
    expect((c.choices[0]!.message as { citations?: unknown }).citations).toEqual(cited.message.citations);

    up.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.max-tokens.json') });
    const l = await oai.chat.completions.create({ model: CO_MODEL, messages: USER, max_tokens: 4 });
    expect(l.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: '**The History of' } });
  });

  it('history: tool turns, a named tool_choice and a JSON schema go out as Cohere v2 defines them', async () => {
    const { oai } = await gateway(cohere());
    const rec = cassette('cohere/chat-v2.tool-call.cassette.yaml');
    up.enqueue('/v2/chat', { json: rec[1]!.response.parsed_body });
    const call = { id: 'get_weather_9gpb31r7h7mj', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
    const tools = [
      { type: 'function' as const, function: { name: 'get_weather', description: 'Get the current weather for a city.', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      { type: 'function' as const, function: { name: 'other', parameters: { type: 'object' } } },
    ];
    const res = await oai.chat.completions.create({
      model: 'command-r7b-12-2024',
      messages: [{ role: 'user', content: "What's the weather in Paris?" }, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: 'Sunny, 22C in Paris' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      response_format: { type: 'json_schema', json_schema: { name: 'w', schema: { type: 'object', properties: { t: { type: 'string' } } } } },
    });
    expect(res.choices[0]!.message.content).toBe('The weather in Paris is currently sunny and 22C.');
    const sent = up.requests[0]!.json;
    // As the recorded pydantic-ai request sent them.
    expect(sent.messages).toEqual(rec[1]!.request.parsed_body.messages);
    expect(sent.tool_choice).toBe('REQUIRED');
    expect(sent.tools.map((t: any) => t.function.name)).toEqual(['get_weather']);
    expect(sent.response_format).toEqual({ type: 'json_object', json_schema: { type: 'object', properties: { t: { type: 'string' } } } });
  });

  it('stream: every recorded event type becomes OpenAI chunks; usage and the cost trailer come from message-end', async () => {
    const { app, oai } = await gateway(cohere());
    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.text.chunks.jsonl')) });
    const s = await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true, stream_options: { include_usage: true } });
    expect(s.status).toBe(200);
    expect(up.requests[0]!.json.stream).toBe(true);
    expect(up.requests[0]!.headers.accept).toBe('text/event-stream');
    const data = dataOf(s.text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = chunksOf(s.text);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('The capital of France is Paris.');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 } });
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['321d178c-2c12-44d3-ae42-2f5510f6b1cc']));
    expect(Number(s.trailers['x-llmux-cost'])).toBeCloseTo(12 * COMMAND_A.input + 7 * COMMAND_A.output, 12);

    // tool-plan-delta, tool-call-start/-delta/-end: the SDK's own stream helper assembles whole calls.
    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.tool-call.chunks.jsonl')) });
    const runner = oai.chat.completions.stream({ model: CO_MODEL, messages: USER, stream: true });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.choices[0]!.message.tool_calls!.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['weather_e8p4pn45zt0t', 'weather', { location: 'San Francisco' }],
      ['cityAttractions_pyxssbwnq9fq', 'cityAttractions', { city: 'San Francisco' }],
    ]);
    // The plan streams as reasoning_content deltas (the SDK helper keeps only the last of a field it does not know).
    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.tool-call.chunks.jsonl')) });
    const planned = chunksOf((await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true })).text);
    expect(planned.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('')).toBe(
      'I will use the weather tool to find the weather in San Francisco and the cityAttractions tool to find attractions in San Francisco.',
    );

    // A tool without parameters ends with no argument fragment: "{}" goes out, which clients parse.
    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.empty-tool-call.chunks.jsonl')) });
    const empty = await oai.chat.completions.stream({ model: CO_MODEL, messages: USER, stream: true }).finalChatCompletion();
    expect(empty.choices[0]!.message.tool_calls!.map((c) => [c.function.name, c.function.arguments])).toEqual([['currentTime', '{}']]);

    // Thinking content deltas → reasoning_content, then the text.
    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.reasoning.chunks.jsonl')) });
    const t = await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true });
    const tc = chunksOf(t.text);
    expect(tc.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('')).toMatch(/^The user is asking for the sum of 2 and 2\./);
    expect(tc.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('The answer to 2 + 2 is 4.');
    // Usage was not asked for: no usage chunk, but the request is still costed (billed 8 in / 50 out).
    expect(tc.some((c) => c.usage)).toBe(false);
    expect(Number(t.trailers['x-llmux-cost'])).toBeCloseTo(8 * COMMAND_A.input + 50 * COMMAND_A.output, 12);
  });

  it('a stream cut mid-way ends with an error event, never [DONE]; the SDK raises', async () => {
    const { app, oai } = await gateway(cohere());
    const events = cohereSse(cohereLines('chat-v2.text.chunks.jsonl'));
    up.enqueue('/v2/chat', { chunks: events, cutAfter: 5, chunkDelayMs: 10 });
    const s = await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true });
    expect(s.status).toBe(200);
    const data = dataOf(s.text);
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!)).toMatchObject({ error: { provider: 'cohere', source: 'provider' } });
    expect(s.text).not.toContain(CO_KEY);

    up.enqueue('/v2/chat', { chunks: events, cutAfter: 5, chunkDelayMs: 10 });
    const stream = await oai.chat.completions.create({ model: CO_MODEL, messages: USER, stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(text).toBe('The capital of');

    // A stream that closes cleanly without message-end is cut short too.
    up.enqueue('/v2/chat', { chunks: events.slice(0, 6) });
    const short = await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true });
    expect(dataOf(short.text)).not.toContain('[DONE]');
    expect(JSON.parse(dataOf(short.text).at(-1)!)).toMatchObject({ error: { code: 'stream_interrupted', provider: 'cohere' } });
  });

  it('message-end with finish_reason ERROR after content ends the stream with an error, not a normal stop', async () => {
    const { app } = await gateway(cohere());
    const lines = cohereLines('chat-v2.text.chunks.jsonl');
    const failed = JSON.stringify({ type: 'message-end', delta: { finish_reason: 'ERROR', error: 'internal generation failure' } });
    up.enqueue('/v2/chat', { chunks: cohereSse([...lines.slice(0, -1), failed]), chunkDelayMs: 5 });
    const s = await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true });
    const data = dataOf(s.text);
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!).error.message).toContain('internal generation failure');
    expect(chunksOf(s.text).some((c) => c.choices?.[0]?.finish_reason)).toBe(false);
  });

  it('a client that leaves mid-stream stops the Cohere call', async () => {
    const { oai } = await gateway(cohere());
    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.reasoning.chunks.jsonl')), chunkDelayMs: 25 });
    const ac = new AbortController();
    const stream = await oai.chat.completions.create({ model: CO_MODEL, messages: USER, stream: true }, { signal: ac.signal });
    let n = 0;
    await (async () => {
      for await (const _ of stream) if (++n === 3) ac.abort();
    })().catch(() => {});
    expect(await until(() => up.aborted === 1, 3000)).toBe(true);
  });

  it('errors: Cohere {id, message} bodies keep their status, in the OpenAI shape the SDK raises', async () => {
    const { oai } = await gateway(cohere());
    const cases: Array<[number, string, new (...a: any[]) => Error, string, Record<string, string>?]> = [
      [400, 'too many tokens: total number of tokens in the prompt cannot exceed 4081 - received 4292.', OpenAI.BadRequestError, 'invalid_request_error'],
      [401, 'invalid api token', OpenAI.AuthenticationError, 'authentication_error'],
      [404, "model 'nonexistent' not found, make sure the correct model ID was used and that you have access to the model.", OpenAI.NotFoundError, 'not_found_error'],
      [429, 'You are using a Trial key, which is limited to 10 API calls / minute.', OpenAI.RateLimitError, 'rate_limit_error', { 'retry-after': '7' }],
      [500, 'internal server error', OpenAI.InternalServerError, 'server_error'],
    ];
    for (const [status, message, Err, type, headers] of cases) {
      up.enqueue('/v2/chat', { status, json: { id: '8bd5b608-887c-49f7-a6b3-d3bd5830c3de', message }, ...(headers ? { headers } : {}) });
      const e = await oai.chat.completions.create({ model: CO_MODEL, messages: USER }).catch((x) => x);
      expect(e, String(status)).toBeInstanceOf(Err);
      expect(e.status).toBe(status);
      expect(e.error).toMatchObject({ message, type, provider: 'cohere', source: 'provider' });
      if (headers) expect(e.headers.get('retry-after')).toBe('7');
    }
    // A body that echoes the key it was sent never hands it to the client.
    up.enqueue('/v2/chat', { status: 401, json: { id: 'x', message: `invalid api token ${CO_KEY}` } });
    const e = await oai.chat.completions.create({ model: CO_MODEL, messages: USER }).catch((x) => x);
    expect(JSON.stringify(e.error)).not.toContain(CO_KEY);
    // Asked for something Cohere cannot answer in the OpenAI shape: a 400 naming it, no call made.
    up.requests.length = 0;
    const lp = await oai.chat.completions.create({ model: CO_MODEL, messages: USER, logprobs: true }).catch((x) => x);
    expect(lp.status).toBe(400);
    expect(lp.error.param).toBe('logprobs');
    expect(up.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('cohere through /v1/messages and the Anthropic SDK', () => {
  it('non-stream: text and usage; tool_plan and thinking become a thinking block; MAX_TOKENS is max_tokens', async () => {
    const { ant } = await gateway(cohere());
    up.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    const { data, response } = await ant.messages.create({ model: CO_MODEL, max_tokens: 100, messages: USER }).withResponse();
    expect(data).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'The capital of France is Paris.' }], stop_reason: 'end_turn' });
    expect(data.usage).toMatchObject({ input_tokens: 12, output_tokens: 7 });
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(12 * COMMAND_A.input + 7 * COMMAND_A.output, 12);
    expect(up.requests[0]!.json.max_tokens).toBe(100);

    up.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.tool-call.json') });
    const t = await ant.messages.create({ model: CO_MODEL, max_tokens: 100, messages: USER, tools: [{ name: 'weather', input_schema: { type: 'object' } }] });
    expect(t.stop_reason).toBe('tool_use');
    expect(t.content.map((b) => b.type)).toEqual(['thinking', 'tool_use', 'tool_use']);
    expect(t.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use').map((b) => [b.id, b.name, b.input])).toEqual([
      ['weather_dqgshstja6p9', 'weather', { location: 'San Francisco' }],
      ['cityAttractions_dcxfx4myvx68', 'cityAttractions', { city: 'San Francisco' }],
    ]);

    up.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.max-tokens.json') });
    const l = await ant.messages.create({ model: CO_MODEL, max_tokens: 4, messages: USER });
    expect(l.stop_reason).toBe('max_tokens');
  });

  it('stream: tool calls assemble in the SDK, usage from message-end; a cut stream raises; a 429 is a RateLimitError', async () => {
    const { ant } = await gateway(cohere());
    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.tool-call.chunks.jsonl')) });
    const final = await ant.messages.stream({ model: CO_MODEL, max_tokens: 100, messages: USER, tools: [{ name: 'weather', input_schema: { type: 'object' } }] }).finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.usage).toMatchObject({ input_tokens: 119, output_tokens: 44 });
    expect(final.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use').map((b) => [b.name, b.input])).toEqual([
      ['weather', { location: 'San Francisco' }],
      ['cityAttractions', { city: 'San Francisco' }],
    ]);

    up.enqueue('/v2/chat', { chunks: cohereSse(cohereLines('chat-v2.text.chunks.jsonl')), cutAfter: 5, chunkDelayMs: 10 });
    const s = await ant.messages.create({ model: CO_MODEL, max_tokens: 100, messages: USER, stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of s) seen.push(e.type);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(seen).toContain('content_block_delta');
    expect(seen).not.toContain('message_stop');

    up.enqueue('/v2/chat', { status: 429, json: { id: 'x', message: 'trial key limit' }, headers: { 'retry-after': '4' } });
    const e = await ant.messages.create({ model: CO_MODEL, max_tokens: 100, messages: USER }).catch((x) => x);
    expect(e).toBeInstanceOf(Anthropic.RateLimitError);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: 'trial key limit' } });
    expect(e.headers.get('retry-after')).toBe('4');
  });
});

// ---------------------------------------------------------------------------------------------
describe('cohere embeddings (/v2/embed)', () => {
  const fx = fixtureJson('cohere/embed-v2.json');
  /** Answers each /v2/embed call with one vector per text (its number), billed one token per text. */
  const perText = () =>
    up.route('/v2/embed', (req) => ({
      json: { ...fx, texts: req.json.texts, embeddings: { float: req.json.texts.map((t: string) => [Number(t.slice(1)), 0.5]) }, meta: { ...fx.meta, billed_units: { input_tokens: req.json.texts.length } } },
    }));

  it('input_type, embedding_types, output_dimension; float and the SDK default base64 both decode to Cohere floats; cost', async () => {
    const { oai } = await gateway(cohere());
    up.enqueue('/v2/embed', { json: fx });
    const { data, response } = await oai.embeddings.create({ model: 'embed-v4.0', input: fx.texts }).withResponse();
    // The SDK asked for base64 (its default) and decoded it: float32 of Cohere's floats.
    data.data.forEach((d, i) => fx.embeddings.float[i].forEach((v: number, j: number) => expect(d.embedding[j]).toBeCloseTo(v, 6)));
    expect(data.data.map((d) => d.index)).toEqual([0, 1]);
    expect(data.usage).toMatchObject({ prompt_tokens: 10, total_tokens: 10 });
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(10 * 0.12e-6, 12);
    expect(up.requests[0]!.json).toEqual({ model: 'embed-v4.0', texts: fx.texts, input_type: 'search_document', embedding_types: ['float'] });

    up.enqueue('/v2/embed', { json: fx });
    const f = await raw(apps[0]!, '/v1/embeddings', { model: 'embed-v4.0', input: fx.texts, encoding_format: 'float', dimensions: 256, input_type: 'search_query' });
    const body = JSON.parse(f.text);
    expect(body.data[0].embedding).toEqual(fx.embeddings.float[0]);
    expect(up.requests[1]!.json).toEqual({ model: 'embed-v4.0', texts: fx.texts, input_type: 'search_query', embedding_types: ['float'], output_dimension: 256 });
  });

  it('more than 96 texts go out in calls of at most 96, answered in order, usage summed', async () => {
    const { oai } = await gateway(cohere());
    perText();
    const input = Array.from({ length: 200 }, (_, i) => `t${i}`);
    const r = await oai.embeddings.create({ model: 'embed-v4.0', input, encoding_format: 'float' });
    expect(up.requests.map((q) => q.json.texts.length)).toEqual([96, 96, 8]);
    expect(r.data.every((d, i) => d.index === i && d.embedding[0] === i)).toBe(true);
    expect(r.usage).toMatchObject({ prompt_tokens: 200, total_tokens: 200 });
  });

  it('errors: the recorded 404 keeps its status and message; a 429 in the second batch fails the request with 429', async () => {
    const { oai } = await gateway(cohere());
    const rec = cassette('cohere/embed-v2.error-404.cassette.yaml')[0]!;
    up.enqueue('/v2/embed', { status: rec.response.status.code, json: rec.response.parsed_body });
    const e = await oai.embeddings.create({ model: 'nonexistent', input: 'Hello, world!' }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
    expect(e.error).toMatchObject({ message: rec.response.parsed_body.message, type: 'not_found_error', provider: 'cohere' });

    up.enqueue('/v2/embed', { json: { ...fx, embeddings: { float: Array(96).fill([0.1]) } } }, { status: 429, json: { id: 'x', message: 'trial key limit' } });
    const e2 = await oai.embeddings.create({ model: 'embed-v4.0', input: Array.from({ length: 100 }, (_, i) => `t${i}`) }).catch((x) => x);
    expect(e2).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('a client that leaves stops the fan-out: running calls are aborted and no further call is made', async () => {
    const { oai } = await gateway(cohere());
    up.route('/v2/embed', { hang: true });
    const ac = new AbortController();
    const pending = oai.embeddings.create({ model: 'embed-v4.0', input: Array.from({ length: 500 }, (_, i) => `t${i}`) }, { signal: ac.signal }).catch((x) => x);
    expect(await until(() => up.requests.length === 4, 3000)).toBe(true);
    ac.abort();
    await pending;
    expect(await until(() => up.aborted === 4, 3000)).toBe(true);
    await sleep(50);
    expect(up.requests).toHaveLength(4);
  });
});

// ---------------------------------------------------------------------------------------------
describe('mistral', () => {
  it('non-stream text and tool call; the body Mistral takes (max_tokens, random_seed, no user/stream_options)', async () => {
    const { oai } = await gateway(mistral());
    up.enqueue('/v1/chat/completions', { json: fixtureJson('mistral/chat-completions.text.json') });
    const { data, response } = await oai.chat.completions.create({ model: MI_MODEL, messages: USER, max_completion_tokens: 20, seed: 3, user: 'u1' }).withResponse();
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(response.headers.get('x-llmux-provider')).toBe('mistral');
    const sent = up.requests[0]!;
    expect(sent.headers.authorization).toBe(`Bearer ${MI_KEY}`);
    expect(sent.json).toEqual({ model: MI_MODEL, messages: USER, max_tokens: 20, random_seed: 3 });
    const u = data.usage!;
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(u.prompt_tokens * 0.1e-6 + u.completion_tokens * 0.3e-6, 12);

    up.enqueue('/v1/chat/completions', { json: fixtureJson('mistral/chat-completions.tool-call.json') });
    const t = await oai.chat.completions.create({ model: MI_MODEL, messages: USER, tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object' } } }] });
    expect(t.choices[0]!.message.tool_calls).toEqual([{ id: 'gSIMJiOkT', type: 'function', function: { name: 'weather', arguments: '{"location": "San Francisco"}' } }]);
  });

  it('streams: usage on the last content chunk costs the request; whole tool calls get index and type; magistral thinking', async () => {
    const { app, oai } = await gateway(mistral());
    up.enqueue('/v1/chat/completions', { chunks: mistralSse(mistralLines('chat-completions.text.chunks.jsonl')) });
    const s = await raw(app, '/v1/chat/completions', { model: MI_MODEL, messages: USER, stream: true, stream_options: { include_usage: true } });
    expect(up.requests[0]!.json).not.toHaveProperty('stream_options');
    expect(dataOf(s.text).at(-1)).toBe('[DONE]');
    const usage = chunksOf(s.text).filter((c) => c.usage);
    expect(usage).toHaveLength(1);
    expect(usage[0].usage).toMatchObject({ prompt_tokens: 13, completion_tokens: 8 });
    expect(Number(s.trailers['x-llmux-cost'])).toBeCloseTo(13 * 0.1e-6 + 8 * 0.3e-6, 12);

    up.enqueue('/v1/chat/completions', { chunks: mistralSse(mistralLines('chat-completions.tool-call.chunks.jsonl')) });
    const final = await oai.chat.completions.stream({ model: MI_MODEL, messages: USER, stream: true }).finalChatCompletion();
    expect(final.choices[0]!.message.tool_calls!.map((c) => [c.id, c.type, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['gSIMJiOkT', 'function', 'weather', { location: 'San Francisco' }],
    ]);

    up.enqueue('/v1/chat/completions', { body: fixtureText('mistral/chat-completions.thinking.stream.sse'), headers: { 'content-type': 'text/event-stream' } });
    const th = await raw(app, '/v1/chat/completions', { model: 'magistral-medium-latest', messages: USER, stream: true });
    const tc = chunksOf(th.text);
    expect(tc.every((c) => typeof (c.choices[0]?.delta?.content ?? '') === 'string')).toBe(true);
    expect(tc.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('')).toMatch(/^Okay, the user is/);
    expect(tc.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toMatch(/safe crossing\.$/);
  });

  it('/v1/messages: a streamed tool call and its usage; the body Mistral takes', async () => {
    const { ant } = await gateway(mistral());
    up.enqueue('/v1/chat/completions', { chunks: mistralSse(mistralLines('chat-completions.tool-call.chunks.jsonl')) });
    const final = await ant.messages
      .stream({ model: MI_MODEL, max_tokens: 64, messages: USER, metadata: { user_id: 'u-1' }, tools: [{ name: 'weather', input_schema: { type: 'object' } }] })
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.usage).toMatchObject({ input_tokens: 124, output_tokens: 22 });
    expect(final.content).toEqual([{ type: 'tool_use', id: 'gSIMJiOkT', name: 'weather', input: { location: 'San Francisco' }, caller: { type: 'direct' } }]);
    const sent = up.requests[0]!.json;
    expect(sent.max_tokens).toBe(64);
    for (const k of ['max_completion_tokens', 'stream_options', 'user', 'anthropic_extras']) expect(sent).not.toHaveProperty(k);
  });

  it('errors: Mistral bodies (422 detail, 429, 401, 400) keep their status and a readable message', async () => {
    const { oai } = await gateway(mistral());
    const cases: Array<[number, unknown, new (...a: any[]) => Error, string]> = [
      [422, { object: 'error', message: { detail: [{ type: 'extra_forbidden', loc: ['body', 'foo'], msg: 'Extra inputs are not permitted', input: 1 }] }, type: 'invalid_request_error', param: null, code: null }, OpenAI.UnprocessableEntityError, 'foo: Extra inputs are not permitted'],
      [429, { message: 'Requests rate limit exceeded' }, OpenAI.RateLimitError, 'Requests rate limit exceeded'],
      [401, { message: 'Unauthorized', request_id: 'abc' }, OpenAI.AuthenticationError, 'Unauthorized'],
      [400, { object: 'error', message: 'Prompt contains 40000 tokens, too large for model with 32768 maximum context length', type: 'invalid_request_error', param: null, code: null }, OpenAI.BadRequestError, 'Prompt contains 40000 tokens, too large for model with 32768 maximum context length'],
    ];
    for (const [status, body, Err, message] of cases) {
      up.enqueue('/v1/chat/completions', { status, json: body });
      const e = await oai.chat.completions.create({ model: MI_MODEL, messages: USER }).catch((x) => x);
      expect(e, String(status)).toBeInstanceOf(Err);
      expect(e.error).toMatchObject({ message, provider: 'mistral', source: 'provider' });
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('mistral: finish reasons and message order', () => {
  // Guards: Mistral's finish_reason "model_length" (its OpenAPI enum) reaches OpenAI clients as "length".
  it('mistral finish_reason model_length reaches OpenAI clients as "length"', async () => {
    const { oai } = await gateway(mistral());
    const body = fixtureJson('mistral/chat-completions.text.json');
    body.choices[0].finish_reason = 'model_length'; // the answer stopped at the model's context length
    up.enqueue('/v1/chat/completions', { json: body });
    const r = await oai.chat.completions.create({ model: MI_MODEL, messages: USER });
    expect(r.choices[0]!.finish_reason).toBe('length');
  });

  // Guards: a Mistral "model_length" (truncated) answer reads as stop_reason max_tokens on /v1/messages, not end_turn.
  it('mistral finish_reason model_length reaches Anthropic clients as stop_reason max_tokens', async () => {
    const { ant } = await gateway(mistral());
    const body = fixtureJson('mistral/chat-completions.text.json');
    body.choices[0].finish_reason = 'model_length';
    up.enqueue('/v1/chat/completions', { json: body });
    const m = await ant.messages.create({ model: MI_MODEL, max_tokens: 100, messages: USER });
    expect(m.stop_reason).toBe('max_tokens');
  });

  // Guards: a Mistral answer with finish_reason "error" (generation failed) is an error, as Cohere's ERROR is, not a 200.
  it('mistral non-stream finish_reason error is an error, not a 200 answer', async () => {
    const { oai } = await gateway(mistral());
    const body = fixtureJson('mistral/chat-completions.text.json');
    body.choices[0].finish_reason = 'error';
    up.enqueue('/v1/chat/completions', { json: body });
    const r = await oai.chat.completions.create({ model: MI_MODEL, messages: USER }).catch((x) => x);
    expect(r).toBeInstanceOf(OpenAI.APIError);
    expect(r.status).toBeGreaterThanOrEqual(500);
  });

  // Guards: a Mistral stream whose last chunk says finish_reason "error" ends with an error event, not data: [DONE].
  it('mistral stream finish_reason error ends with an error event, not [DONE]', async () => {
    const { app } = await gateway(mistral());
    const lines = mistralLines('chat-completions.text.chunks.jsonl');
    const last = JSON.parse(lines.at(-1)!);
    last.choices[0].finish_reason = 'error'; // the recorded last chunk, failed instead of stopped
    up.enqueue('/v1/chat/completions', { chunks: mistralSse([...lines.slice(0, -1), JSON.stringify(last)]) });
    const s = await raw(app, '/v1/chat/completions', { model: MI_MODEL, messages: USER, stream: true });
    const data = dataOf(s.text);
    expect(data).not.toContain('[DONE]');
    expect(JSON.parse(data.at(-1)!)).toHaveProperty('error');
  });

  // Guards: an Anthropic prefill (last turn from the assistant) goes to Mistral with `prefix: true`, which it needs to serve it.
  it('mistral: a last assistant turn from /v1/messages (prefill) carries prefix: true', async () => {
    const { ant } = await gateway(mistral());
    up.enqueue('/v1/chat/completions', { json: fixtureJson('mistral/chat-completions.text.json') });
    await ant.messages.create({ model: MI_MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Answer in JSON.' }, { role: 'assistant', content: '{' }] }).catch(() => undefined);
    const messages = up.requests[0]!.json.messages as Array<Record<string, unknown>>;
    const last = messages.at(-1)!;
    expect(last.role === 'user' || last.role === 'tool' || (last.role === 'assistant' && last.prefix === true)).toBe(true);
  });

  // Guards: an Anthropic user turn holding tool_result + text never puts a user turn right after a tool turn (Mistral's 400).
  it("mistral: /v1/messages tool results followed by text never put a user turn right after a tool turn", async () => {
    const { ant } = await gateway(mistral());
    up.enqueue('/v1/chat/completions', { json: fixtureJson('mistral/chat-completions.text.json') });
    await ant.messages
      .create({
        model: MI_MODEL,
        max_tokens: 100,
        tools: [{ name: 'weather', input_schema: { type: 'object' } }],
        messages: [
          { role: 'user', content: 'Weather in San Francisco?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'gSIMJiOkT', name: 'weather', input: { location: 'San Francisco' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'gSIMJiOkT', content: 'sunny' }, { type: 'text', text: 'And tomorrow?' }] },
        ],
      })
      .catch(() => undefined);
    const roles = (up.requests[0]!.json.messages as Array<{ role: string }>).map((m) => m.role);
    const adjacent = roles.some((r, i) => r === 'user' && roles[i - 1] === 'tool');
    expect({ roles, adjacent }).toMatchObject({ adjacent: false });
  });

});

describe('cohere streams: citations and a failed generation', () => {
  // Guards: a streamed answer keeps the citations Cohere sends in citation-start events, as the non-stream one does.
  it('cohere stream keeps the citations a citation-start event carries', async () => {
    const { app } = await gateway(cohere());
    const lines = cohereLines('chat-v2.text.chunks.jsonl');
    const citation = { start: 26, end: 31, text: 'Paris', sources: [{ type: 'document', id: 'doc:0', document: { id: 'doc:0', text: 'Paris is the capital of France.' } }], type: 'TEXT_CONTENT' };
    // Inserted before content-end, as Cohere streams them (citation-start, citation-end).
    const events = [...lines.slice(0, -2), JSON.stringify({ type: 'citation-start', index: 0, delta: { message: { citations: citation } } }), JSON.stringify({ type: 'citation-end', index: 0 }), ...lines.slice(-2)];
    up.enqueue('/v2/chat', { chunks: cohereSse(events) });
    const s = await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true });
    const streamed = chunksOf(s.text).flatMap((c) => c.choices?.[0]?.delta?.citations ?? []);
    expect(streamed).toEqual([citation]);
  });

  // Guards: a stream that fails (message-end ERROR) after content still charges the usage that event carries.
  it('cohere message-end ERROR with usage still counts the billed tokens', async () => {
    const records: any[] = [];
    const { app } = await gateway(cohere(), { onLog: (r: unknown) => records.push(r) });
    const lines = cohereLines('chat-v2.text.chunks.jsonl');
    const failed = JSON.stringify({ type: 'message-end', delta: { finish_reason: 'ERROR', error: 'internal generation failure', usage: { billed_units: { input_tokens: 12, output_tokens: 5 }, tokens: { input_tokens: 507, output_tokens: 8 } } } });
    up.enqueue('/v2/chat', { chunks: cohereSse([...lines.slice(0, -1), failed]), chunkDelayMs: 5 });
    const s = await raw(app, '/v1/chat/completions', { model: CO_MODEL, messages: USER, stream: true });
    expect(dataOf(s.text)).not.toContain('[DONE]');
    expect(await until(() => records.length === 1, 3000)).toBe(true);
    expect(records[0].usage).toMatchObject({ input_tokens: 12, output_tokens: 5 });
    expect(records[0].cost_usd).toBeCloseTo(12 * COMMAND_A.input + 5 * COMMAND_A.output, 12);
  });
});
