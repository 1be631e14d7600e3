import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, fixtureText, splitSse } from '../../../../test/helpers/fixtures.js';
import { sseFromJsonl } from '../../../../test/helpers/mock-upstream.js';
import { GEMINI_KEY, googleGateway, recording, replayHeaders, sseFromSegments } from './google-setup.js';

const g = googleGateway();
const user = [{ role: 'user' as const, content: 'Hi' }];
const path = (model: string) => `/v1beta/models/${model}:streamGenerateContent`;

type Chunk = OpenAI.ChatCompletionChunk & { choices: Array<OpenAI.ChatCompletionChunk.Choice & { delta: { reasoning_content?: string; extra_content?: unknown } }> };

async function collect(params: Partial<OpenAI.ChatCompletionCreateParamsStreaming> & { model: string }) {
  const stream = await g.client.chat.completions.create({ messages: user, stream: true, ...params } as OpenAI.ChatCompletionCreateParamsStreaming);
  const chunks: Chunk[] = [];
  for await (const c of stream) chunks.push(c as Chunk);
  const deltas = chunks.flatMap((c) => c.choices.map((ch) => ch.delta));
  return {
    chunks,
    text: deltas.map((d) => d.content ?? '').join(''),
    reasoning: deltas.map((d) => d.reasoning_content ?? '').join(''),
    tools: deltas.flatMap((d) => d.tool_calls ?? []),
    finish: chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter(Boolean),
    usage: chunks.find((c) => c.usage)?.usage,
  };
}

