/**
 * How provider answers come back to an official `openai` client through the Express adapter: finish
 * reasons, choices, usage, and the shape of streams, each replayed from a recorded fixture (or a
 * minimal, commented edit of one) by a mock upstream on 127.0.0.1. No test here found a bug: they
 * are kept because no other test checks these through the real SDK end to end (every stop reason,
 * Gemini n = 2 streams, the chunk grammar and include_usage per provider, n refused on streams).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appPerTarget } from './helpers/apps.js';
import { eventStream, framesOf } from './helpers/bedrock-frames.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
const BEDROCK_MODEL = 'us.amazon.nova-micro-v1:0';
const CONVERSE = `/model/${encodeURIComponent(BEDROCK_MODEL)}`;

const targets = (url: string): Record<string, Record<string, unknown>> => ({
  anthropic: { provider: 'anthropic', api_key: 'sk-ant-review', custom_host: `${url}/v1` },
  google: { provider: 'google', api_key: 'AIza-review', custom_host: `${url}/v1beta` },
  vertex: { provider: 'vertex-ai', api_key: 'ya29.review', custom_host: `${url}/v1`, vertex_project_id: 'proj', vertex_region: 'europe-west4' },
  bedrock: { provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: url },
  cohere: { provider: 'cohere', api_key: 'co-review', custom_host: `${url}/v2` },
  mistral: { provider: 'mistral', api_key: 'mistral-review', custom_host: `${url}/v1` },
  groq: { provider: 'groq', api_key: 'gsk-review', custom_host: `${url}/openai/v1` },
  deepseek: { provider: 'deepseek', api_key: 'ds-review', custom_host: `${url}/v1` },
  xai: { provider: 'xai', api_key: 'xai-review', custom_host: `${url}/v1` },
  openrouter: { provider: 'openrouter', api_key: 'or-review', custom_host: `${url}/v1` },
});

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});
const { clients } = appPerTarget(targets, () => upstream);
beforeEach(() => upstream.reset());

// ---- helpers ----


type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

/** Streams through the SDK and also reads the raw SSE text (for `[DONE]`). */
async function rawStream(client: OpenAI, body: Record<string, unknown>): Promise<{ chunks: Chunk[]; events: string[] }> {
  const res = await client.chat.completions.create({ ...body, stream: true } as never).asResponse();
  const text = await res.text();
  const events = text
    .split('\n\n')
    .map((e) => e.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'))
    .filter(Boolean);
  const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e) as Chunk);
  return { chunks, events };
}

/** The invariants an OpenAI stream keeps. */
function checkStream({ chunks, events }: { chunks: Chunk[]; events: string[] }, opts: { usage: boolean; choices?: number; upstreamCreated?: boolean }) {
  expect(events.at(-1)).toBe('[DONE]');
  expect(events.filter((e) => e === '[DONE]')).toHaveLength(1);
  for (const c of chunks) expect(c).not.toHaveProperty('error');
  const first = chunks[0]!;
  for (const c of chunks) {
    expect(c.id).toBe(first.id);
    expect(c.model).toBe(first.model);
    // xAI's own chunks change `created` mid-stream (xai/chat-completions.tool-call.chunks.jsonl); relayed as sent.
    if (!opts.upstreamCreated) expect(c.created).toBe(first.created);
    expect(c.object).toBe('chat.completion.chunk');
  }
  const n = opts.choices ?? 1;
  for (let i = 0; i < n; i++) {
    const mine = chunks.flatMap((c) => c.choices.filter((ch) => ch.index === i));
    expect(mine.length, `choice ${i} has chunks`).toBeGreaterThan(0);
    expect(mine[0]!.delta.role, `choice ${i} starts with the role`).toBe('assistant');
    expect(mine.filter((ch) => ch.finish_reason).length, `choice ${i} has one finish_reason`).toBe(1);
  }
  const withUsage = chunks.filter((c) => c.usage);
  if (opts.usage) {
    expect(withUsage).toHaveLength(1);
    expect(chunks.at(-1)!.usage).toBeTruthy();
  } else expect(withUsage).toHaveLength(0);
}

