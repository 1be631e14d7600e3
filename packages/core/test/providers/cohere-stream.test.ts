import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { fixtureText } from '../../../../test/helpers/fixtures.js';
import { sseFromJsonl } from '../../../../test/helpers/mock-upstream.js';
import { COHERE_KEY, cohereGateway } from './cohere-setup.js';

const g = cohereGateway();
const user = [{ role: 'user' as const, content: 'Hi' }];
/** The recordings lost their `event:` lines; Cohere sends `event: <type>` before each `data:`. */
const replay = (name: string) => ({ chunks: sseFromJsonl(fixtureText(`cohere/${name}`), { eventFromType: true }) });

type Chunk = OpenAI.ChatCompletionChunk & { choices: Array<{ delta: { reasoning_content?: string } }> };

async function collect(params: Partial<OpenAI.ChatCompletionCreateParamsStreaming> = {}) {
  const stream = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user, stream: true, ...params });
  const chunks: Chunk[] = [];
  for await (const c of stream) chunks.push(c as Chunk);
  const deltas = chunks.flatMap((c) => c.choices.map((x) => x.delta));
  return {
    chunks,
    text: deltas.map((d) => d.content ?? '').join(''),
    reasoning: deltas.map((d) => d.reasoning_content ?? '').join(''),
    finish: chunks.flatMap((c) => c.choices.map((x) => x.finish_reason)).filter(Boolean),
    usage: chunks.find((c) => c.usage)?.usage,
  };
}

