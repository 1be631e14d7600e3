/**
 * `@anthropic-ai/sdk` against `/v1/messages` routed to non-Anthropic targets, each answer replayed
 * from a recorded fixture (or a minimal edit of one) by a mock upstream on 127.0.0.1. Every stream is
 * checked against Anthropic's event grammar; each test's comment says what went wrong before.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { eventStream, framesOf, type Frame } from './helpers/bedrock-frames.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockReply, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await upstream.close();
});
beforeEach(() => upstream.reset());

const BEDROCK_CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const targets = {
  openai: () => ({ provider: 'openai', api_key: 'sk-openai', custom_host: `${upstream.url}/v1` }),
  groq: () => ({ provider: 'groq', api_key: 'gsk-up', custom_host: `${upstream.url}/v1` }),
  ollama: () => ({ provider: 'ollama', custom_host: `${upstream.url}/v1` }),
  mistral: () => ({ provider: 'mistral', api_key: 'sk-mistral', custom_host: `${upstream.url}/v1` }),
  google: () => ({ provider: 'google', api_key: 'AIza-up', custom_host: `${upstream.url}/v1beta` }),
  cohere: () => ({ provider: 'cohere', api_key: 'co-up', custom_host: `${upstream.url}/v2` }),
  bedrock: () => ({ provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: upstream.url }),
};

async function clientFor(target: Record<string, unknown>): Promise<Anthropic> {
  const app = await appFactories.express5!({ env: {}, config: { targets: [target] } as never });
  apps.push(app);
  return new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 });
}

/**
 * Anthropic's stream grammar: message_start first; blocks started in order 0, 1, 2…, one open at a
 * time, deltas of the block's own kind only to the open block; then one message_delta and message_stop last.
 */
function grammarErrors(events: Anthropic.MessageStreamEvent[]): string[] {
  const errors: string[] = [];
  const kinds: Record<string, string[]> = { text: ['text_delta', 'citations_delta'], thinking: ['thinking_delta', 'signature_delta'], tool_use: ['input_json_delta'], redacted_thinking: [] };
  const blockType = new Map<number, string>();
  let open: number | undefined;
  let phase: 'none' | 'blocks' | 'delta' | 'stop' = 'none';
  for (const e of events) {
    if (phase === 'stop') errors.push(`${e.type} after message_stop`);
    if (e.type === 'message_start') {
      if (phase !== 'none') errors.push('message_start not first');
      phase = 'blocks';
      continue;
    }
    if (phase === 'none') errors.push(`${e.type} before message_start`);
    if (e.type === 'content_block_start') {
      if (phase !== 'blocks') errors.push(`block ${e.index} started after message_delta`);
      if (open !== undefined) errors.push(`block ${e.index} started while ${open} was open`);
      if (e.index !== blockType.size) errors.push(`block ${e.index} started, expected ${blockType.size}`);
      blockType.set(e.index, e.content_block.type);
      open = e.index;
    } else if (e.type === 'content_block_delta') {
      if (e.index !== open) errors.push(`delta for block ${e.index} while ${open ?? 'none'} was open`);
      const allowed = kinds[blockType.get(e.index) ?? ''];
      if (allowed && !allowed.includes(e.delta.type)) errors.push(`${e.delta.type} in a ${blockType.get(e.index)} block`);
    } else if (e.type === 'content_block_stop') {
      if (e.index !== open) errors.push(`stop for block ${e.index} while ${open ?? 'none'} was open`);
      open = undefined;
    } else if (e.type === 'message_delta') {
      if (open !== undefined) errors.push(`message_delta while block ${open} was open`);
      if (phase !== 'blocks') errors.push('a second message_delta');
      phase = 'delta';
    } else if (e.type === 'message_stop') {
      if (phase !== 'delta') errors.push('message_stop without message_delta');
      phase = 'stop';
    }
  }
  if (phase !== 'stop') errors.push('no message_stop');
  return errors;
}

/** One streamed answer through the SDK's MessageStream: every event, and the final message. */
async function streamed(client: Anthropic, params: Partial<Anthropic.MessageCreateParamsStreaming>) {
  const stream = client.messages.stream({ model: 'm', max_tokens: 1000, messages: [{ role: 'user', content: 'Hi' }], ...params } as Anthropic.MessageCreateParamsStreaming);
  const events: Anthropic.MessageStreamEvent[] = [];
  stream.on('streamEvent', (e) => void events.push(structuredClone(e)));
  const msg = await stream.finalMessage();
  return { events, msg };
}

