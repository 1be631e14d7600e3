import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, appPerTarget } from './helpers/apps.js';
import { fixtureJson, fixtureText } from './helpers/fixtures.js';
import { startMockUpstream, sseFromJsonl, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * Request translation for Gemini and Mistral through the real Express adapter against the recording
 * mock upstream, as an official `openai` (or `@anthropic-ai/sdk`) client sees it: histories Mistral
 * accepts (only its message fields, its tool-call id form) and tool results Gemini pairs right. Each
 * was wrong before its fix (the comments say how).
 */

let upstream: MockUpstream;

const targets = (url: string): Record<string, Record<string, unknown>> => ({
  google: { provider: 'google', api_key: 'AIza-review', custom_host: `${url}/v1beta` },
  vertex: { provider: 'vertex-ai', api_key: 'ya29.review', custom_host: `${url}/v1`, vertex_project_id: 'proj', vertex_region: 'europe-west4' },
  mistral: { provider: 'mistral', api_key: 'mistral-review', custom_host: `${url}/v1` },
  cohere: { provider: 'cohere', api_key: 'co-review', custom_host: `${url}/v2` },
});

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});
const { apps, clients } = appPerTarget(targets, () => upstream);
beforeEach(() => upstream.reset());

const MISTRAL_OK = () => ({ json: fixtureJson('mistral/chat-completions.text.json') });

