import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, fixtureText } from '../../../../test/helpers/fixtures.js';
import {
  EVENTSTREAM,
  bedrockGateway,
  binFixture,
  decodeFrames,
  eventFrame,
  exceptionFrame,
  expectValidSigV4,
  framesFromJsonl,
  framesOf,
  oddChunks,
} from './bedrock-setup.js';

const g = bedrockGateway();
const NOVA = 'us.amazon.nova-micro-v1:0';
const NOVA_PATH = '/model/us.amazon.nova-micro-v1%3A0/converse-stream';
const CLAUDE4 = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const CLAUDE45 = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const pathOf = (model: string) => `/model/${encodeURIComponent(model)}/converse-stream`;

/** What the recording says the answer is: the text, reasoning and tool input deltas, in order. */
function expected(bin: Uint8Array) {
  const events = decodeFrames(bin);
  const delta = (key: string) =>
    events.filter((e) => e.type === 'contentBlockDelta').map((e) => e.payload.delta[key]).filter(Boolean);
  return {
    text: delta('text').join(''),
    reasoning: delta('reasoningContent').map((r: { text?: string }) => r.text ?? '').join(''),
    usage: events.find((e) => e.type === 'metadata')!.payload.usage,
    stopReason: events.find((e) => e.type === 'messageStop')!.payload.stopReason,
  };
}

async function collect(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  const deltas = chunks.flatMap((c) => c.choices.map((ch) => ch.delta as OpenAI.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string }));
  const tools = new Map<number, { id?: string; name?: string; args: string }>();
  for (const d of deltas) {
    for (const t of d.tool_calls ?? []) {
      const acc = tools.get(t.index) ?? { args: '' };
      if (t.id) acc.id = t.id;
      if (t.function?.name) acc.name = t.function.name;
      acc.args += t.function?.arguments ?? '';
      tools.set(t.index, acc);
    }
  }
  return {
    chunks,
    text: deltas.map((d) => d.content ?? '').join(''),
    reasoning: deltas.map((d) => d.reasoning_content ?? '').join(''),
    tools: [...tools.entries()].sort(([a], [b]) => a - b).map(([, t]) => t),
    finish: chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean),
    usage: chunks.find((c) => c.usage)?.usage,
  };
}

const stream = (model: string, extra: Partial<OpenAI.ChatCompletionCreateParamsStreaming> = {}) =>
  g.client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'What is the capital of France?' }],
    stream: true,
    stream_options: { include_usage: true },
    ...extra,
  });

