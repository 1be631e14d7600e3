import { gunzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from '../../../../test/helpers/apps.js';
import { cassette, fixtureText, splitSse } from '../../../../test/helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';

export const ANTHROPIC_KEY = 'sk-ant-test-upstream-key';

export interface AnthropicGateway {
  upstream: MockUpstream;
  app: TestApp;
  client: OpenAI;
}

/**
 * A host app whose gateway sends every request to one `anthropic` target at the mock upstream, and
 * an official OpenAI client for it. `target` adds or overrides target keys.
 */
export function anthropicGateway(target: Record<string, unknown> = {}, options: AppOptions = {}): AnthropicGateway {
  const ctx = {} as AnthropicGateway;
  beforeAll(async () => {
    ctx.upstream = await startMockUpstream();
    ctx.app = await appFactories.express5!({
      config: { targets: [{ provider: 'anthropic', api_key: ANTHROPIC_KEY, custom_host: `${ctx.upstream.url}/v1`, ...target }] },
      ...options,
    });
    ctx.client = new OpenAI({ baseURL: `${ctx.app.gatewayURL}/v1`, apiKey: 'client-side-key', maxRetries: 0 });
  });
  afterAll(async () => {
    await ctx.app?.close();
    await ctx.upstream?.close();
  });
  beforeEach(() => ctx.upstream?.reset());
  return ctx;
}

/** A recorded Anthropic stream as the SSE events the API sends (`.chunks.jsonl` get their `event:` lines back). */
export function anthropicStream(path: string): string[] {
  if (path.endsWith('.jsonl')) return sseFromJsonl(fixtureText(path), { eventFromType: true });
  return splitSse(fixtureText(path));
}

/** The SSE body of interaction `i` of a cassette, gunzipped when it was recorded with Content-Encoding: gzip. */
export function cassetteStream(path: string, i: number): string[] {
  const raw = cassette(path)[i]!.response.body?.string as unknown;
  const text = typeof raw === 'string' ? raw : gunzipSync(raw as Uint8Array).toString('utf8');
  return splitSse(text);
}

export interface ParsedEvent {
  event?: string;
  data: any;
}

/** The events of a recorded stream, parsed, to derive what a replay must produce from the recording itself. */
export function parseEvents(events: string[]): ParsedEvent[] {
  return events.flatMap((raw) => {
    const event = /^event: (.*)$/m.exec(raw)?.[1];
    const data = /^data: (.*)$/m.exec(raw)?.[1];
    return data === undefined ? [] : [{ ...(event ? { event } : {}), data: JSON.parse(data) }];
  });
}

/** What an OpenAI client should assemble from a recorded Anthropic stream. */
export function expectedFromEvents(events: ParsedEvent[]) {
  const kinds = new Map<number, string>();
  const toolInputs = new Map<number, { id: string; name: string; json: string }>();
  let text = '';
  let reasoning = '';
  let stop: string | undefined;
  let usage: any = {};
  for (const { data } of events) {
    if (data.type === 'message_start') usage = { ...data.message.usage };
    if (data.type === 'content_block_start') {
      kinds.set(data.index, data.content_block.type);
      if (data.content_block.type === 'tool_use') toolInputs.set(data.index, { id: data.content_block.id, name: data.content_block.name, json: '' });
    }
    if (data.type === 'content_block_delta') {
      if (data.delta.type === 'text_delta') text += data.delta.text;
      if (data.delta.type === 'thinking_delta') reasoning += data.delta.thinking;
      if (data.delta.type === 'input_json_delta' && toolInputs.has(data.index)) toolInputs.get(data.index)!.json += data.delta.partial_json;
    }
    if (data.type === 'message_delta') {
      stop = data.delta.stop_reason;
      for (const [k, v] of Object.entries(data.usage ?? {})) if (v != null) usage[k] = v;
    }
  }
  const prompt = usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0);
  return {
    text,
    reasoning,
    stop,
    tools: [...toolInputs.values()].map((t) => ({ id: t.id, name: t.name, input: t.json ? JSON.parse(t.json) : {} })),
    usage: { prompt_tokens: prompt, completion_tokens: usage.output_tokens, total_tokens: prompt + usage.output_tokens },
  };
}

/** Reads an OpenAI SDK stream to the end and assembles what a client would keep. */
export async function collect(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
  for await (const c of stream) chunks.push(c);
  let text = '';
  let reasoning = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  const tools: Array<{ id: string; name: string; arguments: string }> = [];
  for (const c of chunks) {
    if (c.usage) usage = c.usage;
    const choice = c.choices[0];
    if (!choice) continue;
    text += choice.delta.content ?? '';
    reasoning += (choice.delta as { reasoning_content?: string }).reasoning_content ?? '';
    for (const t of choice.delta.tool_calls ?? []) {
      const slot = (tools[t.index] ??= { id: '', name: '', arguments: '' });
      if (t.id) slot.id = t.id;
      if (t.function?.name) slot.name += t.function.name;
      slot.arguments += t.function?.arguments ?? '';
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  return { chunks, text, reasoning, finish, usage, tools };
}