// ---------------------------------------------------------------------------------------------
// Mistral
// ---------------------------------------------------------------------------------------------
describe('mistral: what the gateway hands out must be accepted when the client sends it back', () => {
  /**
   * Regression M1.
   * The gateway itself turns magistral's `content: [{type:"thinking",…}]` into `reasoning_content`
   * (openai-compatible/normalize-chunk.ts:34-39, normalize-completion.ts:73-77). An OpenAI client
   * keeps the assistant message as received and sends it back next turn; the Mistral preset
   * (presets.ts:43-48 `adaptForMistral`) only renames `seed`, so `reasoning_content` reaches Mistral,
   * whose request schema forbids unknown fields: 422 `extra_forbidden`
   * loc ["body","messages",N,"assistant","reasoning_content"] (reported against the real API in
   * charmbracelet/crush#1590, BerriAI/litellm#30835; presets.ts:40 itself documents the strict 422).
   * Fixture: mistral/chat-completions.reasoning.chunks.jsonl (magistral-medium-2507).
   */
  it('does not send the reasoning_content it produced (magistral thinking) back to Mistral', async () => {
    upstream.enqueue('/v1/chat/completions', { chunks: sseFromJsonl(fixtureText('mistral/chat-completions.reasoning.chunks.jsonl'), { done: true }) });
    const stream = await clients.mistral!.chat.completions.create({ model: 'magistral-medium-2507', stream: true, messages: [{ role: 'user', content: 'What is 2+2?' }] });
    let content = '';
    let reasoning = '';
    for await (const c of stream) {
      content += c.choices[0]?.delta.content ?? '';
      reasoning += (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
    }
    expect(reasoning).toContain('basic arithmetic'); // the gateway created this field
    upstream.enqueue('/v1/chat/completions', MISTRAL_OK());
    await clients.mistral!.chat.completions.create({
      model: 'magistral-medium-2507',
      messages: [
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content, reasoning_content: reasoning } as never,
        { role: 'user', content: 'And 3+3?' },
      ],
    });
    const sent = upstream.requests.at(-1)!.json;
    expect(sent.messages[1]).not.toHaveProperty('reasoning_content');
  });

  // Mistral's chat schema has no `user` (its strict validation answers 422 extra_forbidden): neither an
  // OpenAI client's `user` nor the `metadata.user_id` of an Anthropic client may reach it.
  it('does not send OpenAI\'s user field, from either SDK', async () => {
    upstream.enqueue('/v1/chat/completions', MISTRAL_OK());
    await clients.mistral!.chat.completions.create({ model: 'mistral-small-latest', user: 'u-42', seed: 7, messages: [{ role: 'user', content: 'Hi' }] });
    const sent = upstream.requests.at(-1)!.json;
    expect(sent).not.toHaveProperty('user');
    expect(sent.random_seed).toBe(7);
    upstream.enqueue('/v1/chat/completions', MISTRAL_OK());
    const anthropic = new Anthropic({ baseURL: apps.mistral!.gatewayURL, apiKey: 'sk-ant-client', maxRetries: 0 });
    await anthropic.messages.create({ model: 'mistral-small-latest', max_tokens: 50, metadata: { user_id: 'u-42' }, messages: [{ role: 'user', content: 'Hi' }] });
    expect(upstream.requests.at(-1)!.json).not.toHaveProperty('user');
  });

  /**
   * Regression M2.
   * Mistral answers 400 "Tool call id was call_… but must be a-z, A-Z, 0-9, with a length of 9."
   * (code 3280, type invalid_function_call — nearai/ironclaw#1241 2026-03, editor-code-assistant/eca#233,
   * karthink/gptel#1203; mistral-common's tool-call validation). Mistral's own ids are 9 chars
   * (fixture mistral/chat-completions.tool-call.json: "gSIMJiOkT"), but a gateway whose point is
   * fallback/load-balancing across providers gets histories with OpenAI ids (`call_…`, 24+ chars),
   * ids the gateway itself minted for Gemini (`call_<responseId>_0_0`, google/parts.ts:48-50) or
   * Anthropic `toolu_…` ids from /v1/messages. presets.ts:43-48 passes them verbatim.
   * Expected: ids rewritten to a stable 9-char alphanumeric form, the same on the assistant
   * tool_calls and on the matching tool message.
   */
  it('rewrites tool-call ids Mistral refuses into 9-char alphanumeric ids, consistently', async () => {
    upstream.enqueue('/v1/chat/completions', MISTRAL_OK());
    await clients.mistral!.chat.completions.create({
      model: 'mistral-small-latest',
      tools: [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      messages: [
        { role: 'user', content: 'Weather in Paris and London?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_PTLP8xhu3uwZk4l3nlnrrJha', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_abc123_0_1', type: 'function', function: { name: 'weather', arguments: '{"city":"London"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_PTLP8xhu3uwZk4l3nlnrrJha', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'call_abc123_0_1', content: 'Rainy' },
      ],
    });
    const sent = upstream.requests.at(-1)!.json;
    const ids = sent.messages[1].tool_calls.map((t: { id: string }) => t.id);
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(new Set(ids).size).toBe(2);
    expect(sent.messages[2].tool_call_id).toBe(ids[0]);
    expect(sent.messages[3].tool_call_id).toBe(ids[1]);
  });

  /**
   * Regression (M1 through /v1/messages (same root cause as M1/M2, shown for the Anthropic ingress).
   * ingress/anthropic-messages/to-chat-request.ts:115-116 puts an Anthropic client's thinking into
   * `reasoning_content` and `thinking_blocks` on the assistant message; the Mistral preset forwards both
   * (422 extra_forbidden on the real API, as above) and the `toolu_…` id (400, as M2).
   */
  it('an @anthropic-ai/sdk tool round trip with thinking reaches Mistral in a form it accepts', async () => {
    upstream.enqueue('/v1/chat/completions', MISTRAL_OK());
    const anthropic = new Anthropic({ baseURL: apps.mistral!.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    await anthropic.messages.create({
      model: 'mistral-small-latest',
      max_tokens: 100,
      tools: [{ name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should call weather.', signature: 'sig' },
            { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'weather', input: { city: 'Paris' } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A09q90qw90lq917835lq9', content: 'Sunny' }] },
      ],
    });
    const sent = upstream.requests.at(-1)!.json;
    const assistant = sent.messages.find((m: { role: string }) => m.role === 'assistant');
    expect(assistant).not.toHaveProperty('reasoning_content');
    expect(assistant).not.toHaveProperty('thinking_blocks');
    expect(assistant.tool_calls[0].id).toMatch(/^[a-zA-Z0-9]{9}$/);
  });
});

// ---------------------------------------------------------------------------------------------
// Gemini
// ---------------------------------------------------------------------------------------------
const geminiPath = (model: string) => `/v1beta/models/${model}:generateContent`;

describe('gemini: tool results answered out of order', () => {
  /**
   * Regression G1.
   * OpenAI pairs tool results with calls by `tool_call_id`, so clients may send them in completion
   * order. google/contents.ts:164-168 looks the id up only to find the function NAME, then sends
   * `functionResponse {name, response}` without `id`, in the client's order, and the functionCall
   * parts carry no `id` either (contents.ts:156). Gemini pairs id-less responses with calls by
   * position, so with two calls of the same function the results are silently swapped
   * (Paris gets London's weather). Gemini's Part.functionCall.id / functionResponse.id exist for exactly
   * this ("the id of the function call this response is for"); the recorded pydantic-ai request in
   * gemini/generateContent.tool-call.cassette.yaml (interaction 2) sends `id` on both parts.
   * Expected: each functionResponse either carries the id of its functionCall, or responses are
   * ordered as the calls were.
   */
  it('keeps each functionResponse paired with its own functionCall', async () => {
    upstream.enqueue(geminiPath('gemini-2.5-flash'), { json: fixtureJson('gemini/generateContent.text.json') });
    await clients.google!.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [
        { role: 'user', content: 'Weather in Paris and London?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_paris', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_london', type: 'function', function: { name: 'weather', arguments: '{"city":"London"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_london', content: 'Rainy in London' },
        { role: 'tool', tool_call_id: 'call_paris', content: 'Sunny in Paris' },
      ],
    });
    const body = upstream.requests.at(-1)!.json;
    const calls = body.contents[1].parts.filter((p: any) => p.functionCall).map((p: any) => p.functionCall);
    const responses = body.contents[2].parts.filter((p: any) => p.functionResponse).map((p: any) => p.functionResponse);
    expect(responses).toHaveLength(2);
    const pairs = responses.map((r: any, i: number) => {
      const call = r.id !== undefined ? calls.find((c: any) => c.id === r.id) : calls[i];
      return [call?.args?.city, r.response.output];
    });
    expect(pairs).toContainEqual(['Paris', 'Sunny in Paris']);
    expect(pairs).toContainEqual(['London', 'Rainy in London']);
  });
});

describe('gemini: a candidate that failed to answer (MALFORMED_FUNCTION_CALL) is a failed attempt, not an empty success', () => {
  // Gemini's FinishReason docs: MALFORMED_FUNCTION_CALL "the function call generated by the model is
  // invalid", UNEXPECTED_TOOL_CALL, OTHER. With nothing produced, an OpenAI client used to get a 200
  // with `content: null` and finish_reason "stop": it looked like a success and no fallback ran.
  const failed = {
    candidates: [{ content: { role: 'model', parts: [] }, finishReason: 'MALFORMED_FUNCTION_CALL', finishMessage: 'Malformed function call: print(weather())', index: 0 }],
    usageMetadata: { promptTokenCount: 10, totalTokenCount: 10 },
    modelVersion: 'gemini-2.5-flash',
    responseId: 'r-1',
  };

  it('non-stream: a 502 from the provider with Gemini\'s message', async () => {
    upstream.enqueue(geminiPath('gemini-2.5-flash'), { json: failed });
    const error = await clients.google!.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Weather?' }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('MALFORMED_FUNCTION_CALL');
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('Malformed function call');
  });

  it('stream: fails before any content, so a fallback answers instead', async () => {
    const app = await appFactories.express5!({
      env: {},
      config: { strategy: { mode: 'fallback' }, targets: [targets(upstream.url).google!, { provider: 'mock', override_params: { model: 'mock-1' } }] },
    } as never);
    try {
      upstream.enqueue(`/v1beta/models/gemini-2.5-flash:streamGenerateContent`, { chunks: [`data: ${JSON.stringify(failed)}\r\n\r\n`] });
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const { data: stream, response } = await client.chat.completions.create({ model: 'gemini-2.5-flash', stream: true, messages: [{ role: 'user', content: 'Weather?' }] }).withResponse();
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      expect(response.headers.get('x-llmux-target')).toBe('config.targets[1]');
      expect(text.length).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });
});
