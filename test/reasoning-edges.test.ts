/**
 * Reasoning / thinking models across providers, through the official SDKs: `reasoning_effort`,
 * `max_completion_tokens`, the `developer` role, Anthropic extended thinking (signed, redacted, handed
 * back in a tool loop), Gemini thought parts and signatures, DeepSeek / xAI / Groq reasoning fields,
 * and reasoning tokens in usage and cost. Upstream answers are recorded fixtures from shared/fixtures,
 * or minimal edits of them (each edit is said where it is made).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';

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

const target = (provider: string, path = '/v1', extra: Record<string, unknown> = {}) => () => ({
  provider,
  api_key: `key-${provider}`,
  custom_host: `${upstream.url}${path}`,
  ...extra,
});
const targets = {
  anthropic: target('anthropic'),
  openai: target('openai'),
  google: target('google', '/v1beta'),
  groq: target('groq'),
  deepseek: target('deepseek'),
  xai: target('xai'),
  cohere: target('cohere', '/v2'),
};

async function appFor(t: () => Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<TestApp> {
  const app = await appFactories.express5!({ env: {}, config: { targets: [t()] } as never, ...extra } as never);
  apps.push(app);
  return app;
}
async function openaiFor(t: () => Record<string, unknown>): Promise<{ client: OpenAI; app: TestApp }> {
  const app = await appFor(t);
  return { app, client: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 }) };
}
async function anthropicFor(t: () => Record<string, unknown>): Promise<Anthropic> {
  const app = await appFor(t);
  return new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 });
}

const user = (content: string) => ({ role: 'user' as const, content });

/** Every `data:` object of an SSE body (OpenAI or Anthropic framing). */
const dataOf = (text: string): any[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));

const THINKING = fixtureJson('anthropic/messages.thinking.json');
const weather: OpenAI.Chat.Completions.ChatCompletionTool = { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } };

describe('Anthropic extended thinking through /v1/chat/completions (openai SDK)', () => {
  it('reasoning_effort becomes thinking.budget_tokens below max_tokens: default limit + budget, or half of the client’s limit', async () => {
    upstream.route('/v1/messages', { json: THINKING });
    const { client } = await openaiFor(targets.anthropic);
    await client.chat.completions.create({ model: 'claude-opus-5', messages: [user('x')], reasoning_effort: 'high' });
    await client.chat.completions.create({ model: 'claude-opus-5', messages: [user('x')], reasoning_effort: 'high', max_completion_tokens: 3000 });
    await client.chat.completions.create({ model: 'claude-opus-5', messages: [user('x')], reasoning_effort: 'low', max_completion_tokens: 1500 });
    const sent = upstream.requests.map((r) => [r.json.max_tokens, r.json.thinking]);
    expect(sent).toEqual([
      [4096 + 4096, { type: 'enabled', budget_tokens: 4096 }],
      [3000, { type: 'enabled', budget_tokens: 1500 }],
      [1500, { type: 'enabled', budget_tokens: 1024 }],
    ]);
    for (const [max, thinking] of sent) expect((thinking as { budget_tokens: number }).budget_tokens).toBeLessThan(max as number);
  });

  it('a limit Anthropic cannot think within is a 400 naming max_completion_tokens, not an upstream call', async () => {
    const { client } = await openaiFor(targets.anthropic);
    const err = await client.chat.completions.create({ model: 'claude-opus-5', messages: [user('x')], reasoning_effort: 'low', max_completion_tokens: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as OpenAI.APIError).param).toBe('max_completion_tokens');
    expect(upstream.requests).toHaveLength(0);
  });

  it('the signed thinking block comes back beside reasoning_content, and goes first in the next turn with its signature', async () => {
    // Turn 1: the recorded thinking answer with its text block replaced by a tool_use (an edit: the recorded one answered directly).
    const withCall = { ...THINKING, stop_reason: 'tool_use', content: [THINKING.content[0], { type: 'tool_use', id: 'toolu_01A', name: 'weather', input: { city: 'Paris' } }] };
    upstream.enqueue('/v1/messages', { json: withCall }, { json: THINKING });
    const { client } = await openaiFor(targets.anthropic);
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [user('Weather in Paris?')];
    const one = await client.chat.completions.create({ model: 'claude-opus-5', messages, tools: [weather], reasoning_effort: 'low' });
    const m = one.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string; thinking_blocks?: unknown[] };
    expect(one.choices[0]!.finish_reason).toBe('tool_calls');
    expect(m.reasoning_content).toBe(THINKING.content[0].thinking);
    expect(m.thinking_blocks).toEqual([THINKING.content[0]]);
    expect(one.usage).toMatchObject({ completion_tokens: 1699, completion_tokens_details: { reasoning_tokens: 139 } });
    messages.push(m as OpenAI.Chat.Completions.ChatCompletionMessageParam);
    messages.push({ role: 'tool', tool_call_id: m.tool_calls![0]!.id, content: 'Sunny' });
    await client.chat.completions.create({ model: 'claude-opus-5', messages, tools: [weather], reasoning_effort: 'low' });
    const assistant = upstream.requests[1]!.json.messages[1];
    expect(assistant.role).toBe('assistant');
    expect(assistant.content.map((b: { type: string }) => b.type)).toEqual(['thinking', 'tool_use']);
    expect(assistant.content[0]).toEqual(THINKING.content[0]);
    expect(upstream.requests[1]!.json.messages[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_01A' });
  });

  it('stream: thinking_delta → reasoning_content, signature_delta → a thinking_blocks delta, then the text', async () => {
    const raw = fixtureText('anthropic/messages.thinking.stream.sse');
    upstream.route('/v1/messages', { chunks: splitSse(raw) });
    const app = await appFor(targets.anthropic);
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', stream: true, reasoning_effort: 'low', messages: [user('x')] }),
    });
    const deltas = dataOf(await res.text()).flatMap((c) => c.choices.map((ch: { delta: Record<string, unknown> }) => ch.delta));
    const events = dataOf(raw);
    const thinking = events.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking).join('');
    const signature = events.find((e) => e.delta?.type === 'signature_delta').delta.signature;
    const text = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
    expect(deltas.map((d) => d.reasoning_content ?? '').join('')).toBe(thinking);
    expect(deltas.map((d) => d.content ?? '').join('')).toBe(text);
    const sigAt = deltas.findIndex((d) => Array.isArray(d.thinking_blocks));
    expect(deltas[sigAt]!.thinking_blocks).toEqual([{ type: 'thinking', thinking: '', signature }]);
    // The signature closes the thinking: all reasoning before it, all text after it.
    expect(deltas.slice(sigAt).some((d) => d.reasoning_content)).toBe(false);
    expect(deltas.slice(0, sigAt).some((d) => d.content)).toBe(false);
  });
});

