/**
 * Agentic Anthropic clients on `POST /llm/v1/messages`: the official `@anthropic-ai/sdk` (create, the
 * `messages.stream` helper and its `finalMessage()`, the beta tool runner) against an Anthropic target
 * (passthrough) and against OpenAI, Gemini and Bedrock targets. Upstreams are mock servers on 127.0.0.1
 * replaying the recorded fixtures of shared/fixtures, or answers built in the provider's recorded wire
 * shape (said where they are). What was checked and is right is pinned; what is wrong sits in
 * `describe('bugs')` with a `// BUG:` line, asserting the correct behaviour.
 */
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { eventStream, framesOf, type Frame } from './helpers/bedrock-frames.js';
import { cassette, fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockReply, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';

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
  openai: () => ({ provider: 'openai', api_key: 'sk-openai-up', custom_host: `${upstream.url}/v1` }),
  anthropic: () => ({ provider: 'anthropic', api_key: 'sk-ant-up', custom_host: `${upstream.url}/v1` }),
  google: () => ({ provider: 'google', api_key: 'AIza-up', custom_host: `${upstream.url}/v1beta` }),
  bedrock: () => ({ provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: upstream.url }),
};
type TargetName = keyof typeof targets;
const MODEL: Record<TargetName, string> = { openai: 'gpt-4o-mini', anthropic: 'claude-sonnet-4-6', google: 'gemini-2.5-flash', bedrock: BEDROCK_CLAUDE };

async function start(target: Record<string, unknown>): Promise<{ app: TestApp; sdk: Anthropic }> {
  const app = await appFactories.express5!({ env: {}, config: { targets: [target] } } as never);
  apps.push(app);
  return { app, sdk: new Anthropic({ baseURL: app.gatewayURL, apiKey: 'sk-ant-client', maxRetries: 0 }) };
}