describe('bedrock ConverseStream, replaying the recorded event streams', () => {
  for (const split of ['whole frames', 'odd-sized chunks'] as const) {
    it(`streams the recorded text answer (${split}) with usage at the end`, async () => {
      const bin = binFixture('converse-stream.text.eventstream.bin');
      // The pause between odd pieces keeps them apart on the wire, so frames really arrive cut.
      const reply = split === 'whole frames' ? { chunks: framesOf(bin) } : { chunks: oddChunks(bin), chunkDelayMs: 1 };
      g.upstream.enqueue(NOVA_PATH, { headers: EVENTSTREAM, ...reply });
      const out = await collect(await stream(NOVA));
      const want = expected(bin);
      expect(out.text).toBe(want.text);
      expect(out.finish).toEqual(['stop']);
      expect(out.usage).toMatchObject({ prompt_tokens: 13, completion_tokens: 82, total_tokens: 95 });
      expect(out.chunks.at(-1)!.usage).toBeTruthy();
      expect(new Set(out.chunks.map((c) => c.id)).size).toBe(1);
      expect(out.chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    });
  }

  it('asks for ConverseStream with a signed request and the recorded body', async () => {
    const [interaction] = cassette('bedrock/converse-stream.text.cassette.yaml');
    g.upstream.enqueue(NOVA_PATH, { headers: EVENTSTREAM, chunks: framesOf(binFixture('converse-stream.text.eventstream.bin')) });
    await collect(
      await g.client.chat.completions.create({
        model: NOVA,
        messages: [
          { role: 'system', content: 'You are a helpful chatbot.' },
          { role: 'user', content: 'What is the capital of France?' },
        ],
        temperature: 0,
        stream: true,
      }),
    );
    const sent = g.upstream.requests[0]!;
    expect(sent.path).toBe(new URL(interaction!.request.uri).pathname);
    expect(sent.json).toEqual(JSON.parse(interaction!.request.body as string));
    expect(sent.headers.accept).toBe('application/vnd.amazon.eventstream');
    expectValidSigV4(sent);
  });

  it('hides the usage chunk from a client that did not ask for it', async () => {
    g.upstream.enqueue(NOVA_PATH, { headers: EVENTSTREAM, chunks: framesOf(binFixture('converse-stream.text.eventstream.bin')) });
    const out = await collect(await g.client.chat.completions.create({ model: NOVA, messages: [{ role: 'user', content: 'x' }], stream: true }));
    expect(out.usage).toBeUndefined();
    expect(out.text.length).toBeGreaterThan(0);
  });

  it('streams the recorded tool call after text, then the answer to its result, sending the recorded bodies', async () => {
    const [first, second] = cassette('bedrock/converse-stream.tool-use.cassette.yaml');
    g.upstream.enqueue(
      NOVA_PATH,
      { headers: EVENTSTREAM, chunks: oddChunks(binFixture('converse-stream.tool-use.eventstream.bin')) },
      { headers: EVENTSTREAM, chunks: oddChunks(binFixture('converse-stream.after-tool-result.eventstream.bin')) },
    );
    const params = (name: string, desc: string, title: string) => ({
      type: 'function' as const,
      function: {
        name,
        description: desc,
        parameters: { properties: { [title.toLowerCase()]: { description: `The ${title.toLowerCase() === 'city' ? 'city' : 'country'} name.`, title, type: 'string' } }, required: [title.toLowerCase()], type: 'object', additionalProperties: false },
      },
    });
    const tools = [params('get_capital', 'Get the capital of a country.', 'Country'), params('get_temperature', 'Get the temperature in a city.', 'City')];
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: 'You are a helpful chatbot.' },
      { role: 'user', content: 'What is the temperature of the capital of France?' },
    ];
    const a = await collect(await g.client.chat.completions.create({ model: NOVA, messages, tools, top_p: 0.5, stream: true }));
    expect(a.text).toBe(expected(binFixture('converse-stream.tool-use.eventstream.bin')).text);
    expect(a.tools).toEqual([{ id: 'tooluse_lAG_zP8QRHmSYOwZzzaCqA', name: 'get_temperature', args: '{"city":"Paris"}' }]);
    expect(a.finish).toEqual(['tool_calls']);

    messages.push(
      { role: 'assistant', content: a.text, tool_calls: [{ id: a.tools[0]!.id!, type: 'function', function: { name: a.tools[0]!.name!, arguments: a.tools[0]!.args } }] },
      { role: 'tool', tool_call_id: a.tools[0]!.id!, content: '30°C' },
    );
    const b = await collect(await g.client.chat.completions.create({ model: NOVA, messages, tools, top_p: 0.5, stream: true }));
    expect(b.text).toBe('The current temperature in Paris, the capital of France, is 30°C.');
    expect(b.finish).toEqual(['stop']);
    expect(g.upstream.requests[0]!.json).toEqual(JSON.parse(first!.request.body as string));
    expect(g.upstream.requests[1]!.json).toEqual(JSON.parse(second!.request.body as string));
  });

  it('streams several tool calls with fragmented input, each under its own index (synthetic frames)', async () => {
    const frames = [
      eventFrame('messageStart', { role: 'assistant' }),
      eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Checking both.' } }),
      eventFrame('contentBlockStop', { contentBlockIndex: 0 }),
      eventFrame('contentBlockStart', { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'tooluse_A', name: 'get_weather' } } }),
      ...['{"ci', 'ty":"Par', 'is"}'].map((input) => eventFrame('contentBlockDelta', { contentBlockIndex: 1, delta: { toolUse: { input } } })),
      eventFrame('contentBlockStop', { contentBlockIndex: 1 }),
      eventFrame('contentBlockStart', { contentBlockIndex: 2, start: { toolUse: { toolUseId: 'tooluse_B', name: 'get_time' } } }),
      ...['{"zone":', '"Europe/', 'Paris"', '}'].map((input) => eventFrame('contentBlockDelta', { contentBlockIndex: 2, delta: { toolUse: { input } } })),
      eventFrame('contentBlockStop', { contentBlockIndex: 2 }),
      eventFrame('messageStop', { stopReason: 'tool_use' }),
      eventFrame('metadata', { usage: { inputTokens: 50, outputTokens: 20, totalTokens: 70, cacheReadInputTokens: 30, cacheWriteInputTokens: 5 }, metrics: { latencyMs: 1 } }),
    ];
    const all = new Uint8Array(Buffer.concat(frames));
    g.upstream.enqueue(pathOf(CLAUDE45), { headers: EVENTSTREAM, chunks: oddChunks(all) });
    const out = await collect(await stream(CLAUDE45));
    expect(out.text).toBe('Checking both.');
    expect(out.tools).toEqual([
      { id: 'tooluse_A', name: 'get_weather', args: '{"city":"Paris"}' },
      { id: 'tooluse_B', name: 'get_time', args: '{"zone":"Europe/Paris"}' },
    ]);
    const indexes = out.chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.index);
    expect([...new Set(indexes)]).toEqual([0, 1]);
    expect(out.finish).toEqual(['tool_calls']);
    expect(out.usage).toMatchObject({
      prompt_tokens: 85,
      completion_tokens: 20,
      total_tokens: 105,
      prompt_tokens_details: { cached_tokens: 30, cache_creation_tokens: 5 },
    });
  });

  it('streams recorded reasoning as reasoning_content, asking Claude for thinking as the recording did', async () => {
    const [interaction] = cassette('bedrock/converse-stream.reasoning.cassette.yaml');
    const bin = binFixture('converse-stream.reasoning.eventstream.bin');
    g.upstream.enqueue(pathOf(CLAUDE4), { headers: EVENTSTREAM, chunks: oddChunks(bin) });
    const out = await collect(await stream(CLAUDE4, { messages: [{ role: 'user', content: 'Hello' }], reasoning_effort: 'low' }));
    const want = expected(bin);
    expect(out.reasoning).toBe(want.reasoning);
    expect(out.text).toBe(want.text);
    expect(out.usage?.completion_tokens).toBe(73);
    // The signature reaches the client so it can hand the thinking back next turn.
    const blocks = out.chunks.flatMap((c) => ((c.choices[0]?.delta as { thinking_blocks?: Array<{ signature?: string }> })?.thinking_blocks ?? []));
    expect(blocks[0]!.signature).toMatch(/^Eu0CCkgIBxAB/);
    const sent = g.upstream.requests[0]!.json;
    expect(sent.additionalModelRequestFields).toEqual(JSON.parse(interaction!.request.body as string).additionalModelRequestFields);
    expect(sent.messages).toEqual(JSON.parse(interaction!.request.body as string).messages);
  });

  it('streams the recorded structured output as text that parses against the schema', async () => {
    const bin = binFixture('converse-stream.structured-output.eventstream.bin');
    g.upstream.enqueue(pathOf(CLAUDE45), { headers: EVENTSTREAM, chunks: oddChunks(bin) });
    const out = await collect(
      await stream(CLAUDE45, {
        response_format: { type: 'json_schema', json_schema: { name: 'CityInfo', schema: { type: 'object', properties: { city: { type: 'string' } } } } },
      }),
    );
    expect(JSON.parse(out.text)).toEqual({ city: 'Paris', country: 'France', population: 2161000 });
    expect(g.upstream.requests[0]!.json.outputConfig.textFormat.type).toBe('json_schema');
  });

  for (const name of ['text', 'reasoning'] as const) {
    it(`replays the decoded ${name} recording (chunks.jsonl), framed back as event-stream`, async () => {
      const lines = fixtureText(`bedrock/converse-stream.${name}.chunks.jsonl`);
      const events = lines.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
      g.upstream.enqueue(pathOf(CLAUDE4), { headers: EVENTSTREAM, chunks: framesFromJsonl(lines) });
      const out = await collect(await stream(CLAUDE4));
      const deltas = events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta.delta);
      expect(out.text).toBe(deltas.map((d) => d.text ?? '').join(''));
      expect(out.reasoning).toBe(deltas.map((d) => d.reasoningContent?.text ?? '').join(''));
      const meta = events.find((e) => e.metadata).metadata.usage;
      expect(out.usage?.completion_tokens).toBe(meta.outputTokens);
      expect(out.finish).toEqual(['stop']);
    });
  }
});