// ---- AWS event-stream frames (Bedrock ConverseStream), decoded and re-encoded with valid CRCs ----


describe('/v1/messages streams of Claude on Bedrock keep what the next turn must send back', () => {
  const frames = () => framesOf('bedrock/converse-stream.reasoning.eventstream.bin');
  const recordedSignature = () =>
    frames()
      .map((f) => (f.body.delta as { reasoningContent?: { signature?: string } } | undefined)?.reasoningContent?.signature)
      .find(Boolean)!;

  it('a thinking block ends with its signature (signature_delta), and the next turn sends it back signed', async () => {
    // Claude requires the thinking blocks of its last turn back with their signatures (with tool use
    // and thinking, Bedrock refuses the turn otherwise). The Bedrock stream translator hands the
    // signature out as a `thinking_blocks` delta, which to-events.ts ignored: the SDK assembled
    // `signature: ""`, and that empty signature was what went back to Bedrock next turn.
    const client = await clientFor(targets.bedrock());
    upstream.enqueue(`/model/${encodeURIComponent(BEDROCK_CLAUDE)}/converse-stream`, eventStream(frames()));
    const { events, msg } = await streamed(client, { model: BEDROCK_CLAUDE, max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 } });
    expect(grammarErrors(events)).toEqual([]);
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(msg.content[0]).toMatchObject({ type: 'thinking', thinking: expect.stringContaining('greeted me'), signature: recordedSignature() });

    upstream.enqueue(`/model/${encodeURIComponent(BEDROCK_CLAUDE)}/converse`, { json: fixtureJson('bedrock/converse.text.json') });
    await client.messages.create({
      model: BEDROCK_CLAUDE,
      max_tokens: 2048,
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: msg.content as Anthropic.ContentBlockParam[] },
        { role: 'user', content: 'And now?' },
      ],
    });
    const assistant = upstream.requests[1]!.json.messages[1];
    expect(assistant.content[0].reasoningContent.reasoningText.signature).toBe(recordedSignature());
  });

  it('a redacted_thinking block reaches the SDK as one, with its data', async () => {
    // Bedrock streams redacted reasoning as `reasoningContent.redactedContent` (ConverseStream
    // ReasoningContentBlockDelta); it was dropped, so the encrypted block Claude needs back was lost.
    // Minimal edit of the recording: a redacted block between the thinking and the text.
    const data = Buffer.from('opaque encrypted reasoning').toString('base64');
    const recorded = frames();
    const textAt = recorded.findIndex((f) => (f.body.delta as { text?: string } | undefined)?.text !== undefined);
    const shifted = recorded.map((f) => (typeof f.body.contentBlockIndex === 'number' && f.body.contentBlockIndex >= 1 ? { ...f, body: { ...f.body, contentBlockIndex: f.body.contentBlockIndex + 1 } } : f));
    const redacted: Frame[] = [
      { event: 'contentBlockDelta', body: { contentBlockIndex: 1, delta: { reasoningContent: { redactedContent: data } }, p: 'abc' } },
      { event: 'contentBlockStop', body: { contentBlockIndex: 1, p: 'abc' } },
    ];
    const client = await clientFor(targets.bedrock());
    upstream.enqueue(`/model/${encodeURIComponent(BEDROCK_CLAUDE)}/converse-stream`, eventStream([...shifted.slice(0, textAt), ...redacted, ...shifted.slice(textAt)]));
    const { events, msg } = await streamed(client, { model: BEDROCK_CLAUDE });
    expect(grammarErrors(events)).toEqual([]);
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'redacted_thinking', 'text']);
    expect(msg.content[0]).toMatchObject({ signature: recordedSignature() });
    expect(msg.content[1]).toEqual({ type: 'redacted_thinking', data });
  });
});