const finishOf = (chunks: Chunk[], index = 0) => chunks.flatMap((c) => c.choices.filter((ch) => ch.index === index && ch.finish_reason)).map((ch) => ch.finish_reason);
const textOf = (chunks: Chunk[], index = 0) => chunks.flatMap((c) => c.choices.filter((ch) => ch.index === index)).map((ch) => ch.delta.content ?? '').join('');
function toolCallsOf(chunks: Chunk[], index = 0) {
  const calls: Array<{ id?: string; name?: string; args: string }> = [];
  for (const ch of chunks.flatMap((c) => c.choices.filter((x) => x.index === index))) {
    for (const t of ch.delta.tool_calls ?? []) {
      const call = (calls[t.index] ??= { args: '' });
      if (t.id) call.id = t.id;
      if (t.function?.name) call.name = t.function.name;
      call.args += t.function?.arguments ?? '';
    }
  }
  return calls;
}
/** A stream carried exactly these calls, by name, each with arguments that parse (a dropped call must fail, not loop zero times). */
function expectWholeCalls(calls: ReturnType<typeof toolCallsOf>, names: string[], label?: string) {
  expect(calls.map((c) => c.name), label).toEqual(names);
  for (const c of calls) expect(() => JSON.parse(c.args), label).not.toThrow();
}
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const USER = [{ role: 'user' as const, content: 'Hi' }];

// ---------------------------------------------------------------------------------------------
describe('anthropic', () => {
  it('text stream: role first, one finish, usage only when asked and equal to the recording, [DONE] last', async () => {
    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.text.stream.sse')) });
    const s = await rawStream(clients.anthropic!, { model: 'claude-sonnet-4-5', messages: USER, stream_options: { include_usage: true } });
    checkStream(s, { usage: true });
    expect(s.chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 });
    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.text.stream.sse')) });
    checkStream(await rawStream(clients.anthropic!, { model: 'claude-sonnet-4-5', messages: USER }), { usage: false });
  });
  it('every stop_reason maps to the OpenAI finish_reason; usage equals the recording', async () => {
    for (const [stop, finish] of [['max_tokens', 'length'], ['stop_sequence', 'stop'], ['tool_use', 'tool_calls'], ['refusal', 'content_filter'], ['pause_turn', 'stop']] as const) {
      const json = clone(fixtureJson('anthropic/messages.text.json'));
      json.stop_reason = stop; // edit: the recorded answer with each documented stop_reason
      upstream.enqueue('/v1/messages', { json });
      const r = await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', messages: USER });
      expect(r.choices[0]!.finish_reason, stop).toBe(finish);
    }
    const r = (upstream.enqueue('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') }), await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', messages: USER }));
    expect(r.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 29, total_tokens: 41 });
  });
  it('n > 1 is a 400 naming n', async () => {
    const e = await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', messages: USER, n: 2 }).catch((x) => x);
    expect(e.status).toBe(400);
    expect(e.param).toBe('n');
  });
  it('tool-call streams: ids, indexes, arguments that parse', async () => {
    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.parallel-tool-use.stream.sse')) });
    const s = await rawStream(clients.anthropic!, { model: 'claude-sonnet-4-5', messages: USER });
    checkStream(s, { usage: false });
    const calls = toolCallsOf(s.chunks);
    expect(calls.length).toBe(2);
    for (const c of calls) expect(() => JSON.parse(c.args)).not.toThrow();
    expect(finishOf(s.chunks)).toEqual(['tool_calls']);
    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.tool-use-after-tool-search.stream.sse')) });
    const s2 = await rawStream(clients.anthropic!, { model: 'claude-sonnet-4-5', messages: USER });
    checkStream(s2, { usage: false });
    expectWholeCalls(toolCallsOf(s2.chunks), ['get_exchange_rate']);
  });
  it('thinking stream keeps the chunk grammar and usage', async () => {
    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.thinking.stream.sse')) });
    checkStream(await rawStream(clients.anthropic!, { model: 'claude-sonnet-4-5', messages: USER, stream_options: { include_usage: true } }), { usage: true });
  });
});