/** A raw POST the way Claude Code sends it (`?beta=true`, its headers), for what the SDK would hide. */
async function post(app: TestApp, body: unknown, path = '/v1/messages?beta=true', headers: Record<string, string> = {}) {
  const res = await fetch(`${app.gatewayURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-client', 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const weather = { name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } };
const clock = { name: 'get_time', description: 'Time in a zone', input_schema: { type: 'object' as const, properties: { tz: { type: 'string' } }, required: ['tz'] } };
const system = [
  { type: 'text' as const, text: 'You are a coding agent.' },
  { type: 'text' as const, text: 'Be brief.', cache_control: { type: 'ephemeral' as const } },
];
/** A turn of a parallel tool loop as Claude Code sends it back: results out of call order, then text with a breakpoint. */
const loop: Anthropic.MessageParam[] = [
  { role: 'user', content: 'Weather and time in Paris?' },
  {
    role: 'assistant',
    content: [
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: { tz: 'CET' } },
    ],
  },
  {
    role: 'user',
    content: [
      { type: 'tool_result', tool_use_id: 'toolu_2', content: '12:00' },
      { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] },
      { type: 'text', text: 'thanks', cache_control: { type: 'ephemeral' } },
    ],
  },
];

/** Anthropic's event grammar: message_start first, blocks opened in index order, deltas only to the open block, message_delta then message_stop last. */
function grammarErrors(types: Array<{ type: string; index?: number }>): string[] {
  const errors: string[] = [];
  if (types[0]?.type !== 'message_start') errors.push(`first event ${types[0]?.type}`);
  if (types.at(-1)?.type !== 'message_stop') errors.push(`last event ${types.at(-1)?.type}`);
  if (types.at(-2)?.type !== 'message_delta') errors.push(`event before message_stop is ${types.at(-2)?.type}`);
  let open: number | undefined;
  let next = 0;
  for (const e of types) {
    if (e.type === 'content_block_start') {
      if (open !== undefined) errors.push(`block ${e.index} opened while ${open} open`);
      if (e.index !== next++) errors.push(`block ${e.index} out of order`);
      open = e.index;
    } else if (e.type === 'content_block_delta' && e.index !== open) errors.push(`delta to ${e.index} while ${open} open`);
    else if (e.type === 'content_block_stop') {
      if (e.index !== open) errors.push(`stop of ${e.index} while ${open} open`);
      open = undefined;
    }
  }
  return errors;
}

/** The data objects of an Anthropic SSE body. */
const sseEvents = (text: string) =>
  text
    .split(/\n\n/)
    .map((block) => block.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => !!l)
    .map((l) => JSON.parse(l.slice(6)));

// ---------------------------------------------------------------------------------------------
// Provider turns in each provider's recorded wire shape (see the fixtures README), built so that one
// script of turns can run against every provider.

type Call = { id: string; name: string; args: Record<string, unknown> };

/** OpenAI chat stream with include_usage: role chunk, text pieces, tool calls with fragmented arguments, finish, usage chunk, [DONE]. */
function openaiTurn(text: string, calls: Call[]): string[] {
  const base = { id: 'chatcmpl-loop', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini-2024-07-18' };
  const c = (delta: unknown, finish: string | null = null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;
  const out = [c({ role: 'assistant', content: text ? '' : null })];
  if (text) for (const piece of text.match(/.{1,5}/g)!) out.push(c({ content: piece }));
  calls.forEach((call, index) => {
    out.push(c({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] }));
    const json = JSON.stringify(call.args);
    for (let k = 0; k < json.length; k += 4) out.push(c({ tool_calls: [{ index, function: { arguments: json.slice(k, k + 4) } }] }));
  });
  out.push(c({}, calls.length ? 'tool_calls' : 'stop'));
  out.push(`data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 20, completion_tokens: 9, total_tokens: 29 } })}\n\n`, 'data: [DONE]\n\n');
  return out;
}

/** Gemini streamGenerateContent?alt=sse: one part per event, finishReason on the last, CRLF framing as recorded. */
function geminiTurn(text: string, calls: Call[]): string[] {
  const parts = [...(text ? [{ text }] : []), ...calls.map((c) => ({ functionCall: { name: c.name, args: c.args } }))];
  return parts.map(
    (part, k) =>
      `data: ${JSON.stringify({
        candidates: [{ content: { role: 'model', parts: [part] }, index: 0, ...(k === parts.length - 1 ? { finishReason: 'STOP' } : {}) }],
        usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 9, totalTokenCount: 29 },
        modelVersion: 'gemini-2.5-flash',
        responseId: `resp-${text.length}-${calls.length}`,
      })}\r\n\r\n`,
  );
}

/** Bedrock ConverseStream frames: text deltas without a block start, toolUse blocks with fragmented input, messageStop, metadata. */
function bedrockTurn(text: string, calls: Call[]): MockReply {
  const frames: Frame[] = [{ event: 'messageStart', body: { role: 'assistant', p: 'abc' } }];
  let block = 0;
  if (text) {
    for (const piece of text.match(/.{1,5}/g)!) frames.push({ event: 'contentBlockDelta', body: { contentBlockIndex: block, delta: { text: piece } } });
    frames.push({ event: 'contentBlockStop', body: { contentBlockIndex: block++ } });
  }
  for (const call of calls) {
    frames.push({ event: 'contentBlockStart', body: { contentBlockIndex: block, start: { toolUse: { toolUseId: call.id, name: call.name } } } });
    const json = JSON.stringify(call.args);
    for (let k = 0; k < json.length; k += 4) frames.push({ event: 'contentBlockDelta', body: { contentBlockIndex: block, delta: { toolUse: { input: json.slice(k, k + 4) } } } });
    frames.push({ event: 'contentBlockStop', body: { contentBlockIndex: block++ } });
  }
  frames.push({ event: 'messageStop', body: { stopReason: calls.length ? 'tool_use' : 'end_turn' } });
  frames.push({ event: 'metadata', body: { usage: { inputTokens: 20, outputTokens: 9, totalTokens: 29 }, metrics: { latencyMs: 5 } } });
  return eventStream(frames);
}

const streamedTurn: Record<Exclude<TargetName, 'anthropic'>, (text: string, calls: Call[]) => MockReply> = {
  openai: (t, c) => ({ chunks: openaiTurn(t, c) }),
  google: (t, c) => ({ chunks: geminiTurn(t, c) }),
  bedrock: bedrockTurn,
};

/** A three-turn agent loop: two parallel calls, one call, then the answer. */
const QUESTION = 'Weather and time in Paris, then Lyon?';
const SCRIPT: Array<[string, Call[]]> = [
  ['Let me check both.', [{ id: 'call_w1', name: 'get_weather', args: { city: 'Paris' } }, { id: 'call_t1', name: 'get_time', args: { tz: 'Europe/Paris' } }]],
  ['', [{ id: 'call_w2', name: 'get_weather', args: { city: 'Lyon' } }]],
  ['Paris is sunny at noon; Lyon too.', []],
];

function runnerTools(ran: string[]) {
  return [
    betaTool({ name: 'get_weather', description: 'Weather of a city', inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, run: (a) => (ran.push(`weather:${a.city}`), `sunny in ${a.city}`) }),
    betaTool({ name: 'get_time', description: 'Time in a zone', inputSchema: { type: 'object', properties: { tz: { type: 'string' } }, required: ['tz'] }, run: (a) => (ran.push(`time:${a.tz}`), '12:00') }),
  ];
}

// Non-stream bodies equal to a recorded stream, to compare `create()` with `stream().finalMessage()`.

function openaiWhole(path: string) {
  const chunks = fixtureText(path).split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)));
  const calls: any[] = [];
  let content = '';
  let finish = 'stop';
  for (const ch of chunks) {
    const d = ch.choices?.[0]?.delta ?? {};
    if (typeof d.content === 'string') content += d.content;
    for (const t of d.tool_calls ?? []) {
      calls[t.index] ??= { id: t.id, type: 'function', function: { name: t.function?.name, arguments: '' } };
      calls[t.index].function.arguments += t.function?.arguments ?? '';
    }
    if (ch.choices?.[0]?.finish_reason) finish = ch.choices[0].finish_reason;
  }
  const last = chunks.at(-1);
  const message = { role: 'assistant', content: content || null, refusal: null, ...(calls.length ? { tool_calls: calls } : {}) };
  return { id: last.id, object: 'chat.completion', created: last.created, model: last.model, choices: [{ index: 0, message, finish_reason: finish, logprobs: null }], usage: last.usage };
}

function geminiWhole(path: string) {
  const events = fixtureText(path).split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
  const parts = events.flatMap((e) => e.candidates?.[0]?.content?.parts ?? []);
  const last = events.at(-1);
  return { candidates: [{ content: { role: 'model', parts }, finishReason: last.candidates[0].finishReason, index: 0 }], usageMetadata: last.usageMetadata, modelVersion: last.modelVersion, responseId: last.responseId };
}

function bedrockWhole(path: string) {
  const blocks = new Map<number, any>();
  let stopReason = '';
  let usage: unknown;
  for (const f of framesOf(path)) {
    const b = f.body as any;
    if (f.event === 'contentBlockStart' && b.start?.toolUse) blocks.set(b.contentBlockIndex, { toolUse: { ...b.start.toolUse, input: '' } });
    if (f.event === 'contentBlockDelta') {
      const d = b.delta;
      const cur = blocks.get(b.contentBlockIndex);
      if (d.text !== undefined) blocks.set(b.contentBlockIndex, { text: (cur?.text ?? '') + d.text });
      else if (d.toolUse) cur.toolUse.input += d.toolUse.input;
      else if (d.reasoningContent) {
        const r = cur?.reasoningContent?.reasoningText ?? { text: '' };
        if (d.reasoningContent.text) r.text += d.reasoningContent.text;
        if (d.reasoningContent.signature) r.signature = d.reasoningContent.signature;
        blocks.set(b.contentBlockIndex, { reasoningContent: { reasoningText: r } });
      }
    }
    if (f.event === 'messageStop') stopReason = b.stopReason;
    if (f.event === 'metadata') usage = b.usage;
  }
  const content = [...blocks.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => (v.toolUse ? { toolUse: { ...v.toolUse, input: JSON.parse(v.toolUse.input || '{}') } } : v));
  return { output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 1 } };
}

// ---------------------------------------------------------------------------------------------

// An Anthropic target counts (test/count-tokens.test.ts), and so do Bedrock serving Claude
// (test/count-tokens-bedrock.test.ts) and Gemini (test/count-tokens-google.test.ts); every other
// one has no count to give.
describe('count_tokens: a clear Anthropic-shaped 4xx for every target that cannot count, never a 500 or a made-up number', () => {
  for (const name of (Object.keys(targets) as TargetName[]).filter((n) => n !== 'anthropic' && n !== 'bedrock' && n !== 'google')) {
    it(`${name} target: POST /v1/messages/count_tokens (and ?beta=true, Claude Code's form) is a 404 not_found_error; nothing goes upstream`, async () => {
      const { app, sdk } = await start(targets[name]());
      const params = { model: MODEL[name], system, messages: loop, tools: [weather, clock] };
      const viaSdk = await sdk.messages.countTokens(params).catch((e: unknown) => e);
      expect(viaSdk).toBeInstanceOf(Anthropic.NotFoundError);
      expect((viaSdk as Anthropic.APIError).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
      const raw = await post(app, params, '/v1/messages/count_tokens?beta=true', { 'anthropic-beta': 'token-counting-2024-11-01' });
      expect(raw.status).toBe(404);
      expect(raw.json).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
      expect(raw.json.input_tokens).toBeUndefined();
      expect(upstream.requests).toHaveLength(0);
    });
  }
});

