import { readdirSync } from 'node:fs';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, FIXTURES, fixtureJson } from '../../../../test/helpers/fixtures.js';
import { anthropicGateway, anthropicStream, cassetteStream, collect, expectedFromEvents, parseEvents } from './anthropic-setup.js';

/**
 * Every recorded Anthropic file replayed by the mock upstream through the gateway, read back with
 * the official OpenAI SDK. Expected values come from the recordings themselves.
 */
const covered = new Set<string>();
const file = (name: string) => (covered.add(name), `anthropic/${name}`);

const FINISH: Record<string, string> = { end_turn: 'stop', tool_use: 'tool_calls', max_tokens: 'length', stop_sequence: 'stop' };
const ask: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming = { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] };

describe('anthropic fixtures through the OpenAI API', () => {
  const gw = anthropicGateway();

  async function replayJson(body: unknown, params: Partial<OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming> = {}) {
    gw.upstream.enqueue('/v1/messages', { json: body });
    return gw.client.chat.completions.create({ ...ask, ...params });
  }

  async function replayStream(events: string[], params: Record<string, unknown> = {}) {
    gw.upstream.enqueue('/v1/messages', { chunks: events });
    const stream = await gw.client.chat.completions.create({ ...ask, ...params, stream: true, stream_options: { include_usage: true } } as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming);
    const got = await collect(stream);
    const want = expectedFromEvents(parseEvents(events));
    expect(got.text).toBe(want.text);
    expect(got.reasoning).toBe(want.reasoning);
    expect(got.tools.map((t) => ({ id: t.id, name: t.name, input: JSON.parse(t.arguments) }))).toEqual(want.tools);
    expect(got.finish).toBe(FINISH[want.stop!]);
    expect(got.usage).toMatchObject(want.usage);
    // Each tool call: id, type and name on its first delta only, then argument fragments under the same index.
    const deltas = got.chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    got.tools.forEach((_, index) => {
      const mine = deltas.filter((d) => d.index === index);
      expect(mine[0]).toMatchObject({ id: expect.stringMatching(/^toolu_/), type: 'function', function: { name: expect.any(String) } });
      for (const later of mine.slice(1)) expect(later.id ?? later.function?.name).toBeUndefined();
    });
    expect(new Set(got.chunks.map((c) => c.id)).size).toBe(1);
    expect(gw.upstream.requests[0]!.json.stream).toBe(true);
    return got;
  }

  it('text: content, finish reason and usage (messages.text.json)', async () => {
    const rec = fixtureJson(file('messages.text.json'));
    const res = await replayJson(rec);
    expect(res.id).toBe(rec.id);
    expect(res.model).toBe(rec.model);
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]!.message).toMatchObject({ role: 'assistant', content: rec.content[0].text });
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 29, total_tokens: 41, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('counts cache reads and writes into the prompt and keeps them apart (synthetic variation of messages.text.json)', async () => {
    const rec = fixtureJson('anthropic/messages.text.json');
    const res = await replayJson({ ...rec, usage: { ...rec.usage, cache_read_input_tokens: 1000, cache_creation_input_tokens: 200 } });
    expect(res.usage).toMatchObject({
      prompt_tokens: 1212,
      completion_tokens: 29,
      total_tokens: 1241,
      prompt_tokens_details: { cached_tokens: 1000, cache_creation_tokens: 200 },
    });
  });

  it('thinking: reasoning_content, signed thinking blocks and reasoning tokens (messages.thinking.json)', async () => {
    const rec = fixtureJson(file('messages.thinking.json'));
    const res = await replayJson(rec, { reasoning_effort: 'high' } as never);
    const message = res.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string; thinking_blocks?: unknown[] };
    expect(message.reasoning_content).toBe(rec.content[0].thinking);
    expect(message.content).toBe(rec.content[1].text);
    expect(message.thinking_blocks).toEqual([rec.content[0]]);
    expect(res.usage).toMatchObject({ prompt_tokens: 51, completion_tokens: 1699, completion_tokens_details: { reasoning_tokens: 139 } });
  });

  it('tool use: a tool call with the input as JSON arguments (messages.tool-use.json)', async () => {
    const rec = fixtureJson(file('messages.tool-use.json'));
    const res = await replayJson(rec, { tools: [{ type: 'function', function: { name: 'json', parameters: { type: 'object' } } }] });
    const call = res.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(call).toMatchObject({ id: rec.content[0].id, type: 'function', function: { name: 'json' } });
    expect(JSON.parse(call.function.arguments)).toEqual(rec.content[0].input);
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('JSON mode: the forced json tool becomes the answer text (messages.tool-use.json)', async () => {
    const rec = fixtureJson('anthropic/messages.tool-use.json');
    const res = await replayJson(rec, { response_format: { type: 'json_object' } });
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual(rec.content[0].input);
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    expect(res.choices[0]!.finish_reason).toBe('stop');
    const sent = gw.upstream.requests[0]!.json;
    expect(sent.tools).toEqual([{ name: 'json', description: expect.any(String), input_schema: { type: 'object' } }]);
    expect(sent.tool_choice).toEqual({ type: 'tool', name: 'json' });
  });

  it('text plus a tool call without arguments gets "{}" (messages.tool-no-args.json)', async () => {
    const rec = fixtureJson(file('messages.tool-no-args.json'));
    const res = await replayJson(rec);
    expect(res.choices[0]!.message.content).toBe(rec.content[0].text);
    expect(res.choices[0]!.message.tool_calls).toEqual([{ id: rec.content[1].id, type: 'function', function: { name: 'updateIssueList', arguments: '{}' } }]);
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('structured output: json_schema goes out as output_config.format, the JSON text comes back (messages.json-output-format.json)', async () => {
    const rec = fixtureJson(file('messages.json-output-format.json'));
    const schema = { type: 'object', properties: { recipe: { type: 'object' } }, required: ['recipe'], additionalProperties: false };
    const res = await replayJson(rec, { response_format: { type: 'json_schema', json_schema: { name: 'recipe', schema, strict: true } } });
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual(JSON.parse(rec.content[0].text));
    // Every object closed, as Anthropic requires (and its SDKs do): the nested one too.
    const closed = { ...schema, properties: { recipe: { type: 'object', additionalProperties: false } } };
    expect(gw.upstream.requests[0]!.json.output_config).toEqual({ format: { type: 'json_schema', schema: closed } });
    expect(res.usage).toMatchObject({ prompt_tokens: 371, completion_tokens: 629 });
  });

  it('a recorded tool round trip: the requests match the recorded ones and both answers translate (messages.tool-use.cassette.yaml)', async () => {
    const [first, second] = cassette(file('messages.tool-use.cassette.yaml'));
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Get the current weather for a city.',
          parameters: { additionalProperties: false, properties: { city: { type: 'string' } }, required: ['city'], type: 'object' },
        },
      },
    ];
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: [{ type: 'text', text: "What's the weather in Paris?" }] }];
    const one = await replayJson(first!.response.parsed_body, { model: 'claude-sonnet-4-5', messages, tools, tool_choice: 'auto' });
    const call = one.choices[0]!.message.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    const recorded = first!.request.parsed_body;
    const sent = gw.upstream.requests[0]!.json;
    for (const key of ['model', 'max_tokens', 'messages', 'tools', 'tool_choice']) expect(sent[key]).toEqual(recorded[key]);
    expect(sent.stream).toBeUndefined();

    gw.upstream.reset();
    messages.push(one.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessageParam, { role: 'tool', tool_call_id: call.id, content: 'Sunny, 22C in Paris' });
    const two = await replayJson(second!.response.parsed_body, { model: 'claude-sonnet-4-5', messages, tools, tool_choice: 'auto' });
    expect(two.choices[0]!.message.content).toMatch(/sunny/);
    const sent2 = gw.upstream.requests[0]!.json;
    // The recording's client also sent `is_error: false`, which is Anthropic's default.
    const recordedMessages = second!.request.parsed_body.messages.map((m: any) => ({
      ...m,
      content: m.content.map(({ is_error, ...block }: any) => (is_error === false ? block : { is_error, ...block })),
    }));
    expect(sent2.messages).toEqual(recordedMessages);
  });

  it('a 400 invalid_request_error keeps its status and message (messages.error-400-invalid-request.cassette.yaml)', async () => {
    const [rec] = cassette(file('messages.error-400-invalid-request.cassette.yaml'));
    gw.upstream.enqueue('/v1/messages', { status: rec!.response.status.code, json: rec!.response.parsed_body });
    const err = await gw.client.chat.completions.create(ask).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.message).toContain(rec!.response.parsed_body.error.message);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request_error', source: 'provider', provider: 'anthropic' });
  });

  it('a 404 not_found_error stays a 404 (messages.error-404-not-found.cassette.yaml)', async () => {
    const [rec] = cassette(file('messages.error-404-not-found.cassette.yaml'));
    gw.upstream.enqueue('/v1/messages', { status: rec!.response.status.code, json: rec!.response.parsed_body });
    const err = await gw.client.chat.completions.create(ask).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.message).toContain('model: claude-sonet-4-5');
  });

  it('an Anthropic message body as Bedrock returns it translates the same (bedrock/invoke.anthropic-messages.cassette.yaml)', async () => {
    const [rec] = cassette('bedrock/invoke.anthropic-messages.cassette.yaml');
    const body = rec!.response.parsed_body;
    const res = await replayJson(body);
    expect(res.choices[0]!.message.content).toBe(body.content[0].text);
    expect(res.usage?.completion_tokens).toBe(body.usage.output_tokens);
  });

  const streams = [
    'messages.text.stream.sse',
    'messages.thinking.stream.sse',
    'messages.redacted-thinking.stream.sse',
    'messages.server-tool-code-execution.stream.sse',
    'messages.tool-use-after-tool-search.stream.sse',
    'messages.parallel-tool-use.stream.sse',
    'messages.text.chunks.jsonl',
    'messages.tool-use.chunks.jsonl',
    'messages.tool-no-args.chunks.jsonl',
    'messages.json-output-format.chunks.jsonl',
  ];
  for (const name of streams) {
    it(`streams ${name}`, async () => {
      await replayStream(anthropicStream(file(name)));
    });
  }

  const cassetteStreams: Array<[string, number]> = [
    ['messages.text.stream.cassette.yaml', 1],
    ['messages.thinking.stream.cassette.yaml', 1],
    ['messages.tool-use-after-tool-search.stream.cassette.yaml', 2],
    ['messages.parallel-tool-use.stream.cassette.yaml', 2],
  ];
  for (const [name, count] of cassetteStreams) {
    file(name);
    for (let i = 0; i < count; i++) {
      it(`streams ${name} interaction ${i}`, async () => {
        await replayStream(cassetteStream(`anthropic/${name}`, i));
      });
    }
  }

  it('streams several tool calls with fragmented arguments at their own indexes (messages.tool-use-after-tool-search.stream.sse)', async () => {
    const got = await replayStream(anthropicStream('anthropic/messages.tool-use-after-tool-search.stream.sse'));
    // The server-side tool search is Anthropic's own business; only the client tool reaches the client, as tool call 0.
    expect(got.tools).toHaveLength(1);
    expect(got.tools[0]).toMatchObject({ id: 'toolu_01EFn5wTNBYA8Reni8rbmnHT', name: 'get_exchange_rate' });
    const fragments = got.chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).filter((d) => d.function?.arguments);
    expect(fragments.length).toBeGreaterThan(3);
  });

  it('streams two parallel tool calls as indexes 0 and 1 (messages.parallel-tool-use.stream.sse)', async () => {
    const got = await replayStream(anthropicStream('anthropic/messages.parallel-tool-use.stream.sse'));
    expect(got.tools.map((t) => [t.id, t.name, t.arguments])).toEqual([
      ['toolu_01LtHJmixrs9NcWQkK8hu8hj', 'pelican_name_generator', '{}'],
      ['toolu_01N8a4jWyf116qKTMqKKmjyt', 'pelican_name_generator', '{}'],
    ]);
  });

  it('streams JSON mode as content (messages.tool-use.chunks.jsonl)', async () => {
    const events = anthropicStream('anthropic/messages.tool-use.chunks.jsonl');
    gw.upstream.enqueue('/v1/messages', { chunks: events });
    const stream = await gw.client.chat.completions.create({ ...ask, stream: true, response_format: { type: 'json_object' } });
    const got = await collect(stream);
    expect(got.tools).toEqual([]);
    expect(JSON.parse(got.text)).toEqual(expectedFromEvents(parseEvents(events)).tools[0]!.input);
    expect(got.finish).toBe('stop');
    // Usage was taken from the upstream for cost, and not shown to a client that did not ask for it.
    expect(got.chunks.some((c) => c.usage)).toBe(false);
  });

  it('streams usage with cache reads and writes (synthetic variation of messages.text.stream.sse)', async () => {
    const events = anthropicStream('anthropic/messages.text.stream.sse').map((e) =>
      e.replace('"cache_creation_input_tokens":0,"cache_read_input_tokens":0', '"cache_creation_input_tokens":30,"cache_read_input_tokens":400'),
    );
    gw.upstream.enqueue('/v1/messages', { chunks: events });
    const got = await collect(await gw.client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } }));
    expect(got.usage).toMatchObject({ prompt_tokens: 450, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 400, cache_creation_tokens: 30 } });
  });

  // Last on purpose: the tests above mark the files they replayed.
  it('replays every recorded anthropic file', () => {
    const files = readdirSync(`${FIXTURES}anthropic`).filter((f) => !f.startsWith('.'));
    expect(files.filter((f) => !covered.has(f))).toEqual([]);
  });
});