describe('bedrock ConverseStream failures', () => {
  it('answers the recorded 400 before the stream with the status and message', async () => {
    const [interaction] = cassette('bedrock/converse-stream.error-400-invalid-model.cassette.yaml');
    const path = new URL(interaction!.request.uri).pathname;
    g.upstream.enqueue(path, { status: 400, json: (interaction!.response as { parsed_body?: unknown }).parsed_body });
    const err = await stream('us.does-not-exist-model-v1:0').catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error.message).toContain('The provided model identifier is invalid.');
    expect(g.upstream.requests[0]!.path).toBe(path);
  });

  for (const [type, status] of [
    ['throttlingException', 429],
    ['modelStreamErrorException', 424],
    ['serviceUnavailableException', 503],
    ['validationException', 400],
    ['internalServerException', 500],
  ] as const) {
    it(`turns a ${type} frame before any content into HTTP ${status}`, async () => {
      g.upstream.enqueue(pathOf(CLAUDE45), {
        headers: EVENTSTREAM,
        chunks: [eventFrame('messageStart', { role: 'assistant' }), exceptionFrame(type, `synthetic ${type}`)],
      });
      const err = await stream(CLAUDE45).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(status);
      expect(err.error.message).toBe(`synthetic ${type}`);
      expect(err.error.type).toBe(type);
    });
  }

  it('ends a stream that already sent content with an error event, never [DONE]', async () => {
    const recorded = framesOf(binFixture('converse-stream.text.eventstream.bin'));
    g.upstream.enqueue(pathOf(CLAUDE45), {
      headers: EVENTSTREAM,
      chunks: [...recorded.slice(0, 4), exceptionFrame('modelStreamErrorException', 'The model stream failed.')],
    });
    const s = await stream(CLAUDE45);
    let text = '';
    const err = await (async () => {
      for await (const c of s) text += c.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    expect(text).toBe('The capital of France is Paris. Paris is not');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain('The model stream failed.');

    g.upstream.enqueue(pathOf(CLAUDE45), { headers: EVENTSTREAM, chunks: [...recorded.slice(0, 4), exceptionFrame('throttlingException', 'slow down')] });
    const raw = await fetch(`${g.app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: CLAUDE45, messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    const body = await raw.text();
    expect(raw.status).toBe(200);
    expect(body).not.toContain('[DONE]');
    const last = JSON.parse(body.trim().split('\n\n').at(-1)!.slice('data: '.length));
    expect(last.error).toMatchObject({ message: 'slow down', type: 'throttlingException', code: 'throttlingException' });
  });

  it('reports a stream that ends without messageStop as interrupted', async () => {
    const recorded = framesOf(binFixture('converse-stream.text.eventstream.bin'));
    g.upstream.enqueue(pathOf(CLAUDE45), { headers: EVENTSTREAM, chunks: recorded.slice(0, 5) });
    const s = await stream(CLAUDE45);
    const err = await (async () => {
      for await (const _ of s);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toMatch(/messageStop/);
    expect(err.error.code).toBe('stream_interrupted');
  });

  it('reports a stream cut inside a frame as interrupted', async () => {
    const bin = binFixture('converse-stream.text.eventstream.bin');
    const frames = framesOf(bin);
    const cut = frames.slice(0, 3).reduce((n, f) => n + f.length, 0) + 10;
    g.upstream.enqueue(pathOf(CLAUDE45), { headers: EVENTSTREAM, chunks: [bin.slice(0, cut)] });
    const s = await stream(CLAUDE45);
    const err = await (async () => {
      for await (const _ of s);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.error.code).toBe('stream_interrupted');
  });

  it('refuses a frame whose checksum does not match', async () => {
    const frames = framesOf(binFixture('converse-stream.text.eventstream.bin')).map((f) => f.slice());
    frames[1]![frames[1]!.length - 10] ^= 0xff;
    g.upstream.enqueue(pathOf(CLAUDE45), { headers: EVENTSTREAM, chunks: frames });
    const err = await stream(CLAUDE45).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.error.message).toMatch(/malformed event-stream frame/);
  });
});