// ---------------------------------------------------------------------------------------------
describe('gemini / vertex', () => {
  const gen = '/v1beta/models/gemini-2.5-flash:generateContent';
  const sgen = '/v1beta/models/gemini-2.5-flash:streamGenerateContent';
  const vsgen = '/v1/projects/proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash:streamGenerateContent';
  const vgen = '/v1/projects/proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent';
  it('non-stream usage (with reasoning tokens) and finish reasons', async () => {
    upstream.enqueue(gen, { json: fixtureJson('gemini/generateContent.text.json') });
    const r = await clients.google!.chat.completions.create({ model: 'gemini-2.5-flash', messages: USER });
    expect(r.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 272, total_tokens: 281, completion_tokens_details: { reasoning_tokens: 244 } });
    for (const [reason, finish] of [['MAX_TOKENS', 'length'], ['SAFETY', 'content_filter'], ['RECITATION', 'content_filter'], ['STOP', 'stop']] as const) {
      const json = clone(fixtureJson('gemini/generateContent.text.json'));
      json.candidates[0].finishReason = reason; // edit: each finishReason on the recorded answer
      upstream.enqueue(gen, { json });
      const r2 = await clients.google!.chat.completions.create({ model: 'gemini-2.5-flash', messages: USER });
      expect(r2.choices[0]!.finish_reason, reason).toBe(finish);
    }
  });
  it('n = 2 returns both candidates with their index, in streams too', async () => {
    const json = clone(fixtureJson('gemini/generateContent.text.json'));
    json.candidates.push({ ...clone(json.candidates[0]), index: 1 });
    upstream.enqueue(gen, { json });
    const r = await clients.google!.chat.completions.create({ model: 'gemini-2.5-flash', messages: USER, n: 2 });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1]);
    const lines = fixtureText('gemini/streamGenerateContent.text.chunks.jsonl').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // Edit: each recorded event repeated as two candidates (index 0 and 1), as candidateCount 2 returns.
    const two = lines.map((ev) => ({ ...ev, candidates: ev.candidates?.flatMap((c: Record<string, unknown>) => [{ ...c, index: 0 }, { ...c, index: 1 }]) }));
    upstream.enqueue(sgen, { chunks: two.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`) });
    const s = await rawStream(clients.google!, { model: 'gemini-2.5-flash', messages: USER, n: 2, stream_options: { include_usage: true } });
    checkStream(s, { usage: true, choices: 2 });
    expect(textOf(s.chunks, 1)).toBe(textOf(s.chunks, 0));
  });
  it('stream recordings: MAX_TOKENS, usage in the last chunk, tool calls', async () => {
    upstream.enqueue(sgen, { chunks: splitSse(fixtureText('gemini/streamGenerateContent.text.sse')) });
    checkStream(await rawStream(clients.google!, { model: 'gemini-2.5-flash', messages: USER }), { usage: false });
    const segs = fixtureJson('gemini/streamGenerateContent.recording.json').interactions[0].response.bodySegments as unknown[];
    upstream.enqueue(sgen, { chunks: segs.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`) });
    const s = await rawStream(clients.google!, { model: 'gemini-2.5-flash', messages: USER, stream_options: { include_usage: true } });
    checkStream(s, { usage: true });
    expect(finishOf(s.chunks)).toEqual(['length']);
    expect(s.chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 198, total_tokens: 205, completion_tokens_details: { reasoning_tokens: 45 } });
    upstream.enqueue(sgen, { chunks: splitSse(fixtureText('gemini/streamGenerateContent.tool-call.sse')) });
    const t = await rawStream(clients.google!, { model: 'gemini-2.5-flash', messages: USER });
    checkStream(t, { usage: false });
    expect(finishOf(t.chunks)).toEqual(['tool_calls']);
    expectWholeCalls(toolCallsOf(t.chunks), ['get_country']);
  });
  it('vertex stream usage and non-stream finish', async () => {
    upstream.enqueue(vsgen, { chunks: splitSse(fixtureText('gemini/vertex.streamGenerateContent.sse')) });
    const s = await rawStream(clients.vertex!, { model: 'gemini-2.5-flash', messages: USER, stream_options: { include_usage: true } });
    checkStream(s, { usage: true });
    expect(s.chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 101, total_tokens: 106 });
    upstream.enqueue(vgen, { json: fixtureJson('gemini/generateContent.text.json') });
    const r = await clients.vertex!.chat.completions.create({ model: 'gemini-2.5-flash', messages: USER });
    expect(r.choices[0]!.finish_reason).toBe('stop');
  });
});