describe('/v1/messages stream: parallel tool calls that all carry index 0', () => {
  it('each call with its own id becomes its own tool_use block (Ollama numbers every call 0)', async () => {
    // ollama/ollama#15457: Ollama's OpenAI-compatible stream sends every parallel call whole, each with
    // its own id but all with `index: 0` (SGLang and others likewise). to-events.ts keyed calls by index
    // only, so the second call's arguments went into the first block: one tool_use whose input was
    // `{...}{...}`, and the second call was lost. Minimal edit of the recorded tool-call stream.
    const events = splitSse(fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse'));
    const chunks = events.map((e) => (e.startsWith('data: {') ? JSON.parse(e.slice('data: '.length)) : undefined));
    const args = chunks.flatMap((c) => c?.choices[0]?.delta?.tool_calls?.map((t: { function: { arguments: string } }) => t.function.arguments) ?? []).join('');
    const head = chunks[0];
    const call = (id: string, country: string) =>
      `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id, type: 'function', function: { name: 'get_capital', arguments: args.replace(/"country":\s*"[^"]*"/, `"country":"${country}"`) } }] }, finish_reason: null }] })}\n\n`;
    const finish = events.filter((e) => /"finish_reason":"tool_calls"|"usage":\{|\[DONE\]/.test(e));
    const client = await clientFor(targets.ollama());
    upstream.enqueue('/v1/chat/completions', { chunks: [call('call_fr', 'France'), call('call_it', 'Italy'), ...finish] });
    const { events: seen, msg } = await streamed(client, { model: 'qwen2.5-coder:7b', tools: [{ name: 'get_capital', input_schema: { type: 'object' } }] });
    expect(grammarErrors(seen)).toEqual([]);
    const uses = msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use');
    expect(uses.map((u) => [u.id, u.input])).toEqual([
      ['call_fr', { country: 'France' }],
      ['call_it', { country: 'Italy' }],
    ]);
    expect(msg.stop_reason).toBe('tool_use');
  });
});

describe('/v1/messages: a tool_result with an image or a document', () => {
  const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
  const PDF = Buffer.from('%PDF-1.4 tiny').toString('base64');
  const screenshotTurn = (model: string): Anthropic.MessageCreateParamsNonStreaming => ({
    model,
    max_tokens: 100,
    tools: [{ name: 'screenshot', input_schema: { type: 'object' } }],
    messages: [
      { role: 'user', content: 'What is on screen?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'screenshot', input: {} }] },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: 'toolu_01',
            content: [
              { type: 'text', text: 'Captured.' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'page.pdf' },
            ],
          },
          { type: 'text', text: 'Describe it.' },
        ],
      },
    ],
  });

  it('OpenAI gets text only in the tool message; the image and the file follow in a user message', async () => {
    // OpenAI: a tool message's content is text ("Image URLs are only allowed for messages with role
    // 'user'"). Computer-use and screenshot tools answer with images; the ingress put image_url and
    // file parts into the `tool` message, which OpenAI refuses with a 400.
    const client = await clientFor(targets.openai());
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    await client.messages.create(screenshotTurn('gpt-4o'));
    const messages = upstream.requests[0]!.json.messages;
    expect(messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'toolu_01', content: 'Captured.' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
          { type: 'file', file: { filename: 'page.pdf', file_data: `data:application/pdf;base64,${PDF}` } },
          { type: 'text', text: 'Describe it.' },
        ],
      },
    ]);
  });

  it('Gemini and Bedrock get the image too, instead of dropping it or refusing the turn', async () => {
    // Gemini's translator kept only the text of a tool message (the screenshot silently vanished);
    // Bedrock's refused it with a gateway 400 "messages[2].content[1] must be a text part".
    const gemini = await clientFor(targets.google());
    upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', { json: fixtureJson('gemini/generateContent.text.json') });
    await gemini.messages.create(screenshotTurn('gemini-2.5-flash'));
    const parts = upstream.requests[0]!.json.contents.flatMap((c: { parts: unknown[] }) => c.parts);
    expect(parts).toContainEqual({ inlineData: { mimeType: 'image/png', data: PNG } });

    const bedrock = await clientFor(targets.bedrock());
    upstream.enqueue(`/model/${encodeURIComponent(BEDROCK_CLAUDE)}/converse`, { json: fixtureJson('bedrock/converse.text.json') });
    const msg = await bedrock.messages.create(screenshotTurn(BEDROCK_CLAUDE));
    expect(msg.type).toBe('message');
    const blocks = upstream.requests[1]!.json.messages.flatMap((m: { content: unknown[] }) => m.content);
    expect(blocks.find((b: { toolResult?: unknown }) => b.toolResult)).toMatchObject({ toolResult: { toolUseId: 'toolu_01', content: [{ text: 'Captured.' }] } });
    expect(blocks.find((b: { image?: unknown }) => b.image)).toMatchObject({ image: { format: 'png' } });
  });
});