describe('google streams: recorded SSE through the OpenAI SDK', () => {
  it('streams CRLF-separated text and matches the recorded request (streamGenerateContent.text.sse + cassette)', async () => {
    const [rec] = cassette('gemini/streamGenerateContent.text.cassette.yaml');
    g.upstream.enqueue(path('gemini-2.0-flash-exp'), { chunks: splitSse(fixtureText('gemini/streamGenerateContent.text.sse')) });
    const out = await collect({
      model: 'gemini-2.0-flash-exp',
      messages: [
        { role: 'system', content: 'You are a helpful chatbot.' },
        { role: 'user', content: 'What is the capital of France?' },
      ],
      temperature: 0,
      stream_options: { include_usage: true },
    });
    const sent = g.upstream.requests[0]!;
    expect(sent.path).toBe('/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent?alt=sse');
    expect(new URL(rec!.request.uri).pathname + new URL(rec!.request.uri).search).toBe(sent.path);
    expect(sent.headers['x-goog-api-key']).toBe(GEMINI_KEY);
    const recorded = rec!.request.parsed_body;
    expect(sent.json.contents).toEqual(recorded.contents);
    expect(sent.json.generationConfig).toEqual(recorded.generationConfig);
    expect(sent.json.systemInstruction.parts).toEqual(recorded.systemInstruction.parts);
    expect(out.text).toBe('The capital of France is Paris.\n');
    expect(out.finish).toEqual(['stop']);
    // Usage is cumulative in every Gemini event: the client gets it once, from the last one, after the finish.
    expect(out.chunks.filter((c) => c.usage)).toHaveLength(1);
    expect(out.chunks.at(-1)!.choices).toEqual([]);
    expect(out.usage).toMatchObject({
      prompt_tokens: 13,
      completion_tokens: 8,
      total_tokens: 21,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    expect(out.chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(new Set(out.chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-w1peaMz6INOvnvgPgYfPiQY']));
  });

  it('reassembles events split at odd byte boundaries, CRLF pairs cut in half', async () => {
    const raw = new TextEncoder().encode(fixtureText('gemini/streamGenerateContent.text.sse'));
    const pieces: Uint8Array[] = [];
    for (let i = 0; i < raw.length; i += 7) pieces.push(raw.subarray(i, i + 7));
    g.upstream.enqueue(path('gemini-2.0-flash-exp'), { chunks: pieces });
    const out = await collect({ model: 'gemini-2.0-flash-exp' });
    expect(out.text).toBe('The capital of France is Paris.\n');
    expect(out.usage).toBeUndefined();
  });

  it('streams a function call as one tool-call delta, finish tool_calls (streamGenerateContent.tool-call.sse)', async () => {
    g.upstream.enqueue(path('gemini-3-pro-preview'), { chunks: splitSse(fixtureText('gemini/streamGenerateContent.tool-call.sse')) });
    const out = await collect({ model: 'gemini-3-pro-preview' });
    expect(out.tools).toEqual([
      {
        index: 0,
        id: 'call_QUVVadTSNJ6_qtsPvN7J8Q0_0_0',
        type: 'function',
        function: { name: 'get_country', arguments: '{}' },
        extra_content: { google: { thought_signature: expect.stringMatching(/^EpwICpkIAXLI2nx/) } },
      },
    ]);
    expect(out.finish).toEqual(['tool_calls']);
    expect(out.text).toBe('');
  });

  it('replays the recorded streamed tool round trip, signature included (streamGenerateContent.tool-call.cassette.yaml)', async () => {
    const [first, second] = cassette('gemini/streamGenerateContent.tool-call.cassette.yaml');
    g.upstream.enqueue(
      path('gemini-3-pro-preview'),
      { chunks: splitSse(first!.response.body!.string!) },
      { chunks: splitSse(fixtureText('gemini/streamGenerateContent.after-function-response.sse')) },
    );
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_country', description: '', parameters: { additionalProperties: false, properties: {}, type: 'object' } } }];
    const question = first!.request.parsed_body.contents[0].parts[0].text as string;
    const runner = g.client.chat.completions.stream({ model: 'gemini-3-pro-preview', messages: [{ role: 'user', content: question }], tools });
    const call = await runner.finalChatCompletion();
    expect(g.upstream.requests[0]!.json).toEqual({ contents: first!.request.parsed_body.contents, tools: [{ functionDeclarations: [{ name: 'get_country' }] }] });
    expect(call.choices[0]!.finish_reason).toBe('tool_calls');
    const toolCall = call.choices[0]!.message.tool_calls![0]!;
    expect(toolCall.type === 'function' && toolCall.function).toEqual({ name: 'get_country', arguments: '{}' });

    // A client echoing the raw streamed tool call back keeps its extra_content (the SDK's helper drops it, the raw chunks keep it).
    const signature = /"thoughtSignature": "([^"]+)"/.exec(first!.response.body!.string!)![1]!;
    const stream = await g.client.chat.completions.create({
      model: 'gemini-3-pro-preview',
      stream: true,
      tools,
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: null, tool_calls: [{ ...toolCall, extra_content: { google: { thought_signature: signature } } }] as never },
        { role: 'tool', tool_call_id: toolCall.id, content: 'Mexico' },
      ],
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      usage = c.usage ?? usage;
    }
    const next = g.upstream.requests[1]!.json;
    const recordedNext = second!.request.parsed_body;
    expect(next.contents).toEqual([
      recordedNext.contents[0],
      { role: 'model', parts: [{ functionCall: { name: 'get_country', args: {} }, thoughtSignature: signature }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_country', response: { output: 'Mexico' } } }] },
    ]);
    expect(text).toBe('The capital of Mexico is Mexico City.');
    expect(usage).toMatchObject({ prompt_tokens: 257, completion_tokens: 8, total_tokens: 265 });
  });

  it('streams the answer after a function response (streamGenerateContent.after-function-response.sse)', async () => {
    g.upstream.enqueue(path('gemini-3-pro-preview'), { chunks: splitSse(fixtureText('gemini/streamGenerateContent.after-function-response.sse')) });
    const out = await collect({ model: 'gemini-3-pro-preview' });
    expect(out.text).toBe('The capital of Mexico is Mexico City.');
    expect(out.finish).toEqual(['stop']);
  });

  it('streams thought summaries as reasoning_content, then the answer (streamGenerateContent.thinking.sse)', async () => {
    g.upstream.enqueue(path('gemini-2.5-pro'), { chunks: splitSse(fixtureText('gemini/streamGenerateContent.thinking.sse')) });
    const out = await collect({ model: 'gemini-2.5-pro', reasoning_effort: 'high', stream_options: { include_usage: true } });
    expect(g.upstream.requests[0]!.json.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 24576, includeThoughts: true } });
    expect(out.reasoning).toMatch(/^\*\*Clarifying User Goals\*\*/);
    expect(out.reasoning).toContain('**Crafting Safe Instructions**');
    expect(out.text).toMatch(/^This is a great question! Safely crossing/);
    expect(out.text).not.toContain('Clarifying User Goals');
    // Reasoning comes first, the answer after — the order a client renders.
    const firstText = out.chunks.findIndex((c) => c.choices[0]?.delta.content);
    const lastReasoning = out.chunks.findLastIndex((c) => c.choices[0]?.delta.reasoning_content);
    expect(lastReasoning).toBeLessThan(firstText);
    expect(out.finish).toEqual(['stop']);
    expect(out.usage).toMatchObject({ prompt_tokens: 34, completion_tokens: 469 + 787, total_tokens: 1290, completion_tokens_details: { reasoning_tokens: 787 } });
  });

  it('streams the recorded JSONL chunks re-framed as SSE (text, thinking, tool-call .chunks.jsonl)', async () => {
    g.upstream.enqueue(
      path('gemini-3-pro-preview'),
      { chunks: sseFromJsonl(fixtureText('gemini/streamGenerateContent.text.chunks.jsonl')) },
      { chunks: sseFromJsonl(fixtureText('gemini/streamGenerateContent.thinking.chunks.jsonl')) },
      { chunks: sseFromJsonl(fixtureText('gemini/streamGenerateContent.tool-call.chunks.jsonl')) },
    );
    const text = await collect({ model: 'gemini-3-pro-preview', stream_options: { include_usage: true } });
    expect(text.text).toBe('There are **3** "r"s in strawberry.\n\nst**r**awbe**rr**y');
    expect(text.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 23 + 185, total_tokens: 217 });
    // Gemini 3 signs the answer on a trailing empty part; the signature rides on that delta.
    expect(text.chunks.some((c) => (c.choices[0]?.delta.extra_content as any)?.google.thought_signature.startsWith('EqsFCqgFAb4'))).toBe(true);
    const thinking = await collect({ model: 'gemini-3-pro-preview' });
    expect(thinking.text).toBe('There are **3** "r"s in strawberry.\n\nHere is the breakdown: st**r**awbe**rr**y.');
    expect(thinking.finish).toEqual(['stop']);
    const tool = await collect({ model: 'gemini-3-pro-preview' });
    expect(tool.tools.map((t) => [t.index, t.function?.name, t.function?.arguments])).toEqual([[0, 'weather', '{"location":"San Francisco"}']]);
    expect(tool.finish).toEqual(['tool_calls']);
  });

  it('streams the js-genai recording: MAX_TOKENS is length, usage from the last event (streamGenerateContent.recording.json)', async () => {
    const rec = recording('gemini/streamGenerateContent.recording.json');
    g.upstream.enqueue(path('gemini-2.5-flash'), { status: rec.response.status, headers: replayHeaders(rec.response.headers), chunks: sseFromSegments(rec.response.segments) });
    const out = await collect({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'why is the sky blue?' }],
      n: 1,
      max_tokens: 200,
      thinking: { type: 'enabled', budget_tokens: 50 },
      stream_options: { include_usage: true },
    } as never);
    const recorded = rec.request.body;
    expect(g.upstream.requests[0]!.path).toBe(rec.request.url);
    expect(g.upstream.requests[0]!.json).toEqual({
      ...recorded,
      generationConfig: { ...recorded.generationConfig, thinkingConfig: { ...recorded.generationConfig.thinkingConfig, includeThoughts: true } },
    });
    expect(out.text).toBe(rec.response.segments.map((s) => s.candidates[0].content.parts[0].text).join(''));
    expect(out.finish).toEqual(['length']);
    expect(out.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 153 + 45, total_tokens: 205 });
  });

  it('gives parallel function calls distinct indexes and ids across events', async () => {
    // Synthetic, built from the recorded tool-call event: two calls in one event, a third in the next.
    const [event] = splitSse(fixtureText('gemini/streamGenerateContent.tool-call.sse'));
    const base = JSON.parse(event!.slice('data: '.length));
    const call = (name: string, args: object) => ({ functionCall: { name, args } });
    const ev = (parts: object[], finishReason?: string) =>
      `data: ${JSON.stringify({ ...base, candidates: [{ content: { role: 'model', parts }, index: 0, ...(finishReason ? { finishReason } : {}) }] })}\r\n\r\n`;
    g.upstream.enqueue(path('gemini-2.5-flash'), {
      chunks: [ev([call('weather', { city: 'Paris' }), call('weather', { city: 'Rome' })]), ev([call('clock', { tz: 'CET' })]), ev([{ text: '' }], 'STOP')],
    });
    const runner = g.client.chat.completions.stream({ model: 'gemini-2.5-flash', messages: user });
    const done = await runner.finalChatCompletion();
    expect(done.choices[0]!.finish_reason).toBe('tool_calls');
    expect(done.choices[0]!.message.tool_calls!.map((t) => t.type === 'function' && [t.id, t.function.name, JSON.parse(t.function.arguments)])).toEqual([
      [`call_${base.responseId}_0_0`, 'weather', { city: 'Paris' }],
      [`call_${base.responseId}_0_1`, 'weather', { city: 'Rome' }],
      [`call_${base.responseId}_0_2`, 'clock', { tz: 'CET' }],
    ]);
  });

  it('streams a blocked prompt as a refusal with content_filter', async () => {
    // Synthetic, per Google's docs: a single event without candidates.
    g.upstream.enqueue(path('gemini-2.5-flash'), { chunks: [`data: ${JSON.stringify({ promptFeedback: { blockReason: 'SAFETY' }, responseId: 'blk' })}\r\n\r\n`] });
    const out = await collect({ model: 'gemini-2.5-flash' });
    expect(out.finish).toEqual(['content_filter']);
    expect((out.chunks[0]!.choices[0]!.delta as { refusal?: string }).refusal).toBe('Gemini blocked the prompt (SAFETY)');
  });
});

