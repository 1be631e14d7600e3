import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PipelineStage, RequestState } from '@llmux/core';
import { cassette, fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/** `@anthropic-ai/sdk` pointed at `<app>/llm`, answered by an OpenAI target and by an Anthropic target. */
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const CLIENT_KEY = 'sk-ant-client-side-key';
const toolCassette = () => cassette('anthropic/messages.tool-use.cassette.yaml');
const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
};

async function start(targets: unknown[], strategy?: unknown) {
  const app = await appFactories.express5!({ config: { ...(strategy ? { strategy } : {}), targets } as never });
  const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: CLIENT_KEY, maxRetries: 0 });
  return { app, client };
}

/** Records what the pipeline saw of each request once it ended, as a cost or budget stage would. */
function recordStates(app: TestApp): RequestState[] {
  const seen: RequestState[] = [];
  const stage: PipelineStage = { name: 'test-recorder', after: (state) => void seen.push(state) };
  app.gateway.internals.stages.push(stage);
  return seen;
}

/** An OpenAI stream with two parallel tool calls, built from the recorded single-call stream (synthetic). */
function twoToolCallStream(): string[] {
  const events = splitSse(fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse'));
  const calls = events.filter((e) => e.includes('"tool_calls"'));
  const second = calls.map((e) => e.replace('"index":0,"id":"call_ZR5UUuTt3pf61kjwAJIYdVMj"', '"index":1,"id":"call_second"').replace(/"tool_calls":\[\{"index":0/, '"tool_calls":[{"index":1'));
  const firstCallEnd = events.indexOf(calls[calls.length - 1]!) + 1;
  return [...events.slice(0, firstCallEnd), ...second, ...events.slice(firstCallEnd)];
}

/** The same two calls with their fragments alternating (0, 1, 0, 1…), as some OpenAI-compatible servers send them (synthetic). */
function interleavedToolCallStream(): string[] {
  const events = twoToolCallStream();
  const first = events.filter((e) => /"tool_calls":\[\{"index":0/.test(e));
  const second = events.filter((e) => /"tool_calls":\[\{"index":1/.test(e));
  const start = events.indexOf(first[0]!);
  const rest = events.slice(start).filter((e) => !first.includes(e) && !second.includes(e));
  const mixed = first.flatMap((e, i) => [e, ...(second[i] ? [second[i]!] : [])]);
  return [...events.slice(0, start), ...mixed, ...second.slice(first.length), ...rest];
}

/** Anthropic's rule for a stream: deltas only to the block started last and not yet stopped, blocks numbered in order. */
function blockOrderErrors(events: Anthropic.MessageStreamEvent[]): string[] {
  const errors: string[] = [];
  let open: number | undefined;
  let next = 0;
  for (const e of events) {
    if (e.type === 'content_block_start') {
      if (open !== undefined) errors.push(`block ${e.index} started while ${open} was open`);
      if (e.index !== next) errors.push(`block ${e.index} started, expected ${next}`);
      open = e.index;
      next++;
    } else if (e.type === 'content_block_delta' && e.index !== open) errors.push(`delta for block ${e.index} while ${open ?? 'none'} was open`);
    else if (e.type === 'content_block_stop') {
      if (e.index !== open) errors.push(`stop for block ${e.index} while ${open ?? 'none'} was open`);
      open = undefined;
    }
  }
  return errors;
}

describe('/v1/messages against an OpenAI target', () => {
  let app: TestApp;
  let client: Anthropic;
  beforeAll(async () => {
    ({ app, client } = await start([{ provider: 'openai', api_key: 'sk-openai-upstream', custom_host: `${upstream.url}/v1` }]));
  });
  afterAll(() => app.close());

  it('answers a text message in the Anthropic shape', async () => {
    const rec = fixtureJson('openai/chat-completions.text.json');
    upstream.enqueue('/v1/chat/completions', { json: rec });
    const { data: msg, response } = await client.messages
      .create({
        model: 'gpt-4.1-nano',
        max_tokens: 100,
        top_k: 5,
        system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'Hi' }],
      })
      .withResponse();
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: rec.model, stop_reason: 'end_turn', stop_sequence: null });
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.content).toEqual([{ type: 'text', text: rec.choices[0].message.content }]);
    expect(msg.usage).toMatchObject({ input_tokens: rec.usage.prompt_tokens, output_tokens: rec.usage.completion_tokens });
    expect(response.headers.get('x-llmux-provider')).toBe('openai');
    const sent = upstream.requests[0]!;
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe('Bearer sk-openai-upstream');
    expect(sent.headers['x-api-key']).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain(CLIENT_KEY);
    // Nothing Anthropic-only (top_k, cache breakpoints) reaches an OpenAI upstream; the limit goes out as
    // max_completion_tokens, the one field OpenAI's reasoning models accept.
    expect(sent.json).toEqual({ model: 'gpt-4.1-nano', max_completion_tokens: 100, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
  });

  it('runs a tool round trip: tool_use out, tool_result back in, as the recorded OpenAI requests', async () => {
    const [first, second] = cassette('openai/chat-completions.tool-call.cassette.yaml');
    upstream.enqueue('/v1/chat/completions', { json: first!.response.parsed_body }, { json: second!.response.parsed_body });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: [{ type: 'text', text: "What's the weather in Paris?" }] }];
    const one = await client.messages.create({ model: 'gpt-5-mini', max_tokens: 1000, messages, tools: [weatherTool], tool_choice: { type: 'auto' } });
    expect(one.stop_reason).toBe('tool_use');
    const use = one.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use).toMatchObject({ id: 'call_aDdJTteHrpMdhdkEkyxjxEHH', name: 'get_weather', input: { city: 'Paris' } });
    messages.push({ role: 'assistant', content: one.content as Anthropic.ContentBlockParam[] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Sunny, 22C in Paris' }] });
    const two = await client.messages.create({ model: 'gpt-5-mini', max_tokens: 1000, messages, tools: [weatherTool], tool_choice: { type: 'auto' } });
    expect((two.content[0] as Anthropic.TextBlock).text).toBe(second!.response.parsed_body.choices[0].message.content);
    for (const [i, rec] of [first!, second!].entries()) {
      const sent = upstream.requests[i]!.json;
      const recorded = rec.request.parsed_body;
      expect(sent.messages).toEqual(recorded.messages);
      expect(sent.tool_choice).toBe(recorded.tool_choice);
      // The recorded client asked for OpenAI's strict mode, which Anthropic tools do not carry.
      expect(sent.tools).toEqual(recorded.tools.map(({ function: { strict, ...fn }, ...t }: any) => ({ ...t, function: fn })));
    }
  });

  it('streams text as Anthropic events the SDK assembles, with usage', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
    const stream = client.messages.stream({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const msg = await stream.finalMessage();
    const chunks = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'))
      .map((e) => e.replace(/^data: /, '').trim())
      .filter((d) => d !== '[DONE]')
      .map((d) => JSON.parse(d));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    const usage = chunks.find((c) => c.usage)!.usage;
    expect(msg.content).toEqual([{ type: 'text', text }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage).toMatchObject({ input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens });
    expect(types[0]).toBe('message_start');
    expect(types.at(-2)).toBe('message_delta');
    expect(types.at(-1)).toBe('message_stop');
    expect(upstream.requests[0]!.json.stream_options).toEqual({ include_usage: true });
  });

  it('streams two tool calls with fragmented arguments as two tool_use blocks', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: twoToolCallStream() });
    const stream = client.messages.stream({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Capitals?' }], tools: [weatherTool] });
    const msg = await stream.finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    const uses = msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(uses.map((u) => [u.id, u.name])).toEqual([
      ['call_ZR5UUuTt3pf61kjwAJIYdVMj', 'get_capital'],
      ['call_second', 'get_capital'],
    ]);
    expect(uses[0]!.input).toEqual(uses[1]!.input);
    expect(Object.keys(uses[0]!.input as object).length).toBeGreaterThan(0);
  });

  it('streams parallel tool calls whose fragments interleave as valid blocks with whole inputs', async () => {
    const chunks = interleavedToolCallStream();
    // The fixture really alternates: a fragment of call 1 comes between two of call 0.
    const order = chunks.map((e) => /"tool_calls":\[\{"index":(\d)/.exec(e)?.[1]).filter(Boolean).join('');
    expect(order).toMatch(/^0101/);
    upstream.enqueue('/v1/chat/completions', { chunks });
    const stream = client.messages.stream({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Capitals?' }], tools: [weatherTool] });
    const events: Anthropic.MessageStreamEvent[] = [];
    stream.on('streamEvent', (e) => void events.push(e));
    const msg = await stream.finalMessage();
    expect(blockOrderErrors(events)).toEqual([]);
    const uses = msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(uses.map((u) => u.id)).toEqual(['call_ZR5UUuTt3pf61kjwAJIYdVMj', 'call_second']);
    const sequential = fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse');
    const args = splitSse(sequential)
      .map((e) => /"arguments":"((?:[^"\\]|\\.)*)"/.exec(e)?.[1])
      .filter((a) => a !== undefined)
      .map((a) => JSON.parse(`"${a}"`) as string)
      .join('');
    expect(uses[0]!.input).toEqual(JSON.parse(args));
    expect(uses[1]!.input).toEqual(JSON.parse(args));
  });

  it('keeps streaming call after call live: the second call arrives fragment by fragment, not whole at the end', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: twoToolCallStream(), chunkDelayMs: 20 });
    const stream = client.messages.stream({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Capitals?' }], tools: [weatherTool] });
    const events: Anthropic.MessageStreamEvent[] = [];
    stream.on('streamEvent', (e) => void events.push(e));
    await stream.finalMessage();
    expect(blockOrderErrors(events)).toEqual([]);
    const starts = events.flatMap((e, i) => (e.type === 'content_block_start' ? [i] : []));
    expect(starts).toHaveLength(2);
    // Live: the second call's fragments come as deltas of their own, not as one piece at the end.
    const secondDeltas = events.slice(starts[1]).filter((e) => e.type === 'content_block_delta');
    expect(secondDeltas.length).toBeGreaterThan(1);
  });

  it('sends images and documents as OpenAI image_url, file and text parts', async () => {
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const pdf = Buffer.from('%PDF-1.4 tiny').toString('base64');
    await client.messages.create({
      model: 'gpt-4o',
      max_tokens: 100,
      system: 'Be brief.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare them' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'report.pdf' },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
            { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Plain notes.' } },
          ],
        },
      ],
    });
    expect(upstream.requests[0]!.json.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Compare them' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
          { type: 'file', file: { filename: 'document.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
          { type: 'text', text: 'Plain notes.' },
        ],
      },
    ]);
  });

  it('refuses image and document sources only Anthropic can resolve with a 400 naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'image', source: { type: 'file', file_id: 'file_011' } }, 'messages[0].content[0].source.type'],
      [{ type: 'document', source: { type: 'url', url: 'https://example.com/a.pdf' } }, 'messages[0].content[0].source.type'],
    ];
    for (const [block, param] of cases) {
      const err = await client.messages.create({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: [block as never] }] }).catch((e) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      expect(err.error.error.message).toContain(param);
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('refuses content only Anthropic understands with a 400 naming the block', async () => {
    const search = { type: 'search_result', source: 'https://example.com', title: 'Doc', content: [{ type: 'text', text: 'Fact.' }] };
    const err = await client.messages
      .create({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'Use it' }, search as never] }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('messages[0].content[1].type') } });
    expect(upstream.requests).toHaveLength(0);
  });

  it('refuses a body without max_tokens in the Anthropic error shape', async () => {
    const res = await fetch(`${app.gatewayURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('/v1/messages against an Anthropic target (passthrough)', () => {
  let app: TestApp;
  let client: Anthropic;
  let states: RequestState[];
  beforeAll(async () => {
    ({ app, client } = await start([
      { provider: 'anthropic', api_key: 'sk-ant-upstream', custom_host: `${upstream.url}/v1`, override_params: { model: 'claude-sonnet-4-5' } },
    ]));
    states = recordStates(app);
  });
  beforeEach(() => void (states.length = 0));
  afterAll(() => app.close());

  it('sends the client body as is (target model and key) and returns the upstream message as is', async () => {
    const [rec] = toolCassette();
    upstream.enqueue('/v1/messages', { json: rec!.response.parsed_body });
    const body = { ...rec!.request.parsed_body, model: 'claude-any', metadata: { user_id: 'u-1' }, top_k: 3 };
    const msg = await client.messages.create(body, { headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'token-efficient-tools-2025-02-19' } });
    expect(msg).toEqual(rec!.response.parsed_body);
    const sent = upstream.requests[0]!;
    expect(sent.json).toEqual({ ...body, model: 'claude-sonnet-4-5' });
    expect(sent.headers['x-api-key']).toBe('sk-ant-upstream');
    // The client's API version and beta flags are part of its request and travel with it.
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers['anthropic-beta']).toBe('token-efficient-tools-2025-02-19');
    expect(JSON.stringify(sent.headers)).not.toContain(CLIENT_KEY);
    expect(states[0]!.usage).toMatchObject({ prompt_tokens: 572, completion_tokens: 53 });
  });

  it("applies a target's override_params in Anthropic's names and drops OpenAI-only ones", async () => {
    const { app: other, client: overridden } = await start([
      {
        provider: 'anthropic',
        api_key: 'sk-ant-upstream',
        custom_host: `${upstream.url}/v1`,
        override_params: { model: 'claude-haiku-4-5', max_completion_tokens: 64, stop: 'END', user: 'team-7', temperature: 0.2, seed: 7, response_format: { type: 'json_object' } },
      },
    ]);
    try {
      upstream.enqueue('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
      await overridden.messages.create({ model: 'claude-x', max_tokens: 1000, metadata: { user_id: 'u-1' }, messages: [{ role: 'user', content: 'Hi' }] });
      expect(upstream.requests[0]!.json).toEqual({
        model: 'claude-haiku-4-5',
        max_tokens: 64,
        stop_sequences: ['END'],
        metadata: { user_id: 'team-7' },
        temperature: 0.2,
        messages: [{ role: 'user', content: 'Hi' }],
      });
    } finally {
      await other.close();
    }
  });

  it('passes blocks only Anthropic understands to an Anthropic target', async () => {
    upstream.enqueue('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    const search = { type: 'search_result', source: 'https://example.com', title: 'Doc', content: [{ type: 'text', text: 'Fact.' }] };
    const msg = await client.messages.create({ model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'Use it' }, search as never] }] });
    expect(msg.id).toBe(fixtureJson('anthropic/messages.text.json').id);
    expect(upstream.requests[0]!.json.messages[0].content[1]).toEqual(search);
  });

  it('relays the stream byte for byte and still records its usage', async () => {
    const raw = fixtureText('anthropic/messages.parallel-tool-use.stream.sse');
    upstream.enqueue('/v1/messages', { chunks: splitSse(raw) });
    const res = await fetch(`${app.gatewayURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Two names' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(await res.text()).toBe(raw);
    expect(upstream.requests[0]!.json.stream).toBe(true);
    expect(states[0]!.usage).toMatchObject({ prompt_tokens: 542, completion_tokens: 62 });
  });

  it('streams tool use and thinking to the SDK', async () => {
    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.tool-use-after-tool-search.stream.sse')) });
    const tools = await client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'USD to EUR?' }] }).finalMessage();
    const use = tools.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use).toMatchObject({ id: 'toolu_01EFn5wTNBYA8Reni8rbmnHT', name: 'get_exchange_rate' });
    expect(Object.keys(use.input as object).length).toBeGreaterThan(0);

    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.thinking.stream.sse')) });
    const thought = await client.messages
      .stream({ model: 'claude-sonnet-4-0', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'How do I cross the street?' }] })
      .finalMessage();
    expect(thought.content[0]).toMatchObject({ type: 'thinking', signature: expect.stringMatching(/^Ev/) });
    expect(upstream.requests[1]!.json.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 });
  });

  it('ends a stream that breaks after content with an Anthropic error event', async () => {
    const events = splitSse(fixtureText('anthropic/messages.redacted-thinking.stream.sse'));
    const cut = events.findIndex((e) => e.includes('text_delta')) + 2;
    upstream.enqueue('/v1/messages', {
      chunks: [...events.slice(0, cut), 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'],
    });
    const stream = client.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    const err = await stream.finalMessage().catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(err.message).toContain('Overloaded');
    expect(err.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });
});

