/**
 * Edges from a review: what each provider receives when an OpenAI chat body is translated (recorded by the mock
 * upstream), and what comes back. Real Express adapter + official `openai` SDK, one gateway per
 * target. The failing tests are bugs; each comment says expected, actual and where.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appPerTarget } from './helpers/apps.js';
import { fixtureJson, fixtureText } from './helpers/fixtures.js';
import { startMockUpstream, sseFromJsonl, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
const BEDROCK_MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const CONVERSE_PATH = `/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`;

const targets = (url: string): Record<string, Record<string, unknown>> => ({
  anthropic: { provider: 'anthropic', api_key: 'sk-ant-review', custom_host: `${url}/v1` },
  google: { provider: 'google', api_key: 'AIza-review', custom_host: `${url}/v1beta` },
  bedrock: { provider: 'bedrock', api_key: 'bedrock-review', aws_region: 'us-east-1', custom_host: url },
  cohere: { provider: 'cohere', api_key: 'co-review', custom_host: `${url}/v2` },
  mistral: { provider: 'mistral', api_key: 'mistral-review', custom_host: `${url}/v1` },
});

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});
const { clients } = appPerTarget(targets, () => upstream);

beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
  upstream.route('/v1beta/models/gemini-2.5-flash:generateContent', { json: fixtureJson('gemini/generateContent.text.json') });
  upstream.route(CONVERSE_PATH, { json: fixtureJson('bedrock/converse.text.json') });
  upstream.route('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
  upstream.route('/v1/chat/completions', { json: fixtureJson('mistral/chat-completions.text.json') });
});

const lastSent = () => upstream.requests[upstream.requests.length - 1]!.json;

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

// ---------------------------------------------------------------------------------------------
// Mistral
// ---------------------------------------------------------------------------------------------
describe('mistral: developer messages', () => {
  /**
   * Regression (fixed). Expected: a `developer` message (the role the OpenAI SDK and openai-agents use for
   * instructions to o-series/GPT-5 models, and that every other translator here maps to the system
   * prompt: anthropic/translate-messages.ts:64, google/contents.ts:157, bedrock/request-messages.ts:184,
   * cohere/request-messages.ts:59) reaches Mistral as `role: "system"`. Mistral's chat schema is a
   * union tagged by role with only system | user | assistant | tool (mistral-openapi MessagesInner),
   * and it validates strictly (422), so `developer` is refused.
   * Was: the message goes out with `role: "developer"` → Mistral 422 for every such request.
   * Cause: openai-compatible/presets.ts:52-75 (`mistralMessages`, :70 copies the fields) copies `role` as sent; it only
   * filters fields and rewrites tool-call ids.
   */
  it('sends a developer message to Mistral as a system message', async () => {
    await clients.mistral!.chat.completions.create({
      model: 'mistral-small-latest',
      messages: [
        { role: 'developer', content: 'Answer in French.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    const sent = lastSent();
    expect(sent.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);
    expect(sent.messages[0].content).toBe('Answer in French.');
  });
});

// ---------------------------------------------------------------------------------------------
// Anthropic
// ---------------------------------------------------------------------------------------------
describe('anthropic: stop sequences Anthropic refuses', () => {
  /**
   * Regression (fixed): `stop: ["\n"]` (valid for OpenAI, and the most common stop sequence there is)
   * reaches Anthropic without whitespace-only entries. Anthropic refuses `stop_sequences` that are empty or whitespace-only ("stop_sequences: each
   * stop sequence must contain non-whitespace" — BerriAI/litellm#3286, #7484; "must be non-empty" —
   * MegaGrindStone/mcp-web-ui#5), so the whole request fails with an error naming a field the client
   * never sent.
   * Was: `stop_sequences: ["\n", "END", ""]` goes out as is.
   * Cause: anthropic/translate-request.ts:65-66 copies `stop` without filtering. Fix: drop entries
   * with `!s.trim()` (LiteLLM's fix), omitting `stop_sequences` when none is left.
   */
  it('does not send whitespace-only or empty stop sequences', async () => {
    await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', stop: ['\n', 'END', ''], messages: [{ role: 'user', content: 'One line please' }] });
    expect(lastSent().stop_sequences).toEqual(['END']);
    // Nothing left: no `stop_sequences` at all (an empty list is refused too).
    await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', stop: '\n', messages: [{ role: 'user', content: 'One line please' }] });
    expect(lastSent()).not.toHaveProperty('stop_sequences');
  });

  it('Claude on Bedrock gets the same filter; other Bedrock models keep a newline stop', async () => {
    await clients.bedrock!.chat.completions.create({ model: BEDROCK_MODEL, stop: ['\n', 'END'], messages: [{ role: 'user', content: 'One line' }] });
    expect(lastSent().inferenceConfig.stopSequences).toEqual(['END']);
    const llama = 'meta.llama3-1-70b-instruct-v1:0';
    upstream.route(`/model/${encodeURIComponent(llama)}/converse`, { json: fixtureJson('bedrock/converse.text.json') });
    await clients.bedrock!.chat.completions.create({ model: llama, stop: ['\n', 'END'], messages: [{ role: 'user', content: 'One line' }] });
    expect(lastSent().inferenceConfig.stopSequences).toEqual(['\n', 'END']);
  });
});

describe('anthropic: response_format answered through the json tool', () => {
  /**
   * With `response_format: json_object` and tools (or thinking), the `json` tool is offered but not
   * forced (anthropic/translate-tools.ts:58), so Claude answers like any auto tool call: often a
   * short text ("I'll format the answer as JSON.") and then the `json` tool_use.
   * Regression (fixed). Expected: `message.content` is the JSON answer, which the client parses (OpenAI's contract
   * for json_object / json_schema).
   * Was: the preface and the JSON are concatenated: `I'll format…{"elements":[…]}` — JSON.parse
   * throws. Non-stream: anthropic/translate-response.ts:28 and :36 (`text = (text ?? '') + …`);
   * stream: anthropic/stream.ts:57/:85 send the text deltas, then :98 the JSON as more content.
   * Fix: when the json tool answered, the content is its input only (drop or move the preface, as
   * LiteLLM does for its json_tool_call).
   * Body: fixture anthropic/messages.tool-use.json (a real `json` tool answer) with a text block before it.
   */
  const preface = { type: 'text', text: "I'll format the weather report as JSON." };

  it('non-stream: content is the JSON answer, not the preface plus JSON', async () => {
    const recorded = fixtureJson('anthropic/messages.tool-use.json');
    upstream.enqueue('/v1/messages', { json: { ...recorded, content: [preface, ...recorded.content] } });
    const res = await clients.anthropic!.chat.completions.create({
      model: 'claude-sonnet-4-5',
      response_format: { type: 'json_object' },
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather report for four cities as JSON' }],
    });
    // The request did offer the json tool without forcing it (the situation described above).
    const sent = lastSent();
    expect(sent.tools.map((t: { name: string }) => t.name)).toEqual(['get_weather', 'json']);
    expect(sent.tool_choice).toBeUndefined();
    const content = res.choices[0]!.message.content ?? '';
    expect(() => JSON.parse(content), `content: ${content.slice(0, 80)}`).not.toThrow();
    expect(JSON.parse(content)).toEqual(recorded.content[0].input);
    expect(res.choices[0]!.finish_reason).toBe('stop');
  });

  it('stream: the streamed content is the JSON answer, not the preface plus JSON', async () => {
    // messages.tool-use.chunks.jsonl (a recorded json-tool stream) with a text block at index 0.
    const events = fixtureText('anthropic/messages.tool-use.chunks.jsonl')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
    const shifted = events.map((e) => (typeof e.index === 'number' ? { ...e, index: e.index + 1 } : e));
    const textBlock = [
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: preface.text } },
      { type: 'content_block_stop', index: 0 },
    ];
    const all = [shifted[0], ...textBlock, ...shifted.slice(1)];
    upstream.enqueue('/v1/messages', { chunks: sseFromJsonl(all.map((e) => JSON.stringify(e)).join('\n'), { eventFromType: true }) });
    const stream = await clients.anthropic!.chat.completions.create({
      model: 'claude-sonnet-4-5',
      stream: true,
      response_format: { type: 'json_object' },
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather report as JSON' }],
    });
    let content = '';
    for await (const c of stream) content += c.choices[0]?.delta.content ?? '';
    expect(() => JSON.parse(content), `content: ${content.slice(0, 80)}`).not.toThrow();
    expect(JSON.parse(content)).toEqual({ elements: [{ location: 'San Francisco', temperature: 58, condition: 'sunny' }] });
  });

  it('stream: text held back for the json tool still arrives when the tool never answers', async () => {
    // Claude may answer in plain text instead (the tool is offered, not forced): that text is the answer.
    const events = [
      { type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], usage: { input_tokens: 10, output_tokens: 1 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: '{"ok":' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'true}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } },
      { type: 'message_stop' },
    ];
    upstream.enqueue('/v1/messages', { chunks: sseFromJsonl(events.map((e) => JSON.stringify(e)).join('\n'), { eventFromType: true }) });
    const stream = await clients.anthropic!.chat.completions.create({
      model: 'claude-sonnet-4-5',
      stream: true,
      response_format: { type: 'json_object' },
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Answer as JSON' }],
    });
    let content = '';
    let finish: string | null | undefined;
    for await (const c of stream) {
      content += c.choices[0]?.delta.content ?? '';
      finish ??= c.choices[0]?.finish_reason;
    }
    expect(content).toBe('{"ok":true}');
    expect(finish).toBe('stop');
  });
});

// ---------------------------------------------------------------------------------------------
// Every translated provider: one agent-loop turn (passing; not covered elsewhere as a whole)
// ---------------------------------------------------------------------------------------------
describe('one agent turn (system + developer, parallel calls with null content, both results, params) per provider', () => {
  const messages = [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'developer' as const, content: 'Use metric units.' },
    { role: 'user' as const, content: 'Weather in Paris and Rome?' },
    {
      role: 'assistant' as const,
      content: null,
      tool_calls: [
        { id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
        { id: 'call_2', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
      ],
    },
    { role: 'tool' as const, tool_call_id: 'call_1', content: 'Sunny' },
    { role: 'tool' as const, tool_call_id: 'call_2', content: 'Rain' },
  ];
  const params = { tools: [weatherTool], tool_choice: 'required' as const, temperature: 0.3, top_p: 0.9, stop: ['END'], max_completion_tokens: 100 };

  it('anthropic: one system of both prompts, results together in one user turn, any + limits', async () => {
    await clients.anthropic!.chat.completions.create({ model: 'claude-sonnet-4-5', messages, ...params, parallel_tool_calls: false });
    const sent = lastSent();
    expect(sent.system).toEqual([{ type: 'text', text: 'Be brief.' }, { type: 'text', text: 'Use metric units.' }]);
    expect(sent.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(sent.messages[1].content).toEqual([
      { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
    ]);
    expect(sent.messages[2].content.map((b: { tool_use_id: string }) => b.tool_use_id)).toEqual(['call_1', 'call_2']);
    expect(sent.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(sent).toMatchObject({ max_tokens: 100, temperature: 0.3, top_p: 0.9, stop_sequences: ['END'] });
  });

  it('gemini: systemInstruction, functionResponses by name in call order, ANY, generationConfig', async () => {
    await clients.google!.chat.completions.create({ model: 'gemini-2.5-flash', messages, ...params, seed: 3 });
    const sent = lastSent();
    expect(sent.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Use metric units.' }] });
    expect(sent.contents.map((c: { role: string }) => c.role)).toEqual(['user', 'model', 'user']);
    expect(sent.contents[2].parts).toEqual([
      { functionResponse: { name: 'get_weather', response: { output: 'Sunny' } } },
      { functionResponse: { name: 'get_weather', response: { output: 'Rain' } } },
    ]);
    expect(sent.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(sent.generationConfig).toMatchObject({ temperature: 0.3, topP: 0.9, maxOutputTokens: 100, stopSequences: ['END'], seed: 3 });
  });

  it('bedrock: system blocks, toolUse/toolResult turns, toolChoice any, inferenceConfig', async () => {
    await clients.bedrock!.chat.completions.create({ model: BEDROCK_MODEL, messages, ...params });
    const sent = lastSent();
    expect(sent.system).toEqual([{ text: 'Be brief.' }, { text: 'Use metric units.' }]);
    expect(sent.messages[2].content.map((b: { toolResult: { toolUseId: string } }) => b.toolResult.toolUseId)).toEqual(['call_1', 'call_2']);
    expect(sent.toolConfig.toolChoice).toEqual({ any: {} });
    expect(sent.inferenceConfig).toEqual({ maxTokens: 100, temperature: 0.3, topP: 0.9, stopSequences: ['END'] });
  });

  it('cohere: two system messages, tool_calls without content, REQUIRED, p', async () => {
    await clients.cohere!.chat.completions.create({ model: 'command-a-03-2025', messages, ...params });
    const sent = lastSent();
    expect(sent.messages.slice(0, 2)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Use metric units.' },
    ]);
    expect(sent.messages[3]).not.toHaveProperty('content');
    expect(sent.messages[3].tool_calls).toHaveLength(2);
    expect(sent).toMatchObject({ tool_choice: 'REQUIRED', temperature: 0.3, p: 0.9, max_tokens: 100, stop_sequences: ['END'] });
  });
});