// ---------------------------------------------------------------------------------------------
describe('bedrock', () => {
  it('non-stream usage, every stopReason, and n refused', async () => {
    upstream.enqueue(`${CONVERSE}/converse`, { json: fixtureJson('bedrock/converse.text.json') });
    const r = await clients.bedrock!.chat.completions.create({ model: BEDROCK_MODEL, messages: USER });
    expect(r.usage).toMatchObject({ prompt_tokens: 22, completion_tokens: 57, total_tokens: 79 });
    for (const [reason, finish] of [['max_tokens', 'length'], ['stop_sequence', 'stop'], ['tool_use', 'tool_calls'], ['guardrail_intervened', 'content_filter'], ['content_filtered', 'content_filter']] as const) {
      const json = clone(fixtureJson('bedrock/converse.text.json'));
      json.stopReason = reason; // edit: each documented stopReason on the recorded answer
      upstream.enqueue(`${CONVERSE}/converse`, { json });
      const r2 = await clients.bedrock!.chat.completions.create({ model: BEDROCK_MODEL, messages: USER });
      expect(r2.choices[0]!.finish_reason, reason).toBe(finish);
    }
    const e = await clients.bedrock!.chat.completions.create({ model: BEDROCK_MODEL, messages: USER, n: 2 }).catch((x) => x);
    expect(e.status).toBe(400);
  });
  it('streams: chunk grammar, usage, tool calls', async () => {
    upstream.enqueue(`${CONVERSE}/converse-stream`, eventStream(framesOf('bedrock/converse-stream.text.eventstream.bin')));
    const s = await rawStream(clients.bedrock!, { model: BEDROCK_MODEL, messages: USER, stream_options: { include_usage: true } });
    checkStream(s, { usage: true });
    const meta = framesOf('bedrock/converse-stream.text.eventstream.bin').find((f) => f.event === 'metadata')!.body.usage as Record<string, number>;
    expect(s.chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: meta.inputTokens, completion_tokens: meta.outputTokens, total_tokens: meta.totalTokens });
    upstream.enqueue(`${CONVERSE}/converse-stream`, eventStream(framesOf('bedrock/converse-stream.tool-use.eventstream.bin')));
    const t = await rawStream(clients.bedrock!, { model: BEDROCK_MODEL, messages: USER });
    checkStream(t, { usage: false });
    expect(finishOf(t.chunks)).toEqual(['tool_calls']);
    expectWholeCalls(toolCallsOf(t.chunks), ['get_temperature']);
    upstream.enqueue(`${CONVERSE}/converse-stream`, eventStream(framesOf('bedrock/converse-stream.reasoning.eventstream.bin')));
    checkStream(await rawStream(clients.bedrock!, { model: BEDROCK_MODEL, messages: USER, stream_options: { include_usage: true } }), { usage: true });
  });
});

