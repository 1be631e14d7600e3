import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appPerTarget } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * Today's new Gemini / Vertex translation code (logprobs, parametersJsonSchema fallback,
 * web_search_options → googleSearch, functionResponse.error) through the Express adapter with the
 * official SDKs, against mock Gemini / Vertex upstreams on loopback.
 */

let upstream: MockUpstream;

const targets = (url: string): Record<string, Record<string, unknown>> => ({
  google: { provider: 'google', api_key: 'AIza-review', custom_host: `${url}/v1beta` },
  vertex: { provider: 'vertex-ai', api_key: 'ya29.review', custom_host: `${url}/v1`, vertex_project_id: 'proj', vertex_region: 'europe-west4' },
});

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});
const { apps, clients } = appPerTarget(targets, () => upstream);
beforeEach(() => upstream.reset());

const MODEL = 'gemini-2.5-flash';
const gen = `/v1beta/models/${MODEL}:generateContent`;
const sgen = `/v1beta/models/${MODEL}:streamGenerateContent`;
const vgen = `/v1/projects/proj/locations/europe-west4/publishers/google/models/${MODEL}:generateContent`;

const usage = { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 };
const textAnswer = (text: string, extra: Record<string, unknown> = {}) => ({
  candidates: [{ index: 0, content: { role: 'model', parts: [{ text }] }, finishReason: 'STOP', ...extra }],
  usageMetadata: usage,
  modelVersion: MODEL,
});
const sse = (events: unknown[]) => events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`);
const user = [{ role: 'user' as const, content: 'hi' }];

async function rawChat(app: 'google' | 'vertex', body: Record<string, unknown>) {
  const res = await fetch(`${apps[app]!.gatewayURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as any };
}