describe('cohere chat streams, replaying the recorded events', () => {
  it('streams text, asks Cohere to stream, and ends with usage when asked (chat-v2.text.chunks.jsonl)', async () => {
    g.upstream.enqueue('/v2/chat', replay('chat-v2.text.chunks.jsonl'));
    const r = await collect({ stream_options: { include_usage: true } });
    const sent = g.upstream.requests[0]!;
    expect(sent.headers.authorization).toBe(`Bearer ${COHERE_KEY}`);
    expect(sent.headers.accept).toBe('text/event-stream');
    expect(sent.json).toEqual({ model: 'command-r-plus', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    expect(r.text).toBe('The capital of France is Paris.');
    expect(r.finish).toEqual(['stop']);
    expect(r.chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(r.chunks.every((c) => c.id === '321d178c-2c12-44d3-ae42-2f5510f6b1cc' && c.object === 'chat.completion.chunk' && c.model === 'command-r-plus')).toBe(true);
    const last = r.chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    // The gateway may add its own `cost` to the usage it relays.
    expect(last.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 });
    expect(last.usage!.prompt_tokens_details).toBeUndefined();
  });

  it('leaves usage out for a client that did not ask for it', async () => {
    g.upstream.enqueue('/v2/chat', replay('chat-v2.text.chunks.jsonl'));
    const r = await collect();
    expect(r.usage).toBeUndefined();
    expect(r.text).toBe('The capital of France is Paris.');
  });

  it('streams two tool calls with stable indexes, id and name first, fragmented arguments (chat-v2.tool-call.chunks.jsonl)', async () => {
    g.upstream.enqueue('/v2/chat', replay('chat-v2.tool-call.chunks.jsonl'));
    const r = await collect({ stream_options: { include_usage: true } });
    const calls = r.chunks.flatMap((c) => c.choices.flatMap((x) => x.delta.tool_calls ?? []));
    const firsts = calls.filter((t) => t.id);
    expect(firsts).toEqual([
      { index: 0, id: 'weather_e8p4pn45zt0t', type: 'function', function: { name: 'weather', arguments: '' } },
      { index: 1, id: 'cityAttractions_pyxssbwnq9fq', type: 'function', function: { name: 'cityAttractions', arguments: '' } },
    ]);
    expect(calls.filter((t) => !t.id).every((t) => t.function?.name === undefined)).toBe(true);
    const args = (i: number) => calls.filter((t) => t.index === i).map((t) => t.function?.arguments ?? '').join('');
    expect(JSON.parse(args(0))).toEqual({ location: 'San Francisco' });
    expect(JSON.parse(args(1))).toEqual({ city: 'San Francisco' });
    expect(calls.filter((t) => t.index === 0).length).toBeGreaterThan(3);
    expect(r.reasoning).toBe('I will use the weather tool to find the weather in San Francisco and the cityAttractions tool to find attractions in San Francisco.');
    expect(r.finish).toEqual(['tool_calls']);
    expect(r.usage).toMatchObject({ prompt_tokens: 119, completion_tokens: 44, total_tokens: 163 });
  });

  it('is assembled by the SDK stream helper into a complete tool-call message', async () => {
    g.upstream.enqueue('/v2/chat', replay('chat-v2.tool-call.chunks.jsonl'));
    const stream = g.client.chat.completions.stream({ model: 'command-r-plus', messages: user });
    const done = await stream.finalChatCompletion();
    const calls = done.choices[0]!.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    expect(calls.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['weather_e8p4pn45zt0t', 'weather', { location: 'San Francisco' }],
      ['cityAttractions_pyxssbwnq9fq', 'cityAttractions', { city: 'San Francisco' }],
    ]);
    expect(done.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('gives a tool call without arguments "{}" (chat-v2.empty-tool-call.chunks.jsonl)', async () => {
    g.upstream.enqueue('/v2/chat', replay('chat-v2.empty-tool-call.chunks.jsonl'));
    const stream = g.client.chat.completions.stream({ model: 'command-r-plus', messages: user });
    const done = await stream.finalChatCompletion();
    const call = done.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call).toMatchObject({ id: 'currentTime_y46ar19t5gvw', type: 'function', function: { name: 'currentTime', arguments: '{}' } });
    expect(JSON.parse(call.function.arguments)).toEqual({});
    expect(done.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('streams thinking as reasoning_content before the text (chat-v2.reasoning.chunks.jsonl)', async () => {
    g.upstream.enqueue('/v2/chat', replay('chat-v2.reasoning.chunks.jsonl'));
    const r = await collect({ reasoning_effort: 'low', stream_options: { include_usage: true } });
    expect(g.upstream.requests[0]!.json.thinking).toEqual({ type: 'enabled', token_budget: 1024 });
    expect(r.reasoning).toBe(
      "The user is asking for the sum of 2 and 2. Since this is a straightforward arithmetic problem, I don't need to use any tools. I can calculate the answer directly.",
    );
    expect(r.text).toBe('The answer to 2 + 2 is 4.');
    const firstText = r.chunks.findIndex((c) => c.choices[0]?.delta.content);
    const lastReasoning = r.chunks.findLastIndex((c) => c.choices[0]?.delta.reasoning_content);
    expect(lastReasoning).toBeLessThan(firstText);
    expect(r.usage).toMatchObject({ prompt_tokens: 8, completion_tokens: 50, total_tokens: 58 });
  });

  it('ignores citation events', async () => {
    const events = sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true });
    const citation = [
      'event: citation-start\ndata: {"type":"citation-start","index":0,"delta":{"message":{"citations":{"start":4,"end":11,"text":"capital","sources":[]}}}}\n\n',
      'event: citation-end\ndata: {"type":"citation-end","index":0}\n\n',
    ];
    g.upstream.enqueue('/v2/chat', { chunks: [...events.slice(0, -1), ...citation, events.at(-1)!] });
    const r = await collect();
    expect(r.text).toBe('The capital of France is Paris.');
    expect(r.finish).toEqual(['stop']);
  });
});

describe('cohere streams that fail', () => {
  it('makes the SDK throw when the stream ends without message-end, after content was sent', async () => {
    const events = sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true });
    g.upstream.enqueue('/v2/chat', { chunks: events.slice(0, -1) });
    let text = '';
    const err = await (async () => {
      for await (const c of await g.client.chat.completions.create({ model: 'command-r-plus', messages: user, stream: true })) text += c.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    expect(text).toBe('The capital of France is Paris.');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.error).toMatchObject({ code: 'stream_interrupted', provider: 'cohere' });
  });

  it('answers 502 when the stream breaks before any content', async () => {
    const events = sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true });
    g.upstream.enqueue('/v2/chat', { chunks: events.slice(0, 2) });
    const err = await g.client.chat.completions.create({ model: 'command-r-plus', messages: user, stream: true }).catch((e) => e);
    expect(err.status).toBe(502);
    expect(err.error.code).toBe('stream_interrupted');
  });

  it('turns message-end with finish_reason ERROR into an error event', async () => {
    const events = sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true });
    const failed = 'event: message-end\ndata: {"type":"message-end","delta":{"finish_reason":"ERROR","error":"internal model failure"}}\n\n';
    g.upstream.enqueue('/v2/chat', { chunks: [...events.slice(0, -1), failed] });
    const err = await (async () => {
      for await (const _ of await g.client.chat.completions.create({ model: 'command-r-plus', messages: user, stream: true }));
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain('internal model failure');
  });
});