describe('OpenAI reasoning models: parameters pass as sent', () => {
  it('reasoning_effort, max_completion_tokens and the developer role reach OpenAI unchanged; reasoning tokens stay in usage', async () => {
    upstream.route('/v1/chat/completions', { json: { ...fixtureJson('openai/chat-completions.text.json'), model: 'o4-mini' } });
    const { client } = await openaiFor(targets.openai);
    const r = await client.chat.completions.create({
      model: 'o4-mini',
      reasoning_effort: 'high',
      max_completion_tokens: 5000,
      messages: [{ role: 'developer', content: 'Be brief' }, user('x')],
    });
    expect(upstream.requests[0]!.json).toMatchObject({ reasoning_effort: 'high', max_completion_tokens: 5000, messages: [{ role: 'developer', content: 'Be brief' }, { role: 'user' }] });
    expect(upstream.requests[0]!.json.max_tokens).toBeUndefined();
    expect(r.choices[0]!.message.content).toBeTruthy();
  });
});

describe('Gemini thinking through /v1/chat/completions', () => {
  it('reasoning_effort: a budget for 2.5, a level for 3 (Pro knows low/high), summaries asked for', async () => {
    upstream.route('*', { json: fixtureJson('gemini/generateContent.thinking.json') });
    const { client } = await openaiFor(targets.google);
    await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: [user('x')], reasoning_effort: 'low' });
    await client.chat.completions.create({ model: 'gemini-3-pro-preview', messages: [user('x')], reasoning_effort: 'medium' });
    expect(upstream.requests.map((r) => r.json.generationConfig.thinkingConfig)).toEqual([
      { thinkingBudget: 1024, includeThoughts: true },
      { thinkingLevel: 'high', includeThoughts: true },
    ]);
  });

  it('stream of thought summaries: thought parts → reasoning_content, text → content, thoughts billed as completion tokens', async () => {
    const raw = fixtureText('gemini/streamGenerateContent.thinking.sse');
    upstream.route('*', { chunks: splitSse(raw) });
    const { client } = await openaiFor(targets.google);
    const stream = await client.chat.completions.create({ model: 'gemini-2.5-pro', messages: [user('x')], stream: true, stream_options: { include_usage: true }, reasoning_effort: 'high' });
    let reasoning = '';
    let content = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const c of stream) {
      const d = c.choices[0]?.delta as { content?: string; reasoning_content?: string } | undefined;
      reasoning += d?.reasoning_content ?? '';
      content += d?.content ?? '';
      if (c.usage) usage = c.usage;
    }
    const events = dataOf(raw);
    const parts = events.flatMap((e) => e.candidates[0].content.parts);
    expect(reasoning).toBe(parts.filter((p: { thought?: boolean }) => p.thought).map((p: { text: string }) => p.text).join(''));
    expect(content).toBe(parts.filter((p: { thought?: boolean }) => !p.thought).map((p: { text: string }) => p.text).join(''));
    const last = events.at(-1).usageMetadata;
    expect(usage).toMatchObject({
      prompt_tokens: last.promptTokenCount,
      completion_tokens: last.candidatesTokenCount + last.thoughtsTokenCount,
      total_tokens: last.totalTokenCount,
      completion_tokens_details: { reasoning_tokens: last.thoughtsTokenCount },
    });
  });

  it('Gemini 3: the text part’s thoughtSignature comes back as extra_content and returns on the next turn', async () => {
    const rec = fixtureJson('gemini/generateContent.thinking.json');
    upstream.route('*', { json: rec });
    const { client } = await openaiFor(targets.google);
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [user('How many r?')];
    const one = await client.chat.completions.create({ model: 'gemini-3-pro-preview', messages });
    const m = one.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { extra_content?: unknown };
    expect(m.extra_content).toEqual({ google: { thought_signature: rec.candidates[0].content.parts[0].thoughtSignature } });
    expect(one.usage).toMatchObject({ completion_tokens: 29 + 282, completion_tokens_details: { reasoning_tokens: 282 } });
    messages.push(m as OpenAI.Chat.Completions.ChatCompletionMessageParam, user('And in "raspberry"?'));
    await client.chat.completions.create({ model: 'gemini-3-pro-preview', messages });
    expect(upstream.requests[1]!.json.contents[1]).toEqual({ role: 'model', parts: [{ text: rec.candidates[0].content.parts[0].text, thoughtSignature: rec.candidates[0].content.parts[0].thoughtSignature }] });
  });
});