// ---------------------------------------------------------------------------------------------
// logprobs
// ---------------------------------------------------------------------------------------------
describe('logprobs → responseLogprobs / logprobsResult', () => {
  it('n=2 with top_logprobs: request mapped, each candidate\'s logprobsResult comes back as choices[i].logprobs (unicode tokens, bytes)', async () => {
    const lp = (chosen: Array<[string, number]>, tops: Array<Array<[string, number]>>) => ({
      chosenCandidates: chosen.map(([token, logProbability]) => ({ token, logProbability })),
      topCandidates: tops.map((c) => ({ candidates: c.map(([token, logProbability]) => ({ token, logProbability })) })),
      logProbabilitySum: chosen.reduce((s, [, p]) => s + p, 0),
    });
    upstream.enqueue(gen, {
      json: {
        candidates: [
          {
            index: 0,
            content: { role: 'model', parts: [{ text: 'Grüße 🌍' }] },
            finishReason: 'STOP',
            logprobsResult: lp([['Grüße', -0.1], [' 🌍', -0.5]], [[['Grüße', -0.1], ['Hallo', -2.5]], [[' 🌍', -0.5], ['!', -1.2]]]),
          },
          {
            index: 1,
            content: { role: 'model', parts: [{ text: 'Hallo' }] },
            finishReason: 'STOP',
            logprobsResult: lp([['Hallo', -0.3]], [[['Hallo', -0.3], ['Grüße', -1.4]]]),
          },
        ],
        usageMetadata: usage,
      },
    });
    const res = await clients.google!.chat.completions.create({ model: MODEL, messages: user, n: 2, logprobs: true, top_logprobs: 2 });
    expect(upstream.requests[0]!.json.generationConfig).toMatchObject({ candidateCount: 2, responseLogprobs: true, logprobs: 2 });
    const c0 = res.choices[0]!.logprobs!.content!;
    expect(c0.map((t) => t.token)).toEqual(['Grüße', ' 🌍']);
    expect(c0[1]!.bytes).toEqual([...Buffer.from(' 🌍', 'utf8')]);
    expect(c0[0]!.top_logprobs.map((t) => [t.token, t.logprob])).toEqual([['Grüße', -0.1], ['Hallo', -2.5]]);
    expect(res.choices[1]!.logprobs!.content!.map((t) => [t.token, t.logprob])).toEqual([['Hallo', -0.3]]);
  });

  it('stream: each event\'s logprobsResult reaches the chunk of its candidate (n=2)', async () => {
    const ev = (i: number, text: string, token: string, p: number, finish?: string) => ({
      candidates: [{ index: i, content: { role: 'model', parts: [{ text }] }, ...(finish ? { finishReason: finish } : {}), logprobsResult: { chosenCandidates: [{ token, logProbability: p }], topCandidates: [{ candidates: [{ token, logProbability: p }] }] } }],
    });
    upstream.enqueue(sgen, {
      chunks: sse([ev(0, 'Hel', 'Hel', -0.2), ev(1, 'Yo', 'Yo', -0.9), ev(0, 'lo', 'lo', -0.4, 'STOP'), { ...ev(1, '!', '!', -0.05, 'STOP'), usageMetadata: usage }]),
    });
    const stream = await clients.google!.chat.completions.create({ model: MODEL, messages: user, n: 2, logprobs: true, top_logprobs: 1, stream: true });
    const tokens: Record<number, Array<[string, number]>> = { 0: [], 1: [] };
    for await (const chunk of stream) {
      for (const c of chunk.choices) for (const t of c.logprobs?.content ?? []) tokens[c.index]!.push([t.token, t.logprob]);
    }
    expect(tokens[0]).toEqual([['Hel', -0.2], ['lo', -0.4]]);
    expect(tokens[1]).toEqual([['Yo', -0.9], ['!', -0.05]]);
  });

  it('proto3-omitted fields: a missing logProbability is 0, a missing topCandidates gives empty alternatives', async () => {
    upstream.enqueue(gen, { json: textAnswer('ok', { logprobsResult: { chosenCandidates: [{ token: 'ok' }] } }) });
    const res = await clients.google!.chat.completions.create({ model: MODEL, messages: user, logprobs: true });
    expect(res.choices[0]!.logprobs!.content).toEqual([{ token: 'ok', logprob: 0, bytes: [111, 107], top_logprobs: [] }]);
  });

  it('Vertex: logprobs map the same way', async () => {
    upstream.enqueue(vgen, { json: textAnswer('ok', { logprobsResult: { chosenCandidates: [{ token: 'ok', logProbability: -0.01 }], topCandidates: [{ candidates: [{ token: 'ok', logProbability: -0.01 }] }] } }) });
    const res = await clients.vertex!.chat.completions.create({ model: MODEL, messages: user, logprobs: true, top_logprobs: 1 });
    expect(upstream.requests[0]!.json.generationConfig).toMatchObject({ responseLogprobs: true, logprobs: 1 });
    expect(res.choices[0]!.logprobs!.content![0]!.logprob).toBe(-0.01);
  });

  // OpenAI takes top_logprobs as an integer 0..20 (Gemini's generationConfig.logprobs is an int32 in
  // the same range) and answers 400 naming the field for anything else.
  for (const bad of [21, -1, 2.5, '5'] as const) {
    // BUG: an invalid top_logprobs is forwarded to Gemini (or silently dropped when not a number) instead of a gateway 400 naming top_logprobs
    it(`top_logprobs ${JSON.stringify(bad)} is a 400 naming top_logprobs, without calling Gemini`, async () => {
      upstream.route(gen, { json: textAnswer('ok', { logprobsResult: { chosenCandidates: [{ token: 'ok', logProbability: -1 }] } }) });
      const res = await rawChat('google', { model: MODEL, messages: user, logprobs: true, top_logprobs: bad });
      expect(res.status).toBe(400);
      expect(res.json.error.param).toBe('top_logprobs');
      expect(upstream.requests).toHaveLength(0);
    });
  }

  // BUG: logprobs:"true" (a string) is silently ignored and the answer comes back 200 without log probabilities
  it('a non-boolean logprobs is a 400 naming logprobs, not a 200 without them', async () => {
    upstream.route(gen, { json: textAnswer('ok') });
    const res = await rawChat('google', { model: MODEL, messages: user, logprobs: 'true' });
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe('logprobs');
  });
});