describe('/v1/messages fail-over from an Anthropic target', () => {
  let app: TestApp;
  let client: Anthropic;
  beforeAll(async () => {
    ({ app, client } = await start(
      [
        { provider: 'anthropic', api_key: 'sk-ant-upstream', custom_host: `${upstream.url}/v1` },
        { provider: 'openai', api_key: 'sk-openai-upstream', custom_host: `${upstream.url}/v1`, override_params: { model: 'gpt-4o' } },
      ],
      { mode: 'fallback' },
    ));
  });
  afterAll(() => app.close());

  it('moves on when the stream fails before its first content, and the client sees only the second answer', async () => {
    const events = splitSse(fixtureText('anthropic/messages.text.stream.sse'));
    // message_start, content_block_start and ping arrive, then the upstream is overloaded.
    upstream.enqueue('/v1/messages', {
      chunks: [...events.slice(0, 3), 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'],
    });
    upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
    const res = await fetch(`${app.gatewayURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': CLIENT_KEY },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
    const text = await res.text();
    expect(text).not.toContain('msg_018E1hg8GoVTGEKQY3ovMcSJ');
    expect(text).not.toContain('overloaded');
    expect(text.match(/event: message_start/g)).toHaveLength(1);
    expect(text.trimEnd().endsWith('event: message_stop\ndata: {"type":"message_stop"}')).toBe(true);
    expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/messages', '/v1/chat/completions']);

    upstream.enqueue('/v1/messages', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const msg = await client.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    expect((msg.content[0] as Anthropic.TextBlock).text).toBe(fixtureJson('openai/chat-completions.text.json').choices[0].message.content);
  });
});

describe('/v1/messages with the response cache', () => {
  let app: TestApp;
  let client: Anthropic;
  beforeAll(async () => {
    app = await appFactories.express5!({
      config: { cache: { mode: 'simple' }, targets: [{ provider: 'anthropic', api_key: 'sk-ant-upstream', custom_host: `${upstream.url}/v1` }] } as never,
    });
    client = new Anthropic({ baseURL: app.gatewayURL, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(() => app.close());

  it('serves a repeat from the cache, but never for a request that differs only in Anthropic-only fields', async () => {
    const rec = fixtureJson('anthropic/messages.text.json');
    upstream.route('/v1/messages', { json: rec });
    const ask = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hello' }] };
    const first = await client.messages.create(ask).withResponse();
    const again = await client.messages.create(ask).withResponse();
    expect(again.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(again.data.content).toEqual(first.data.content);
    expect(again.data.usage).toMatchObject({ input_tokens: rec.usage.input_tokens, output_tokens: rec.usage.output_tokens });
    const variants = [{ top_k: 3 }, { thinking: { type: 'enabled' as const, budget_tokens: 1024 } }];
    for (const extra of variants) {
      const res = await client.messages.create({ ...ask, ...extra }).withResponse();
      expect(res.response.headers.get('x-llmux-cache')).toBe('MISS');
    }
    expect(upstream.requests).toHaveLength(1 + variants.length);
  });
});

describe('paths below /v1/messages the gateway does not serve', () => {
  it('answer in Anthropic\'s error shape, so the SDK raises its typed NotFoundError with the gateway\'s message', async () => {
    const { app, client } = await start([{ provider: 'openai', api_key: 'sk-openai-upstream', custom_host: `${upstream.url}/v1` }]);
    try {
      const error = await client.messages.countTokens({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Anthropic.NotFoundError);
      const body = (error as InstanceType<typeof Anthropic.NotFoundError>).error as { type: string; error: { type: string; message: string } };
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('not_found_error');
      expect(body.error.message).toContain('/v1/messages/count_tokens');
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await app.close();
    }
  });
});

describe('/v1/messages answered by an OpenAI refusal (structured outputs)', () => {
  // OpenAI documents refusals as `message.refusal` beside `content: null` (and `delta.refusal` in
  // streams); synthetic bodies of that shape, built on the recorded completion and stream.
  const target = () => ({ provider: 'openai', api_key: 'sk-openai-upstream', custom_host: `${upstream.url}/v1` });
  const REFUSAL = "I'm sorry, I cannot assist with that request.";

  it('non-stream: the refusal is the text and stop_reason is "refusal"', async () => {
    const rec = fixtureJson('openai/chat-completions.text.json');
    const refused = { ...rec, choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: REFUSAL }, finish_reason: 'stop', logprobs: null }] };
    upstream.enqueue('/v1/chat/completions', { json: refused });
    const { app, client } = await start([target()]);
    try {
      const msg = await client.messages.create({ model: 'gpt-4.1-nano', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
      expect(msg.stop_reason).toBe('refusal');
      expect(msg.content).toEqual([{ type: 'text', text: REFUSAL }]);
    } finally {
      await app.close();
    }
  });

  it('stream: the refusal streams as text and the final stop_reason is "refusal"', async () => {
    const events = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
    const first = JSON.parse(events[0]!.slice('data: '.length));
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      `data: ${JSON.stringify({ ...first, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] })}\n\n`;
    upstream.enqueue('/v1/chat/completions', {
      chunks: [chunk({ role: 'assistant', content: null, refusal: '' }, null), chunk({ refusal: "I'm sorry, " }, null), chunk({ refusal: 'I cannot assist with that request.' }, null), chunk({}, 'stop'), 'data: [DONE]\n\n'],
    });
    const { app, client } = await start([target()]);
    try {
      const stream = client.messages.stream({ model: 'gpt-4.1-nano', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
      const msg = await stream.finalMessage();
      expect(msg.stop_reason).toBe('refusal');
      expect(msg.content).toHaveLength(1);
      expect(msg.content[0]).toMatchObject({ type: 'text', text: REFUSAL });
    } finally {
      await app.close();
    }
  });
});