// ---------------------------------------------------------------------------------------------
describe('cohere', () => {
  it('non-stream usage, every stopReason, and n refused', async () => {
    upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.max-tokens.json') });
    const r = await clients.cohere!.chat.completions.create({ model: 'command-r', messages: USER });
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 });
    upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.tool-call.json') });
    const t = await clients.cohere!.chat.completions.create({ model: 'command-r', messages: USER });
    expect(t.choices[0]!.finish_reason).toBe('tool_calls');
    const e = await clients.cohere!.chat.completions.create({ model: 'command-r', messages: USER, n: 2 }).catch((x) => x);
    expect(e.status).toBe(400);
  });
  it('streams: chunk grammar, usage, tool calls', async () => {
    upstream.enqueue('/v2/chat', { chunks: sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true }) });
    const s = await rawStream(clients.cohere!, { model: 'command-r', messages: USER, stream_options: { include_usage: true } });
    checkStream(s, { usage: true });
    expect(s.chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 });
    const expected: Array<[string, string[]]> = [
      ['cohere/chat-v2.tool-call.chunks.jsonl', ['weather', 'cityAttractions']],
      ['cohere/chat-v2.empty-tool-call.chunks.jsonl', ['currentTime']],
      ['cohere/chat-v2.reasoning.chunks.jsonl', []],
    ];
    for (const [f, names] of expected) {
      upstream.enqueue('/v2/chat', { chunks: sseFromJsonl(fixtureText(f), { eventFromType: true }) });
      const t = await rawStream(clients.cohere!, { model: 'command-r', messages: USER });
      checkStream(t, { usage: false });
      expectWholeCalls(toolCallsOf(t.chunks), names, f);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('openai-compatible', () => {
  it('mistral: text, usage on request, whole tool calls, magistral', async () => {
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('mistral/chat-completions.text.json') });
    const r = await clients.mistral!.chat.completions.create({ model: 'mistral-small-latest', messages: USER });
    expect(r.choices[0]!.finish_reason).toBe('stop');
    upstream.enqueue('/v1/chat/completions', { chunks: sseFromJsonl(fixtureText('mistral/chat-completions.text.chunks.jsonl'), { done: true }) });
    const s = await rawStream(clients.mistral!, { model: 'mistral-small-latest', messages: USER, stream_options: { include_usage: true } });
    checkStream(s, { usage: true });
    upstream.enqueue('/v1/chat/completions', { chunks: sseFromJsonl(fixtureText('mistral/chat-completions.text.chunks.jsonl'), { done: true }) });
    checkStream(await rawStream(clients.mistral!, { model: 'mistral-small-latest', messages: USER }), { usage: false });
    upstream.enqueue('/v1/chat/completions', { chunks: sseFromJsonl(fixtureText('mistral/chat-completions.tool-call.chunks.jsonl'), { done: true }) });
    const t = await rawStream(clients.mistral!, { model: 'mistral-small-latest', messages: USER });
    checkStream(t, { usage: false });
    expect(toolCallsOf(t.chunks)).toEqual([{ id: 'gSIMJiOkT', name: 'weather', args: '{"location": "San Francisco"}' }]);
    upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('mistral/chat-completions.thinking.stream.sse')) });
    checkStream(await rawStream(clients.mistral!, { model: 'magistral', messages: USER, stream_options: { include_usage: true } }), { usage: true });
  });
  it('groq, deepseek, xai: system_fingerprint, usage, tool-call streams', async () => {
    upstream.enqueue('/openai/v1/chat/completions', { json: fixtureJson('groq/chat-completions.text.json') });
    const g = await clients.groq!.chat.completions.create({ model: 'llama', messages: USER });
    const gj = fixtureJson('groq/chat-completions.text.json');
    expect(g.system_fingerprint).toBe(gj.system_fingerprint);
    expect(g.usage).toMatchObject({ prompt_tokens: gj.usage.prompt_tokens, completion_tokens: gj.usage.completion_tokens });
    upstream.enqueue('/openai/v1/chat/completions', { chunks: sseFromJsonl(fixtureText('groq/chat-completions.tool-call.chunks.jsonl'), { done: true }) });
    const gs = await rawStream(clients.groq!, { model: 'llama', messages: USER, stream_options: { include_usage: true } });
    checkStream(gs, { usage: true });
    upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('deepseek/chat-completions.reasoning.stream.sse')) });
    checkStream(await rawStream(clients.deepseek!, { model: 'deepseek-reasoner', messages: USER, stream_options: { include_usage: true } }), { usage: true });
    upstream.enqueue('/v1/chat/completions', { chunks: sseFromJsonl(fixtureText('deepseek/chat-completions.tool-call.chunks.jsonl'), { done: true }) });
    const ds = await rawStream(clients.deepseek!, { model: 'deepseek-chat', messages: USER });
    checkStream(ds, { usage: false });
    expectWholeCalls(toolCallsOf(ds.chunks), ['weather']);
    upstream.enqueue('/v1/chat/completions', { chunks: sseFromJsonl(fixtureText('xai/chat-completions.tool-call.chunks.jsonl'), { done: true }) });
    const xs = await rawStream(clients.xai!, { model: 'grok', messages: USER, stream_options: { include_usage: true } });
    checkStream(xs, { usage: true, upstreamCreated: true });
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('xai/chat-completions.text.json') });
    const x = await clients.xai!.chat.completions.create({ model: 'grok', messages: USER });
    expect(x.system_fingerprint).toBe(fixtureJson('xai/chat-completions.text.json').system_fingerprint);
  });
});

describe('n > 1 where a provider has one choice per request', () => {
  it('is refused with a 400 naming n for streams too (anthropic, bedrock, cohere)', async () => {
    for (const [name, model] of [['anthropic', 'claude-sonnet-4-5'], ['bedrock', BEDROCK_MODEL], ['cohere', 'command-r']] as const) {
      const e = await clients[name]!.chat.completions.create({ model, messages: USER, n: 3, stream: true }).catch((x) => x);
      expect(e.status, name).toBe(400);
      expect(e.param, name).toBe('n');
    }
  });
});