// ---------------------------------------------------------------------------------------------
// parametersJsonSchema fallback
// ---------------------------------------------------------------------------------------------
describe('tool declarations: parameters vs parametersJsonSchema', () => {
  const declOf = () => upstream.requests[0]!.json.tools[0].functionDeclarations[0];
  const call = async (app: 'google' | 'vertex', parameters: Record<string, unknown>) => {
    upstream.enqueue(app === 'google' ? gen : vgen, { json: textAnswer('ok') });
    await clients[app]!.chat.completions.create({ model: MODEL, messages: user, tools: [{ type: 'function', function: { name: 'f', parameters } }] });
    return declOf();
  };

  it('a nested record goes out as parametersJsonSchema (object root), never beside parameters', async () => {
    const d = await call('google', { properties: { tags: { type: 'object', additionalProperties: { type: 'string' } } } });
    expect(d.parameters).toBeUndefined();
    expect(d.parametersJsonSchema).toMatchObject({ type: 'object', properties: { tags: { type: 'object', additionalProperties: { type: 'string' } } } });
  });

  it('a closed schema stays on parameters (Gemini subset)', async () => {
    const d = await call('vertex', { type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false });
    expect(d.parametersJsonSchema).toBeUndefined();
    expect(d.parameters).toEqual({ type: 'object', properties: { q: { type: 'string' } }, required: ['q'] });
  });

  it('an empty object root declares no parameters at all', async () => {
    const d = await call('google', { type: 'object', properties: {} });
    expect(d.parameters).toBeUndefined();
    expect(d.parametersJsonSchema).toBeUndefined();
  });

  // A root record (`{"type":"object","additionalProperties":{…}}`: arbitrary named arguments, e.g. env vars
  // or HTTP headers) has no `parameters` form, but parametersJsonSchema takes it (that is what the fallback is for).
  // BUG: a root-level free-form object is declared with no parameters at all (hasOpenObject only looks below the root), so the model can pass no arguments
  it('a root record goes out as parametersJsonSchema, not as a function without parameters', async () => {
    const d = await call('google', { type: 'object', additionalProperties: { type: 'string' }, description: 'environment variables to set' });
    expect(d.parametersJsonSchema).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
  });

  // Google documents for its JSON-Schema fields: "If $ref is set on a sub-schema, no other properties,
  // except for those starting as a $, may be set." Pydantic/Zod emit `{ "$ref": …, "description": … }`.
  // BUG: the fallback sends the client's schema verbatim, so a $ref with a sibling description (legal JSON Schema, fine for `parameters` before) now reaches Gemini in a form it documents as invalid
  it('a $ref with sibling keywords is not sent verbatim in parametersJsonSchema', async () => {
    const d = await call('google', {
      type: 'object',
      $defs: { Addr: { type: 'object', properties: { city: { type: 'string' } } } },
      properties: { home: { $ref: '#/$defs/Addr', description: 'home address' }, meta: { type: 'object' } },
    });
    expect(d.parametersJsonSchema ?? d.parameters).toBeDefined();
    const bad: string[] = [];
    const walk = (n: unknown, at: string) => {
      if (typeof n !== 'object' || n === null) return;
      const o = n as Record<string, unknown>;
      if (typeof o.$ref === 'string' && Object.keys(o).some((k) => !k.startsWith('$'))) bad.push(at);
      for (const [k, v] of Object.entries(o)) walk(v, `${at}.${k}`);
    };
    walk(d.parametersJsonSchema, 'parametersJsonSchema');
    expect(bad).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// web_search_options → googleSearch
// ---------------------------------------------------------------------------------------------
describe('web_search_options', () => {
  it('becomes one googleSearch tool beside the function declarations', async () => {
    upstream.enqueue(gen, { json: textAnswer('ok') });
    await clients.google!.chat.completions.create({
      model: MODEL,
      messages: user,
      web_search_options: {},
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } } }],
    });
    const tools = upstream.requests[0]!.json.tools;
    expect(tools).toEqual([{ functionDeclarations: [expect.objectContaining({ name: 'f' })] }, { googleSearch: {} }]);
  });

  // OpenAI's web search answers carry their sources as message.annotations [{type:"url_citation",
  // url_citation:{url,title,start_index,end_index}}]; Gemini sends them as groundingMetadata
  // (groundingChunks[].web {uri,title} + groundingSupports[].segment {startIndex,endIndex}).
  // BUG: the sources Google Search grounded the answer on (groundingMetadata) are dropped, so a web_search_options answer has no url_citation annotations
  it('grounding sources come back as url_citation annotations', async () => {
    const text = 'Spain won Euro 2024.';
    upstream.enqueue(gen, {
      json: textAnswer(text, {
        groundingMetadata: {
          webSearchQueries: ['euro 2024 winner'],
          groundingChunks: [{ web: { uri: 'https://vertexaisearch.cloud.google.com/grounding-api-redirect/abc', title: 'uefa.com' } }],
          groundingSupports: [{ segment: { startIndex: 0, endIndex: text.length, text }, groundingChunkIndices: [0] }],
        },
      }),
    });
    const res = await clients.google!.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Who won euro 2024?' }], web_search_options: {} });
    expect(res.choices[0]!.message.content).toBe(text);
    const annotations = (res.choices[0]!.message as { annotations?: Array<{ type: string; url_citation: { url: string } }> }).annotations ?? [];
    expect(annotations.map((a) => [a.type, a.url_citation.url])).toEqual([['url_citation', 'https://vertexaisearch.cloud.google.com/grounding-api-redirect/abc']]);
  });

  // In a stream Gemini sends groundingMetadata with the candidate's last part; its segments are UTF-8
  // byte offsets into the whole answer, not into that event's text.
  it('stream: grounding sources come once, with the finish, as delta.annotations in character offsets of the whole answer', async () => {
    const first = 'Spaña ganó ';
    const last = 'la Euro 2024 🏆.';
    const whole = first + last;
    const bytes = (t: string) => Buffer.byteLength(t);
    const metadata = {
      groundingChunks: [{ web: { uri: 'https://example.test/uefa', title: 'uefa.com' } }, { web: { uri: 'https://example.test/bbc', title: 'bbc.com' } }],
      groundingSupports: [{ segment: { startIndex: bytes(first), endIndex: bytes(whole) }, groundingChunkIndices: [0] }],
    };
    const events = () =>
      sse([
        { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: first }] } }], modelVersion: MODEL },
        { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: last }] }, finishReason: 'STOP', groundingMetadata: metadata }], usageMetadata: usage },
      ]);
    const expected = [
      { type: 'url_citation', url_citation: { url: 'https://example.test/uefa', title: 'uefa.com', start_index: first.length, end_index: whole.length } },
      { type: 'url_citation', url_citation: { url: 'https://example.test/bbc', title: 'bbc.com', start_index: 0, end_index: 0 } },
    ];
    upstream.enqueue(sgen, { chunks: events() }, { chunks: events() });

    const stream = clients.google!.chat.completions.stream({ model: MODEL, messages: user, web_search_options: {}, stream: true });
    const done = await stream.finalChatCompletion();
    expect(done.choices[0]!.message.content).toBe(whole);
    expect((done.choices[0]!.message as { annotations?: unknown }).annotations).toEqual(expected);

    const raw = await clients.google!.chat.completions.create({ model: MODEL, messages: user, web_search_options: {}, stream: true });
    const seen: unknown[] = [];
    for await (const chunk of raw) for (const c of chunk.choices) if ((c.delta as { annotations?: unknown }).annotations) seen.push([c.finish_reason, (c.delta as { annotations?: unknown }).annotations]);
    expect(seen).toEqual([['stop', expected]]);
  });
});