describe('DeepSeek reasoning_content', () => {
  it('/v1/messages: DeepSeek’s stream becomes a thinking block then a text block, usage counts its reasoning as output', async () => {
    const raw = fixtureText('deepseek/chat-completions.reasoning.stream.sse');
    upstream.route('/v1/chat/completions', { chunks: splitSse(raw) });
    const client = await anthropicFor(targets.deepseek);
    const msg = await client.messages.stream({ model: 'deepseek-reasoner', max_tokens: 1000, messages: [user('x')] }).finalMessage();
    const chunks = dataOf(raw);
    const thinking = chunks.map((c) => c.choices[0]?.delta?.reasoning_content ?? '').join('');
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(msg.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect((msg.content[0] as Anthropic.ThinkingBlock).thinking).toBe(thinking);
    expect((msg.content[1] as Anthropic.TextBlock).text).toBe(text);
    expect(msg.usage.output_tokens).toBe(212);
  });
});

describe('/v1/messages thinking to translated targets', () => {
  // Guards: adaptive thinking keeps its effort for Gemini instead of being dropped with no thinkingConfig.
  it('/v1/messages → Gemini: adaptive thinking still asks Gemini for its thoughts', async () => {
    upstream.route('*', { json: fixtureJson('gemini/generateContent.thinking.json') });
    const client = await anthropicFor(targets.google);
    await client.messages.create({ model: 'gemini-3-pro-preview', max_tokens: 1000, messages: [user('x')], thinking: { type: 'adaptive' } as never });
    expect(upstream.requests[0]!.json.generationConfig.thinkingConfig).toMatchObject({ includeThoughts: true });
  });

  // Guards: budget_tokens reaches Cohere as thinking.token_budget, not folded into an effort preset.
  it('/v1/messages → Cohere: the client’s thinking budget goes upstream as sent', async () => {
    upstream.route('*', { json: fixtureJson('cohere/chat-v2.reasoning.json') });
    const client = await anthropicFor(targets.cohere);
    await client.messages.create({ model: 'command-a-reasoning-08-2025', max_tokens: 20000, messages: [user('x')], thinking: { type: 'enabled', budget_tokens: 16000 } });
    expect(upstream.requests[0]!.json.thinking).toEqual({ type: 'enabled', token_budget: 16000 });
  });
});

describe('OpenAI-compatible history: fields and roles each service takes', () => {
  // Guards: the `reasoning_content` the gateway adds to Groq answers is not sent back to Groq (which refuses it) when a client echoes the message.
  it('Groq: an OpenAI client that echoes a gpt-oss answer (with the reasoning_content the gateway added) gets its next turn answered', async () => {
    // Turn 1: the recorded Groq tool-call answer, edited to come from gpt-oss with `message.reasoning`
    // (Groq's documented field; the text is the recorded gpt-oss stream's reasoning deltas joined).
    const reasoning = dataOf(fixtureText('groq/chat-completions.reasoning-then-error.stream.sse'))
      .map((c) => c.choices?.[0]?.delta?.reasoning ?? '')
      .join('');
    const rec = fixtureJson('groq/chat-completions.tool-call.json');
    const one = { ...rec, model: 'openai/gpt-oss-120b', choices: [{ ...rec.choices[0], message: { ...rec.choices[0].message, reasoning } }] };
    upstream.enqueue('/v1/chat/completions', { json: one });
    // Groq's strict validation, as its users report it (janhq/jan#8136, NousResearch/hermes-agent#11089).
    upstream.enqueue('/v1/chat/completions', (req: RecordedRequest) => {
      const i = req.json.messages.findIndex((m: Record<string, unknown>) => 'reasoning_content' in m);
      if (i < 0) return { json: fixtureJson('groq/chat-completions.text.json') };
      const message = `'messages.${i}' : for 'role:assistant' the following must be satisfied[('messages.${i}' : property 'reasoning_content' is unsupported)]`;
      return { status: 400, json: { error: { message, type: 'invalid_request_error' } } };
    });
    const { client } = await openaiFor(targets.groq);
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [user('Weather?')];
    const first = await client.chat.completions.create({ model: 'openai/gpt-oss-120b', messages, tools: [weather] });
    const m = first.choices[0]!.message;
    messages.push(m as OpenAI.Chat.Completions.ChatCompletionMessageParam, { role: 'tool', tool_call_id: m.tool_calls![0]!.id, content: 'Sunny' });
    const second = await client.chat.completions.create({ model: 'openai/gpt-oss-120b', messages, tools: [weather] }).catch((e: unknown) => e);
    expect(second).not.toBeInstanceOf(OpenAI.APIError);
    expect(upstream.requests[1]!.json.messages[1]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'ax9fskhev' }] });
  });

  // Guards: the `developer` role (what the openai SDK and agent frameworks send; DeepSeek refuses it) reaches DeepSeek as `system`.
  it('DeepSeek gets developer instructions as a system message', async () => {
    upstream.route('/v1/chat/completions', (req: RecordedRequest) =>
      req.json.messages.some((m: { role: string }) => m.role === 'developer')
        ? {
            status: 422,
            json: {
              error: {
                message: 'Failed to deserialize the JSON body into the target type: messages[0].role: unknown variant `developer`, expected one of `system`, `user`, `assistant`, `tool` at line 1 column 53',
                type: 'invalid_request_error',
                param: null,
                code: 'invalid_request_error',
              },
            },
          }
        : { json: fixtureJson('deepseek/chat-completions.reasoning.json') },
    );
    const { client } = await openaiFor(targets.deepseek);
    const r = await client.chat.completions.create({ model: 'deepseek-reasoner', messages: [{ role: 'developer', content: 'Be brief' }, user('x')] }).catch((e: unknown) => e);
    expect(upstream.requests[0]!.json.messages[0]).toEqual({ role: 'system', content: 'Be brief' });
    expect(r).not.toBeInstanceOf(OpenAI.APIError);
  });
});

describe('/v1/messages usage of reasoning billed outside completion_tokens', () => {
  // Guards: /v1/messages answers from xAI used to report `output_tokens` without the reasoning tokens xAI bills outside `completion_tokens` (1 instead of 291), though the cost counts them.
  it('/v1/messages → xAI grok-3-mini: output_tokens include the reasoning tokens, non-stream and stream', async () => {
    const body = fixtureJson('xai/chat-completions.text.json');
    upstream.enqueue('/v1/chat/completions', { json: body }, { chunks: sseFromJsonl(fixtureText('xai/chat-completions.text.chunks.jsonl'), { done: true }) });
    const client = await anthropicFor(targets.xai);
    const msg = await client.messages.create({ model: 'grok-3-mini', max_tokens: 1000, messages: [user('x')] });
    const u = body.usage;
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens + u.completion_tokens_details.reasoning_tokens);
    const streamed = await client.messages.stream({ model: 'grok-3-mini', max_tokens: 1000, messages: [user('x')] }).finalMessage();
    expect([msg.usage.output_tokens, streamed.usage.output_tokens]).toEqual([1 + 228, 1 + 290]);
  });
});