describe('google streams that break', () => {
  const events = () => splitSse(fixtureText('gemini/streamGenerateContent.text.sse'));

  it('ends with an error event, never [DONE], when the stream closes without a finishReason', async () => {
    g.upstream.enqueue(path('gemini-2.0-flash-exp'), { chunks: events().slice(0, 2) });
    const res = await fetch(`${g.app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini-2.0-flash-exp', messages: user, stream: true }),
    });
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('"content":"The"');
    expect(body).not.toContain('[DONE]');
    expect(body).toMatch(/data: \{"error":\{"message":"google closed the stream before it finished[^"]*","type":"[a-z_]+","code":"stream_interrupted"/);
  });

  it('raises an error in the SDK when the connection is cut mid-stream', async () => {
    g.upstream.enqueue(path('gemini-2.0-flash-exp'), { chunks: events(), cutAfter: 1 });
    await expect(collect({ model: 'gemini-2.0-flash-exp' })).rejects.toThrow(/google could not be reached: other side closed/);
  });

  it('answers 502 when the connection closes before any content', async () => {
    g.upstream.enqueue(path('gemini-2.0-flash-exp'), { chunks: [] });
    const err = await g.client.chat.completions.create({ model: 'gemini-2.0-flash-exp', messages: user, stream: true }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.error.code).toBe('stream_interrupted');
  });

  it('raises an in-stream error event with its status and message', async () => {
    const [first] = events();
    const error = { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } };
    g.upstream.enqueue(path('gemini-2.0-flash-exp'), { chunks: [first!, `data: ${JSON.stringify(error)}\r\n\r\n`] });
    await expect(collect({ model: 'gemini-2.0-flash-exp' })).rejects.toThrow(/The model is overloaded/);
  });

  it('answers an error status with a plain JSON body on a stream request in the OpenAI shape (streamGenerateContent.error-404.recording.json)', async () => {
    const rec = recording('gemini/streamGenerateContent.error-404.recording.json');
    g.upstream.enqueue(path('custom-gemini-2.0-flash'), { status: rec.response.status, headers: replayHeaders(rec.response.headers), body: JSON.stringify(rec.response.segments[0]) });
    const err = await g.client.chat.completions
      .create({ model: 'custom-gemini-2.0-flash', messages: [{ role: 'user', content: 'why is the sky blue?' }], stream: true })
      .catch((e) => e);
    expect(g.upstream.requests[0]!.path).toBe(rec.request.url);
    expect(g.upstream.requests[0]!.json).toEqual({ contents: rec.request.body.contents });
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.status).toBe(404);
    expect(err.error).toMatchObject({ type: 'not_found_error', code: 'NOT_FOUND', source: 'provider', provider: 'google' });
    expect(err.error.message).toMatch(/^models\/custom-gemini-2.0-flash is not found for API version v1beta/);
  });
});