describe('request translation of what agents send (system blocks, cache_control, metadata, stop_sequences, tool_choice)', () => {
  it('Anthropic passthrough: system blocks with cache_control, metadata.user_id, stop_sequences, tool_choice and the client\'s anthropic-version and -beta arrive as sent', async () => {
    const { app } = await start({ ...targets.anthropic(), anthropic_beta: 'extended-cache-ttl-2025-04-11' });
    upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    const body = {
      model: 'claude-sonnet-4-6',
      max_tokens: 300,
      system,
      metadata: { user_id: 'user_abc' },
      stop_sequences: ['END'],
      tools: [weather, clock],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      messages: loop,
    };
    const res = await post(app, body, '/v1/messages?beta=true', { 'anthropic-beta': 'interleaved-thinking-2025-05-14,prompt-caching-scope-2026-01-05' });
    expect(res.status).toBe(200);
    const sent = upstream.requests[0]!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.json).toEqual(body);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers['x-api-key']).toBe('sk-ant-up');
    expect(String(sent.headers['anthropic-beta']).split(',').sort()).toEqual(['extended-cache-ttl-2025-04-11', 'interleaved-thinking-2025-05-14', 'prompt-caching-scope-2026-01-05']);
  });

  it('OpenAI: system blocks become one system message without cache_control; results follow their calls before the user text; user, stop and tool choices map', async () => {
    const { app } = await start(targets.openai());
    upstream.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const choices: Array<[unknown, Record<string, unknown>]> = [
      [{ type: 'auto', disable_parallel_tool_use: true }, { tool_choice: 'auto', parallel_tool_calls: false }],
      [{ type: 'any' }, { tool_choice: 'required' }],
      [{ type: 'tool', name: 'get_time' }, { tool_choice: { type: 'function', function: { name: 'get_time' } } }],
      [{ type: 'none' }, { tool_choice: 'none' }],
    ];
    for (const [choice, expected] of choices) {
      upstream.requests.length = 0;
      const res = await post(app, { model: 'gpt-4o-mini', max_tokens: 100, system, metadata: { user_id: 'user_abc' }, stop_sequences: ['END', 'STOP'], tools: [weather, clock], tool_choice: choice, messages: loop }, '/v1/messages?beta=true', {
        'anthropic-beta': 'interleaved-thinking-2025-05-14',
      });
      expect(res.status).toBe(200);
      const sent = upstream.requests[0]!;
      expect(sent.json).toMatchObject({ ...expected, user: 'user_abc', stop: ['END', 'STOP'], max_completion_tokens: 100 });
      if (!('parallel_tool_calls' in expected)) expect(sent.json.parallel_tool_calls).toBeUndefined();
      expect(sent.json.messages).toEqual([
        { role: 'system', content: 'You are a coding agent.\n\nBe brief.' },
        { role: 'user', content: 'Weather and time in Paris?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '{"tz":"CET"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_2', content: '12:00' },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
        { role: 'user', content: 'thanks' },
      ]);
      expect(Object.keys(sent.headers).filter((h) => h.startsWith('anthropic'))).toEqual([]);
      expect(JSON.stringify(sent.json)).not.toContain('cache_control');
      expect(sent.json.metadata).toBeUndefined();
    }
  });

  it('Gemini: one systemInstruction, all results of a step in one user turn in call order, stopSequences, functionCallingConfig per tool_choice', async () => {
    const { app } = await start(targets.google());
    upstream.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
    const choices: Array<[unknown, unknown]> = [
      [{ type: 'auto', disable_parallel_tool_use: true }, { mode: 'AUTO' }],
      [{ type: 'any' }, { mode: 'ANY' }],
      [{ type: 'tool', name: 'get_time' }, { mode: 'ANY', allowedFunctionNames: ['get_time'] }],
      [{ type: 'none' }, { mode: 'NONE' }],
    ];
    for (const [choice, config] of choices) {
      upstream.requests.length = 0;
      const res = await post(app, { model: 'gemini-2.5-flash', max_tokens: 100, system, metadata: { user_id: 'user_abc' }, stop_sequences: ['END'], tools: [weather, clock], tool_choice: choice, messages: loop });
      expect(res.status).toBe(200);
      const sent = upstream.requests[0]!.json;
      expect(sent.systemInstruction).toEqual({ parts: [{ text: 'You are a coding agent.\n\nBe brief.' }] });
      expect(sent.toolConfig).toEqual({ functionCallingConfig: config });
      expect(sent.generationConfig).toMatchObject({ maxOutputTokens: 100, stopSequences: ['END'] });
      expect(sent.contents.at(-1)).toEqual({
        role: 'user',
        parts: [{ functionResponse: { name: 'get_weather', response: { output: 'Sunny' } } }, { functionResponse: { name: 'get_time', response: { output: '12:00' } } }, { text: 'thanks' }],
      });
      expect(JSON.stringify(sent)).not.toMatch(/cache_control|user_abc|metadata/);
    }
  });

  it('Bedrock Converse (Claude): breakpoints become cachePoints, results and text share one user turn, stopSequences and toolChoice map, no metadata', async () => {
    const { app } = await start(targets.bedrock());
    upstream.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const choices: Array<[unknown, unknown]> = [
      [{ type: 'auto' }, { auto: {} }],
      [{ type: 'any' }, { any: {} }],
      [{ type: 'tool', name: 'get_time' }, { tool: { name: 'get_time' } }],
    ];
    for (const [choice, toolChoice] of choices) {
      upstream.requests.length = 0;
      const res = await post(app, { model: BEDROCK_CLAUDE, max_tokens: 100, system, metadata: { user_id: 'user_abc' }, stop_sequences: ['END'], tools: [weather, clock], tool_choice: choice, messages: loop });
      expect(res.status).toBe(200);
      const sent = upstream.requests[0]!;
      expect(sent.path).toBe('/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse');
      expect(sent.json.system).toEqual([{ text: 'You are a coding agent.' }, { text: 'Be brief.' }, { cachePoint: { type: 'default' } }]);
      expect(sent.json.inferenceConfig).toEqual({ maxTokens: 100, stopSequences: ['END'] });
      expect(sent.json.toolConfig.toolChoice).toEqual(toolChoice);
      expect(sent.json.messages.at(-1)).toEqual({
        role: 'user',
        content: [
          { toolResult: { toolUseId: 'toolu_2', content: [{ text: '12:00' }], status: 'success' } },
          { toolResult: { toolUseId: 'toolu_1', content: [{ text: 'Sunny' }], status: 'success' } },
          { text: 'thanks' },
          { cachePoint: { type: 'default' } },
        ],
      });
      expect(JSON.stringify(sent.json)).not.toMatch(/user_abc|metadata|anthropic_beta/);
    }
  });
});