describe('/v1/messages: a failed tool (is_error) to an OpenAI-compatible target', () => {
  it('does not send `is_error`, a field Groq refuses, on the tool message', async () => {
    // Agents (Claude Code among them) mark every failed tool call `is_error: true`. The ingress keeps it
    // on the OpenAI tool message for Bedrock's toolResult status, but it reached every OpenAI-compatible
    // server too, and Groq answers unknown message fields with a 400 ("'messages.2' : property
    // 'is_error' is unsupported", as for `reasoning_content` or `metadata`).
    const client = await clientFor(targets.groq());
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('groq/chat-completions.text.json') });
    await client.messages.create({
      model: 'llama-3.3-70b-versatile',
      max_tokens: 100,
      tools: [{ name: 'weather', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'weather', input: { location: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'weather service is down', is_error: true }] },
      ],
    });
    const sent = upstream.requests[0]!;
    expect(sent.json.messages[2]).toEqual({ role: 'tool', tool_call_id: 'toolu_01', content: 'weather service is down' });
    expect(sent.text).not.toContain('is_error');
  });
});

describe('/v1/messages: recorded streams of every provider follow Anthropic\'s event grammar', () => {
  // Coverage beyond first/last event types: reasoning → text → tools from DeepSeek, xAI, Cohere
  // (tool plan), Gemini thinking, a Cohere call without arguments, a Mistral call sent whole.
  const cases: Array<[string, keyof typeof targets, string, () => MockReply, string[]]> = [
    ['deepseek reasoning → tool call', 'openai', '/v1/chat/completions', () => ({ chunks: sseFromJsonl(fixtureText('deepseek/chat-completions.tool-call.chunks.jsonl'), { done: true }) }), ['thinking', 'tool_use']],
    ['xai reasoning → tool call', 'openai', '/v1/chat/completions', () => ({ chunks: sseFromJsonl(fixtureText('xai/chat-completions.tool-call.chunks.jsonl'), { done: true }) }), ['thinking', 'tool_use']],
    ['mistral whole tool call with finish and usage', 'mistral', '/v1/chat/completions', () => ({ chunks: sseFromJsonl(fixtureText('mistral/chat-completions.tool-call.chunks.jsonl'), { done: true }) }), ['tool_use']],
    ['mistral thinking parts', 'mistral', '/v1/chat/completions', () => ({ chunks: splitSse(fixtureText('mistral/chat-completions.thinking.stream.sse')) }), ['thinking', 'text']],
    ['gemini thinking → text', 'google', '/v1beta/models/m:streamGenerateContent', () => ({ chunks: splitSse(fixtureText('gemini/streamGenerateContent.thinking.sse')) }), ['thinking', 'text']],
    ['cohere tool plan → two calls', 'cohere', '/v2/chat', () => ({ chunks: sseFromJsonl(fixtureText('cohere/chat-v2.tool-call.chunks.jsonl'), { eventFromType: true }) }), ['thinking', 'tool_use', 'tool_use']],
    ['cohere call without arguments', 'cohere', '/v2/chat', () => ({ chunks: sseFromJsonl(fixtureText('cohere/chat-v2.empty-tool-call.chunks.jsonl'), { eventFromType: true }) }), ['thinking', 'tool_use']],
    ['bedrock text → tool use', 'bedrock', '/model/m/converse-stream', () => eventStream(framesOf('bedrock/converse-stream.tool-use.eventstream.bin')), ['text', 'tool_use']],
  ];
  for (const [name, target, path, reply, blocks] of cases) {
    it(name, async () => {
      const client = await clientFor(targets[target]());
      upstream.enqueue(path, reply());
      const { events, msg } = await streamed(client, { model: 'm', tools: [{ name: 'weather', input_schema: { type: 'object' } }] });
      expect(grammarErrors(events)).toEqual([]);
      expect(msg.content.map((b) => b.type)).toEqual(blocks);
      for (const b of msg.content) if (b.type === 'tool_use') expect(typeof b.input).toBe('object');
      expect(msg.usage.output_tokens).toBeGreaterThan(0);
    });
  }
});
