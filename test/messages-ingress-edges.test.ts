/** Edges of the /v1/messages ingress from an adversarial review (thinking budgets, stop sequences, cache hits of relayed answers, reasoning handed back to Groq); the regressions are marked. */
/**
 * Adversarial review of `POST /llm/v1/messages` (Anthropic format in) served by non-Anthropic targets
 * and by Anthropic targets, through the official `@anthropic-ai/sdk` (baseURL `<app>/llm`). Upstream
 * answers are recorded fixtures from shared/fixtures, or minimal edits of them (each edit is said where
 * it is made). Every failing test below carries: expected, actual, diagnosis with source file:line.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { eventStream, framesOf } from './helpers/bedrock-frames.js';
import { cassette, fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
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

const targets = {
  google: () => ({ provider: 'google', api_key: 'AIza-up', custom_host: `${upstream.url}/v1beta` }),
  cohere: () => ({ provider: 'cohere', api_key: 'co-up', custom_host: `${upstream.url}/v2` }),
  bedrock: () => ({ provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: upstream.url }),
  groq: () => ({ provider: 'groq', api_key: 'gsk-up', custom_host: `${upstream.url}/v1` }),
  anthropic: () => ({ provider: 'anthropic', api_key: 'sk-ant-up', custom_host: `${upstream.url}/v1` }),
};

async function clientFor(config: Record<string, unknown>): Promise<Anthropic> {
  const app = await appFactories.express5!({ env: {}, config: config as never });
  apps.push(app);
  return new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 });
}

const ask = { model: 'm', max_tokens: 200, messages: [{ role: 'user' as const, content: 'Hi' }] };
const BEDROCK_CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

describe("/v1/messages: the client's thinking budget reaches providers that take one", () => {
  // Regression (fixed). Expected: `thinking: {type:'enabled', budget_tokens: 16000}` reaches Claude on Bedrock as
  // additionalModelRequestFields.thinking.budget_tokens 16000 (Bedrock's Claude takes Anthropic's
  // `thinking` object as is; the chat route forwards it too). Actual: 4096.
  // Diagnosis: to-chat-request.ts:197-201 (`effortFor`) folds every budget into low/medium/high
  // (≥4096 → "high"), and handle-messages.ts:40 strips `thinking` (an extra) before every non-Anthropic
  // provider, so bedrock/request.ts:115 never sees it and :123 uses THINKING_BUDGET.high = 4096.
  // A Claude Code user on Bedrock asking for 16k (or 32k) thinking silently gets 4k.
  it('Claude on Bedrock gets budget_tokens as sent, not the "high" bucket (4096)', async () => {
    upstream.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const client = await clientFor({ targets: [targets.bedrock()] });
    await client.messages.create({ ...ask, model: BEDROCK_CLAUDE, max_tokens: 20000, thinking: { type: 'enabled', budget_tokens: 16000 } });
    expect(upstream.requests[0]!.json.additionalModelRequestFields?.thinking).toEqual({ type: 'enabled', budget_tokens: 16000 });
  });

  // Regression (fixed). Expected: Gemini 2.5 gets thinkingBudget 4096 (generation-config.ts:39-42 maps an Anthropic
  // `thinking` budget exactly). Actual: 24576 — six times what the client allowed, billed as output.
  // Diagnosis: same as above — the budget becomes reasoning_effort "high" (to-chat-request.ts:201),
  // which generation-config.ts:13 turns into 24576; `thinking` itself was stripped (handle-messages.ts:40).
  it('Gemini 2.5 gets thinkingBudget as sent, not 24576', async () => {
    upstream.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
    const client = await clientFor({ targets: [targets.google()] });
    await client.messages.create({ ...ask, model: 'gemini-2.5-flash', max_tokens: 8000, thinking: { type: 'enabled', budget_tokens: 4096 } });
    expect(upstream.requests[0]!.json.generationConfig.thinkingConfig).toMatchObject({ thinkingBudget: 4096, includeThoughts: true });
  });
});

describe("/v1/messages: stop_reason 'stop_sequence' when the provider says the model stopped at one", () => {
  // Regression (fixed). Expected (Anthropic's contract, and what the same Claude says on Anthropic's own API):
  // stop_reason "stop_sequence" (and, where the upstream names it, stop_sequence "END"). Actual:
  // "end_turn" / null, so a ReAct-style client that stops at "Observation:" cannot tell a stop sequence
  // from a finished answer. Diagnosis: the OpenAI middle form has only finish_reason "stop":
  // bedrock/finish-reason.ts:5, cohere/finish-reason.ts:7 and anthropic/stop-reason.ts:6 (Claude via
  // Bedrock InvokeModel) all map the stop sequence to "stop"; toStopReason turns "stop" into "end_turn"
  // and to-message.ts:46 / to-events.ts:221 hard-code stop_sequence: null.
  // Edits of the recordings: only the stop reason field (and Anthropic's stop_sequence) are changed.
  const invoke = () => cassette('bedrock/invoke.anthropic-messages.cassette.yaml')[0]!.response.parsed_body;
  const cases: Array<[string, () => Record<string, unknown>, string, () => MockReply, boolean, boolean]> = [
    ['Claude on Bedrock Converse', targets.bedrock, BEDROCK_CLAUDE, () => ({ json: { ...fixtureJson('bedrock/converse.text.json'), stopReason: 'stop_sequence' } }), false, false],
    [
      'Claude on Bedrock ConverseStream',
      targets.bedrock,
      BEDROCK_CLAUDE,
      () => eventStream(framesOf('bedrock/converse-stream.text.eventstream.bin').map((f) => (f.event === 'messageStop' ? { ...f, body: { ...f.body, stopReason: 'stop_sequence' } } : f))),
      true,
      false,
    ],
    ['Claude on Bedrock InvokeModel (names the sequence)', () => ({ ...targets.bedrock(), bedrock_api: 'invoke' }), 'us.anthropic.claude-opus-4-8', () => ({ json: { ...invoke(), stop_reason: 'stop_sequence', stop_sequence: 'END' } }), false, true],
    ['Cohere', targets.cohere, 'command-a-03-2025', () => ({ json: { ...fixtureJson('cohere/chat-v2.text.json'), finish_reason: 'STOP_SEQUENCE' } }), false, false],
  ];
  for (const [name, target, model, reply, stream, named] of cases) {
    it(name, async () => {
      upstream.route('*', reply());
      const client = await clientFor({ targets: [target()] });
      const body = { ...ask, model, stop_sequences: ['END'] };
      const msg = stream ? await client.messages.stream(body).finalMessage() : await client.messages.create(body);
      expect(msg.stop_reason).toBe('stop_sequence');
      if (named) expect(msg.stop_sequence).toBe('END');
    });
  }
});

describe('/v1/messages with the response cache on an Anthropic target: a HIT answers what the MISS answered', () => {
  // Regression (fixed). Expected: the repeat (x-llmux-cache: HIT) is the same message the first call returned.
  // Was: stop_reason "end_turn" and stop_sequence null. Diagnosis: the cache keeps the OpenAI
  // translation of the passthrough answer; on a hit handle-messages.ts:88 has no upstream message
  // (`passed.message()` is unset) and rebuilds one with toMessage, which cannot restore what the
  // translation dropped (anthropic/stop-reason.ts:6, to-message.ts:46).
  // Edit of the recording: stop_reason/stop_sequence set to a stop-sequence stop.
  it('non-stream: a stop at a stop sequence stays one', async () => {
    upstream.route('/v1/messages', { json: { ...fixtureJson('anthropic/messages.text.json'), stop_reason: 'stop_sequence', stop_sequence: 'END' } });
    const client = await clientFor({ cache: { mode: 'simple' }, targets: [targets.anthropic()] });
    const body = { ...ask, model: 'claude-sonnet-4-6', stop_sequences: ['END'] };
    const first = await client.messages.create(body);
    const again = await client.messages.create(body).withResponse();
    expect(again.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(upstream.requests).toHaveLength(1);
    expect(first).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    expect(again.data).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
  });

  // Regression (fixed). Expected: the cached stream replays the five blocks the upstream streamed (thinking, text,
  // server_tool_use, bash_code_execution_tool_result, text). Actual: [thinking, text] — the code
  // execution call, its result and the text after it are gone, the two texts merged into one.
  // Diagnosis: translate-response/stream of the Anthropic provider leave server-tool blocks out of
  // the OpenAI chunks (translate-response.ts:11 says so), and a hit is replayed from those chunks
  // through EventWriter (handle-messages.ts:91: `passed.streamed()` is false on a hit).
  it('stream: server-tool blocks (code execution) survive the replay', async () => {
    upstream.route('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.server-tool-code-execution.stream.sse')) });
    const client = await clientFor({ cache: { mode: 'simple' }, targets: [targets.anthropic()] });
    const body = { ...ask, model: 'claude-sonnet-4-6' };
    const first = await client.messages.stream(body).finalMessage();
    const again = await client.messages.stream(body).finalMessage();
    // Not stored (its OpenAI translation has no form for server-tool blocks): the upstream answers again.
    expect(upstream.requests).toHaveLength(2);
    expect(first.content.map((b) => b.type)).toEqual(['thinking', 'text', 'server_tool_use', 'bash_code_execution_tool_result', 'text']);
    expect(again.content.map((b) => b.type)).toEqual(first.content.map((b) => b.type));
  });

  it('non-stream: answers with server-tool blocks, citations or pause_turn are not stored; a plain one is', async () => {
    const text = fixtureJson('anthropic/messages.text.json');
    const lossy = [
      { ...text, content: [{ type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'x' } }, ...text.content] },
      { ...text, content: [{ ...text.content[0], citations: [{ type: 'web_search_result_location', url: 'https://example.com', title: 't', cited_text: 'c' }] }] },
      { ...text, stop_reason: 'pause_turn' },
    ];
    for (const [i, answer] of lossy.entries()) {
      upstream.reset();
      upstream.route('/v1/messages', { json: answer });
      const client = await clientFor({ cache: { mode: 'simple' }, targets: [targets.anthropic()] });
      const body = { ...ask, model: 'claude-sonnet-4-6', messages: [{ role: 'user' as const, content: `lossy ${i}` }] };
      const first = await client.messages.create(body);
      const again = await client.messages.create(body).withResponse();
      expect(again.response.headers.get('x-llmux-cache'), `case ${i}`).toBe('MISS');
      expect(upstream.requests, `case ${i}`).toHaveLength(2);
      expect(again.data).toEqual(first);
    }
    upstream.reset();
    upstream.route('/v1/messages', { json: text });
    const client = await clientFor({ cache: { mode: 'simple' }, targets: [targets.anthropic()] });
    await client.messages.create({ ...ask, model: 'claude-sonnet-4-6' });
    expect((await client.messages.create({ ...ask, model: 'claude-sonnet-4-6' }).withResponse()).response.headers.get('x-llmux-cache')).toBe('HIT');
  });

  it('stream: a stop at a stop sequence stays one on the HIT (two sequences asked, the one named kept)', async () => {
    const sse = fixtureText('anthropic/messages.text.stream.sse').replace(/"stop_reason":"end_turn","stop_sequence":null/, '"stop_reason":"stop_sequence","stop_sequence":"END"');
    expect(sse).toContain('"stop_sequence":"END"');
    upstream.route('/v1/messages', { chunks: splitSse(sse) });
    const client = await clientFor({ cache: { mode: 'simple' }, targets: [targets.anthropic()] });
    const body = { ...ask, model: 'claude-sonnet-4-6', stop_sequences: ['END', 'STOP'] };
    const first = await client.messages.stream(body).finalMessage();
    const again = await client.messages.stream(body).finalMessage();
    expect(upstream.requests).toHaveLength(1);
    expect(first).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
    expect(again).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: 'END' });
  });

  // Passing (not covered elsewhere): a streamed thinking answer replayed from the cache keeps its
  // signed thinking block, text and stop reason.
  it('stream: a thinking answer replays with its signature', async () => {
    upstream.route('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.thinking.stream.sse')) });
    const client = await clientFor({ cache: { mode: 'simple' }, targets: [targets.anthropic()] });
    const body = { ...ask, model: 'claude-sonnet-4-6', max_tokens: 4096, thinking: { type: 'enabled' as const, budget_tokens: 1024 } };
    const first = await client.messages.stream(body).finalMessage();
    const again = await client.messages.stream(body).finalMessage();
    expect(upstream.requests).toHaveLength(1);
    expect(again.content).toEqual(first.content);
    expect(again.stop_reason).toBe(first.stop_reason);
    expect(again.usage).toMatchObject({ input_tokens: first.usage.input_tokens, output_tokens: first.usage.output_tokens });
  });
});

describe('/v1/messages agent loop on Groq: the next turn after a reasoning answer', () => {
  // Regression (fixed). Expected: turn 2 succeeds. Groq's reasoning models (gpt-oss, recorded below) stream
  // `reasoning`, which the gateway itself turns into a `thinking` block; the SDK agent loop sends that
  // content back with the tool_result, as Anthropic requires. Actual: the gateway sends the assistant
  // turn to Groq with `reasoning_content` and `thinking_blocks`, which Groq refuses with a 400
  // ("property 'reasoning_content' is unsupported", its documented strict validation — see e.g.
  // janhq/jan#8136); the mock answers as Groq does. Every multi-step tool loop on a Groq reasoning model
  // fails on its second request. Diagnosis: to-chat-request.ts:179-180 put both fields on the assistant
  // message, and handle-messages.ts:70/40 strip only extras, breakpoints and is_error (the same class of
  // bug as `is_error`, which handle-messages.ts already strips for Groq).
  // Turn 1 is the recorded Groq gpt-oss reasoning stream (its trailing error event left out) followed by
  // the recorded Groq tool-call chunks.
  it('does not send reasoning_content / thinking_blocks, which Groq refuses', async () => {
    const reasoning = splitSse(fixtureText('groq/chat-completions.reasoning-then-error.stream.sse')).filter((e) => !e.startsWith('event: error'));
    const call = sseFromJsonl(fixtureText('groq/chat-completions.tool-call.chunks.jsonl'), { done: true }).slice(1);
    upstream.enqueue('/v1/chat/completions', { chunks: [...reasoning, ...call] });
    upstream.enqueue('/v1/chat/completions', (req) => {
      const i = req.json.messages.findIndex((m: Record<string, unknown>) => 'reasoning_content' in m || 'thinking_blocks' in m);
      if (i < 0) return { json: fixtureJson('groq/chat-completions.text.json') };
      const message = `'messages.${i}' : for 'role:assistant' the following must be satisfied[('messages.${i}' : property 'reasoning_content' is unsupported)]`;
      return { status: 400, json: { error: { message, type: 'invalid_request_error' } } };
    });
    const client = await clientFor({ targets: [targets.groq()] });
    const tools = [{ name: 'weather', input_schema: { type: 'object' as const } }];
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather?' }];
    const one = await client.messages.stream({ ...ask, model: 'openai/gpt-oss-120b', messages, tools }).finalMessage();
    expect(one.content.map((b) => b.type)).toEqual(['thinking', 'tool_use']);
    const use = one.content[1] as Anthropic.ToolUseBlock;
    messages.push({ role: 'assistant', content: one.content as Anthropic.ContentBlockParam[] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Sunny' }] });
    const two = await client.messages.create({ ...ask, model: 'openai/gpt-oss-120b', messages, tools }).catch((e: unknown) => e);
    expect(two).not.toBeInstanceOf(Anthropic.APIError);
    expect(upstream.requests[1]!.json.messages[1]).toMatchObject({ role: 'assistant', tool_calls: [{ id: use.id }] });
  });
});

describe('/v1/messages: a non-Anthropic stream that ends early is an error, never a short message', () => {
  // Passing (the chat route has this; /v1/messages with Gemini had no test): Gemini's stream has no
  // terminator, so a connection closed cleanly before any finishReason must still reach the SDK as an error.
  it('Gemini closed before finishReason: the SDK raises instead of returning a truncated message', async () => {
    const events = splitSse(fixtureText('gemini/streamGenerateContent.text.sse'));
    expect(events.slice(0, 2).some((e) => e.includes('finishReason'))).toBe(false);
    upstream.route('*', { chunks: events.slice(0, 2) });
    const client = await clientFor({ targets: [targets.google()] });
    const err = await client.messages.stream({ ...ask, model: 'gemini-2.0-flash' }).finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
  });
});