describe('streams: event order, indexes and what finalMessage() assembles', () => {
  it('OpenAI: a tool-call stream becomes Anthropic events in order, partial_json fragments rebuild the arguments, usage on message_delta', async () => {
    const { app } = await start(targets.openai());
    const recorded = 'openai/chat-completions.tool-call.stream-include-usage.sse';
    upstream.route('/v1/chat/completions', { chunks: splitSse(fixtureText(recorded)) });
    const res = await post(app, { model: 'gpt-4o-mini', max_tokens: 100, stream: true, tools: [weather], messages: [{ role: 'user', content: 'Capital of the UK?' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = sseEvents(res.text);
    expect(grammarErrors(events)).toEqual([]);
    // Every `event:` line names its data's type.
    const named = res.text.split('\n\n').filter(Boolean).map((b) => [/^event: (.+)$/m.exec(b)?.[1], JSON.parse(/^data: (.+)$/m.exec(b)![1]!).type]);
    for (const [event, type] of named) expect(event).toBe(type);
    const whole = openaiWhole(recorded);
    const call = whole.choices[0]!.message.tool_calls![0];
    const opened = events.find((e) => e.type === 'content_block_start');
    expect(opened.content_block).toEqual({ type: 'tool_use', id: call.id, name: call.function.name, input: {}, caller: { type: 'direct' } });
    const fragments = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta);
    expect(fragments.every((d) => d.type === 'input_json_delta')).toBe(true);
    expect(fragments.length).toBeGreaterThan(1);
    expect(fragments.map((d) => d.partial_json).join('')).toBe(call.function.arguments);
    const delta = events.find((e) => e.type === 'message_delta');
    expect(delta).toMatchObject({ delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: whole.usage.prompt_tokens, output_tokens: whole.usage.completion_tokens } });
  });

  it('Anthropic passthrough: the upstream stream (ping included) reaches the client byte for byte', async () => {
    const { app } = await start(targets.anthropic());
    const raw = fixtureText('anthropic/messages.tool-use-after-tool-search.stream.sse');
    upstream.route('/v1/messages', { chunks: splitSse(raw) });
    const res = await post(app, { model: 'claude-sonnet-4-6', max_tokens: 500, stream: true, tools: [weather], messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(res.text).toBe(raw);
    expect(sseEvents(res.text).some((e) => e.type === 'ping')).toBe(true);
  });

  const pairs: Array<[string, TargetName, string, () => MockReply, () => MockReply, boolean]> = [
    ['OpenAI tool call', 'openai', 'gpt-4o-mini', () => ({ json: openaiWhole('openai/chat-completions.tool-call.stream-include-usage.sse') }), () => ({ chunks: splitSse(fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse')) }), false],
    ['Gemini 3 tool call', 'google', 'gemini-3-pro-preview', () => ({ json: geminiWhole('gemini/streamGenerateContent.tool-call.sse') }), () => ({ chunks: splitSse(fixtureText('gemini/streamGenerateContent.tool-call.sse')) }), false],
    ['Gemini thinking', 'google', 'gemini-2.5-flash', () => ({ json: geminiWhole('gemini/streamGenerateContent.thinking.sse') }), () => ({ chunks: splitSse(fixtureText('gemini/streamGenerateContent.thinking.sse')) }), false],
    ['Bedrock tool use', 'bedrock', BEDROCK_CLAUDE, () => ({ json: bedrockWhole('bedrock/converse-stream.tool-use.eventstream.bin') }), () => eventStream(framesOf('bedrock/converse-stream.tool-use.eventstream.bin')), false],
    ['Bedrock reasoning (signed thinking)', 'bedrock', BEDROCK_CLAUDE, () => ({ json: bedrockWhole('bedrock/converse-stream.reasoning.eventstream.bin') }), () => eventStream(framesOf('bedrock/converse-stream.reasoning.eventstream.bin')), true],
  ];
  for (const [name, target, model, whole, streamed, thinks] of pairs) {
    it(`${name}: stream().finalMessage() equals create() of the same answer (content, stop_reason, usage)`, async () => {
      const { sdk } = await start(targets[target]());
      upstream.enqueue('*', whole(), streamed());
      const params = { model, max_tokens: 2000, tools: [weather], messages: [{ role: 'user' as const, content: 'hi' }] };
      const created = await sdk.messages.create(params);
      const final = await sdk.messages.stream(params).finalMessage();
      expect(final.content).toEqual(created.content);
      expect(final.stop_reason).toBe(created.stop_reason);
      expect(final.stop_sequence).toBe(created.stop_sequence);
      expect(final.usage).toEqual(created.usage);
      expect(final.usage.input_tokens).toBeGreaterThan(0);
      if (thinks) expect(final.content[0]).toMatchObject({ type: 'thinking', signature: expect.stringMatching(/^E/) });
    });
  }
});

describe('long tool loops through the SDK tool runner (full history each turn, `thread: false`)', () => {
  for (const name of ['openai', 'google', 'bedrock'] as const) {
    it(`${name}: parallel calls, then a call, then the answer; every turn sends the whole conversation with the results paired`, async () => {
      const { sdk } = await start(targets[name]());
      upstream.enqueue('*', ...SCRIPT.map(([t, c]) => streamedTurn[name](t, c)));
      const ran: string[] = [];
      const runner = sdk.beta.messages.toolRunner({
        model: MODEL[name],
        max_tokens: 500,
        stream: true,
        max_iterations: 5,
        thread: false,
        system: [{ type: 'text', text: 'Use the tools.', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: QUESTION }],
        tools: runnerTools(ran),
      });
      const finals: Anthropic.Beta.BetaMessage[] = [];
      for await (const stream of runner) finals.push(await stream.finalMessage());
      expect(ran).toEqual(['weather:Paris', 'time:Europe/Paris', 'weather:Lyon']);
      expect(finals.map((m) => m.stop_reason)).toEqual(['tool_use', 'tool_use', 'end_turn']);
      expect(finals[0]!.content.filter((b) => b.type === 'tool_use').map((b) => (b as { input: unknown }).input)).toEqual([{ city: 'Paris' }, { tz: 'Europe/Paris' }]);
      expect(finals[2]!.content).toEqual([{ type: 'text', text: 'Paris is sunny at noon; Lyon too.' }]);
      expect(upstream.requests).toHaveLength(3);
      const last = JSON.stringify(upstream.requests[2]!.json);
      for (const needle of [QUESTION, 'sunny in Paris', '12:00', 'sunny in Lyon']) expect(last).toContain(needle);
      // The question, the Lyon call's arguments and its result.
      expect(last.split('Lyon').length - 1).toBeGreaterThanOrEqual(3);
    });
  }
});

describe('errors leave in Anthropic\'s shape with the right type, status and Retry-After', () => {
  const cases: Array<[string, TargetName, MockReply, number, string, string | null]> = [
    ['OpenAI 429 rate_limit_exceeded', 'openai', { status: 429, headers: { 'retry-after': '7' }, json: { error: { message: 'Rate limit reached for gpt-4o-mini on tokens per min (TPM)', type: 'tokens', param: null, code: 'rate_limit_exceeded' } } }, 429, 'rate_limit_error', '7'],
    ['OpenAI 503 overloaded', 'openai', { status: 503, json: { error: { message: 'The engine is currently overloaded', type: 'server_error', param: null, code: null } } }, 503, 'overloaded_error', null],
    ['OpenAI 400 context_length_exceeded', 'openai', { status: 400, json: { error: { message: "This model's maximum context length is 128000 tokens.", type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' } } }, 400, 'invalid_request_error', null],
    ['Gemini 429 RESOURCE_EXHAUSTED (recorded, RetryInfo 34.4s)', 'google', { status: 429, json: fixtureJson('gemini/error-429-resource-exhausted.json') }, 429, 'rate_limit_error', '35'],
    ['Bedrock 429 ThrottlingException', 'bedrock', { status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, json: { message: 'Too many requests, please wait before trying again.' } }, 429, 'rate_limit_error', null],
    ['Bedrock 400 ValidationException', 'bedrock', { status: 400, headers: { 'x-amzn-errortype': 'ValidationException' }, json: { message: 'Input is too long for requested model.' } }, 400, 'invalid_request_error', null],
    ['Anthropic 529 overloaded_error', 'anthropic', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_011' } }, 529, 'overloaded_error', null],
    ['Anthropic 429 rate_limit_error', 'anthropic', { status: 429, headers: { 'retry-after': '3' }, json: { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' }, request_id: 'req_012' } }, 429, 'rate_limit_error', '3'],
  ];
  for (const [name, target, reply, status, type, retryAfter] of cases) {
    it(`${name}: ${status} ${type}, streamed or not`, async () => {
      const { app, sdk } = await start(targets[target]());
      upstream.route('*', reply);
      for (const stream of [false, true]) {
        const res = await post(app, { model: MODEL[target], max_tokens: 50, stream, messages: [{ role: 'user', content: 'hi' }] });
        expect(res.status).toBe(status);
        expect(res.json).toMatchObject({ type: 'error', error: { type } });
        expect(res.headers.get('retry-after')).toBe(retryAfter);
      }
      const err = await sdk.messages.create({ model: MODEL[target], max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect((err as Anthropic.APIError).status).toBe(status);
      if (status === 429) expect(err).toBeInstanceOf(Anthropic.RateLimitError);
      if (status === 529) expect(err).toBeInstanceOf(Anthropic.OverloadedError);
    });
  }
});

describe('agent recovery, Claude Code identities and Bedrock details (fixed bugs)', () => {
  // Guards: a threaded request to a provider that cannot hold a thread is refused with thread_unsupported_request, and the SDK re-sends the whole conversation.
  for (const name of ['openai', 'google', 'bedrock'] as const) {
    it(`${name}: the default (threaded) tool runner still sends the whole conversation to a provider that cannot hold a thread`, async () => {
      const { sdk } = await start(targets[name]());
      upstream.enqueue('*', ...SCRIPT.map(([t, c]) => streamedTurn[name](t, c)));
      const ran: string[] = [];
      const runner = sdk.beta.messages.toolRunner({
        model: MODEL[name],
        max_tokens: 500,
        stream: true,
        max_iterations: 5,
        messages: [{ role: 'user', content: QUESTION }],
        tools: runnerTools(ran),
      });
      const finals: Anthropic.Beta.BetaMessage[] = [];
      for await (const stream of runner) finals.push(await stream.finalMessage());
      expect(ran).toEqual(['weather:Paris', 'time:Europe/Paris', 'weather:Lyon']);
      expect(finals.at(-1)!.content).toEqual([{ type: 'text', text: 'Paris is sunny at noon; Lyon too.' }]);
      const sent = upstream.requests.map((r: RecordedRequest) => JSON.stringify(r.json));
      expect(sent).toHaveLength(3);
      // Each turn the provider sees: the question, the tools, and every call and result so far.
      for (const text of sent) {
        expect(text).toContain(QUESTION);
        expect(text).toContain('get_time');
      }
      expect(sent[2]).toContain('sunny in Paris');
      expect(sent[2]!.split('Lyon').length - 1).toBeGreaterThanOrEqual(2);
    });
  }

  // Guards: an Anthropic error's `error.details` (error_code) reaches the SDK, so it replays a lost thread.
  it('Anthropic passthrough: a 404 thread_not_found keeps its details, so the tool runner replays the history under a new thread', async () => {
    const { sdk } = await start(targets.anthropic());
    const first = { id: 'msg_01Turn1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_01A', name: 'get_weather', input: { city: 'Paris' } }], stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: 30, output_tokens: 10 } };
    const last = { ...first, id: 'msg_01Turn2', content: [{ type: 'text', text: 'Sunny in Paris.' }], stop_reason: 'end_turn' };
    // Synthetic 404 in the shape the SDK's ThreadNotFoundError documents (error.details.error_code).
    const lost = { status: 404, json: { type: 'error', error: { type: 'not_found_error', message: 'The thread was not found or has expired.', details: { error_code: 'thread_not_found' } }, request_id: 'req_01Lost' } };
    upstream.enqueue('/v1/messages', { json: first }, lost, { json: last });
    const ran: string[] = [];
    const runner = sdk.beta.messages.toolRunner({ model: 'claude-sonnet-4-6', max_tokens: 500, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: runnerTools(ran) });
    const done = await runner.runUntilDone().catch((e: unknown) => e);
    expect(done).not.toBeInstanceOf(Error);
    expect((done as Anthropic.Beta.BetaMessage).content).toEqual([{ type: 'text', text: 'Sunny in Paris.' }]);
    // What went upstream: create, continue (lost), then the replay under a new thread with the whole history.
    expect(upstream.requests.map((r) => r.json.thread?.type)).toEqual(['create', 'continue', 'create']);
    expect(upstream.requests[2]!.json.messages).toHaveLength(3);
  });

  // Guards: a long metadata.user_id fits OpenAI's 64-character `user`.
  it('OpenAI: a Claude Code metadata.user_id is not sent as a `user` longer than the 64 characters OpenAI accepts', async () => {
    const { app } = await start(targets.openai());
    upstream.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const claudeCodeUser = `user_${'9f'.repeat(32)}_account_0b6d8f9e-1c2a-4c1e-9a55-3f1d2b9c7e10_session_7c1e2f3a-9b8d-4e6f-a1b2-c3d4e5f60718`;
    expect(claudeCodeUser.length).toBeGreaterThan(150);
    const res = await post(app, { model: 'gpt-4o-mini', max_tokens: 50, metadata: { user_id: claudeCodeUser }, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    const sent = upstream.requests[0]!.json;
    for (const field of ['user', 'safety_identifier']) {
      if (sent[field] !== undefined) expect(String(sent[field]).length).toBeLessThanOrEqual(64);
    }
  });

  // Guards: errors before a route is chosen (405, 503 while closing) answer in Anthropic's shape on /v1/messages itself.
  it('/v1/messages: a 405 and the shutting-down 503 answer in Anthropic\'s error shape', async () => {
    const { app } = await start(targets.openai());
    const wrong = await fetch(`${app.gatewayURL}/v1/messages?beta=true`, { method: 'GET', headers: { 'x-api-key': 'sk-ant-client' } });
    expect(wrong.status).toBe(405);
    expect(await wrong.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    await app.gateway.close(1000);
    const closing = await post(app, { model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    expect(closing.status).toBe(503);
    expect(closing.json).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  // Guards: Converse is asked for Claude's stop_sequence, and the one it names is the answer's.
  it('Bedrock Converse (Claude): stop_sequence names which of several sequences stopped the answer', async () => {
    const { sdk } = await start(targets.bedrock());
    // Converse returns the requested field paths in additionalModelResponseFields (AWS API reference); the rest is the recorded answer.
    upstream.route('*', (req) => {
      const asked = Array.isArray(req.json?.additionalModelResponseFieldPaths) && req.json.additionalModelResponseFieldPaths.includes('/stop_sequence');
      return { json: { ...fixtureJson('bedrock/converse.text.json'), stopReason: 'stop_sequence', ...(asked ? { additionalModelResponseFields: { stop_sequence: 'Observation:' } } : {}) } };
    });
    const msg = await sdk.messages.create({ model: BEDROCK_CLAUDE, max_tokens: 200, stop_sequences: ['Final Answer:', 'Observation:'], messages: [{ role: 'user', content: 'Think, then act.' }] });
    expect(msg.stop_reason).toBe('stop_sequence');
    expect(msg.stop_sequence).toBe('Observation:');
  });

  // Guards: only beta flags Bedrock documents go from the client to InvokeModel's anthropic_beta.
  it('Bedrock InvokeModel: a first-party-only beta flag from the client is not forwarded; flags Bedrock documents still are', async () => {
    const { app } = await start({ ...targets.bedrock(), bedrock_api: 'invoke' });
    upstream.route('*', { json: cassette('bedrock/invoke.anthropic-messages.cassette.yaml')[0]!.response.parsed_body });
    const res = await post(app, { model: BEDROCK_CLAUDE, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }, '/v1/messages?beta=true', {
      'anthropic-beta': 'oauth-2025-04-20,context-1m-2025-08-07',
    });
    expect(res.status).toBe(200);
    const sent = upstream.requests[0]!;
    expect(sent.path).toMatch(/\/invoke$/);
    expect(sent.json.anthropic_beta).toContain('context-1m-2025-08-07');
    expect(sent.json.anthropic_beta).not.toContain('oauth-2025-04-20');
  });
});