// ---------------------------------------------------------------------------------------------
// tool errors → functionResponse.response.error
// ---------------------------------------------------------------------------------------------
describe('tool errors', () => {
  const history = (toolMsg: Record<string, unknown>) => [
    { role: 'user', content: 'weather?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{}' } }] },
    { role: 'tool', tool_call_id: 'call_1', ...toolMsg },
  ];
  const responseOf = () => {
    const parts = upstream.requests[0]!.json.contents.flatMap((c: any) => c.parts);
    return parts.find((p: any) => p.functionResponse)?.functionResponse;
  };

  it('/v1/chat/completions: a plain tool result is {output}; a JSON object result goes as is', async () => {
    upstream.enqueue(gen, { json: textAnswer('ok') }, { json: textAnswer('ok') });
    await rawChat('google', { model: MODEL, messages: history({ content: 'sunny' }) });
    expect(responseOf()).toEqual({ name: 'weather', response: { output: 'sunny' } });
    upstream.requests.length = 0;
    await rawChat('google', { model: MODEL, messages: history({ content: '{"error":"timeout"}' }) });
    expect(responseOf()).toEqual({ name: 'weather', response: { error: 'timeout' } });
  });

  it('/v1/messages: tool_result is_error with text blocks → functionResponse.response.error (Vertex)', async () => {
    upstream.enqueue(vgen, { json: textAnswer('sorry') });
    const anthropic = new Anthropic({ baseURL: apps.vertex!.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    await anthropic.messages.create({
      model: MODEL,
      max_tokens: 64,
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', is_error: true, content: [{ type: 'text', text: 'service down' }] }] },
      ],
    });
    expect(responseOf()).toEqual({ name: 'weather', response: { error: 'service down' } });
  });
});
