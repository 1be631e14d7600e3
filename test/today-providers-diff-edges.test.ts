/**
 * Review of today's provider-translator changes (git diff 3dd5578..HEAD -- packages/core/src/providers
 * packages/core/src/cost), end to end through the real Express adapter with the official SDKs
 * (`openai`, `@anthropic-ai/sdk`) against a mock upstream on 127.0.0.1 replaying recorded fixtures
 * (shared/fixtures). Tests outside `bugs` pin behaviour checked correct; each test in `bugs` asserts
 * the correct behaviour and fails today.
 */
import Anthropic from '@anthropic-ai/sdk';
import { calcPrice } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { zodFunction } from 'openai/helpers/zod';
import { request } from 'undici';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

let up: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  up.reset();
});

async function gateway(targets: Record<string, unknown>[] | Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const app = await appFactories.express5!({ env: {}, config: { targets: Array.isArray(targets) ? targets : [targets] }, ...extra } as never);
  apps.push(app);
  return {
    app,
    oai: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 }),
    ant: new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 }),
  };
}

/** A raw POST, for headers and bodies the SDKs hide. */
async function post(app: TestApp, path: string, body: unknown) {
  const res = await request(`${app.gatewayURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers as Record<string, string | undefined>, text, json };
}

const hi = [{ role: 'user' as const, content: 'hi' }];
const lastSent = (): any => up.requests.at(-1)?.json;

const CLAUDE_ON_BEDROCK = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const bookTool = () => zodFunction({ name: 'book', parameters: z.object({ guests: z.number().int().min(1).max(8), note: z.string().max(200) }) });
/** Every keyword used anywhere in a schema. */
const keywords = (node: unknown, out = new Set<string>()): Set<string> => {
  if (Array.isArray(node)) node.forEach((n) => keywords(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      out.add(k);
      keywords(v, out);
    }
  }
  return out;
};
/** The bounds zod's `.min()`/`.max()` write, none of which Claude's structured-output grammar takes. */
const BOUNDS = ['minimum', 'maximum', 'maxLength'];

const mistral = () => ({ provider: 'mistral', api_key: 'mi-key-0123456789', custom_host: `${up.url}/v1` });
const google = () => ({ provider: 'google', api_key: 'AIza-review-0123456789', custom_host: `${up.url}/v1beta` });
const bedrock = (extra: Record<string, unknown> = {}) => ({ provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: up.url, ...extra });
const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'cmpl-1', object: 'chat.completion.chunk', created: 1, model: 'mistral-small-latest', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
/** The JSON payloads of an SSE body. */
const events = (text: string): any[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => JSON.parse(l.slice(6)));

describe('strict tools: Claude gets its structured-output subset', () => {
  // Guards: a strict tool reaches Anthropic strict, its bounds moved to descriptions (Anthropic 400s on them).
  it('anthropic: strict tool schema without numeric/string bounds, the bound kept in the description', async () => {
    up.route('*', { json: fixtureJson('anthropic/messages.text.json') });
    const { oai } = await gateway({ provider: 'anthropic', api_key: 'sk-ant-0123456789', custom_host: `${up.url}/v1` });
    await oai.chat.completions.create({ model: 'claude-sonnet-4-5', messages: hi, tools: [bookTool()] });
    const tool = lastSent().tools[0];
    expect(tool.strict).toBe(true);
    expect(BOUNDS.filter((k) => keywords(tool.input_schema).has(k))).toEqual([]);
    expect(tool.input_schema.additionalProperties).toBe(false);
    expect(tool.input_schema.properties.guests.description).toMatch(/minimum: 1/);
  });

  // Guards: Claude through Bedrock InvokeModel gets the same reduced schema.
  it('bedrock invoke: the same strict tool, reduced the same way', async () => {
    up.route('*', { json: fixtureJson('anthropic/messages.text.json') });
    const { oai } = await gateway(bedrock({ bedrock_api: 'invoke' }));
    await oai.chat.completions.create({ model: CLAUDE_ON_BEDROCK, messages: hi, tools: [bookTool()] });
    const tool = lastSent().tools[0];
    expect(tool.strict).toBe(true);
    expect(BOUNDS.filter((k) => keywords(tool.input_schema).has(k))).toEqual([]);
  });
});

describe('OpenAI-compatible dialects', () => {
  // Guards: Mistral's model_length is a truncation: `length` on chat completions, `max_tokens` on /v1/messages.
  it('mistral non-stream model_length → finish_reason length; /v1/messages stop_reason max_tokens', async () => {
    const answer = structuredClone(fixtureJson('mistral/chat-completions.text.json'));
    answer.choices[0].finish_reason = 'model_length';
    up.route('*', { json: answer });
    const { oai, ant } = await gateway(mistral());
    const c = await oai.chat.completions.create({ model: 'mistral-small-latest', messages: hi });
    expect(c.choices[0]!.finish_reason).toBe('length');
    const m = await ant.messages.create({ model: 'mistral-small-latest', max_tokens: 50, messages: hi });
    expect(m.stop_reason).toBe('max_tokens');
  });

  // Guards: a stream whose choice fails after content ends in an error event (never [DONE]) and is still charged the usage that came with it.
  it('mistral stream: finish_reason "error" after content → error event, the usage it carried is charged', async () => {
    const records: any[] = [];
    const usage = fixtureJson('mistral/chat-completions.text.json').usage;
    up.route('*', { chunks: [chunk({ role: 'assistant', content: 'Half' }, null), chunk({ content: ' an ans' }, 'error', { usage }), 'data: [DONE]\n\n'] });
    const { app } = await gateway(mistral(), { onLog: (r: any) => records.push(r) });
    const res = await post(app, '/v1/chat/completions', { model: 'mistral-small-latest', messages: hi, stream: true });
    expect(res.text).not.toContain('[DONE]');
    expect(events(res.text).at(-1).error).toBeDefined();
    await until(() => records.length === 1);
    expect(records[0].usage).toMatchObject({ input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens });
    expect(records[0].cost_usd).toBeGreaterThan(0);
  });
});

describe('Bedrock', () => {
  // Guards: with several stop sequences Claude on Converse is asked which one it hit, and the answer names it (chat completions and /v1/messages).
  it('converse: two stop sequences → /stop_sequence asked for; the named sequence reaches stop_sequence', async () => {
    const json = structuredClone(fixtureJson('bedrock/converse.text.json'));
    json.stopReason = 'stop_sequence';
    json.additionalModelResponseFields = { stop_sequence: 'END' };
    up.route('*', { json });
    const { ant } = await gateway(bedrock());
    const m = await ant.messages.create({ model: CLAUDE_ON_BEDROCK, max_tokens: 50, stop_sequences: ['STOP', 'END'], messages: hi });
    expect(lastSent().additionalModelResponseFieldPaths).toEqual(['/stop_sequence']);
    expect({ reason: m.stop_reason, sequence: m.stop_sequence }).toEqual({ reason: 'stop_sequence', sequence: 'END' });
  });

  // Guards: a user turn holding only a document gets a text block beside it (Converse refuses a document without text).
  it('converse: a document-only user turn gets a text block', async () => {
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const { oai } = await gateway(bedrock());
    const pdf = `data:application/pdf;base64,${Buffer.from('%PDF-1.4\n1 0 obj <</Type /Page>> endobj\n%%EOF').toString('base64')}`;
    await oai.chat.completions.create({ model: CLAUDE_ON_BEDROCK, messages: [{ role: 'user', content: [{ type: 'file', file: { file_data: pdf, filename: 'a.pdf' } }] }] });
    const content = lastSent().messages[0].content;
    expect(content.some((b: any) => b.document)).toBe(true);
    expect(content.some((b: any) => typeof b.text === 'string' && b.text.trim())).toBe(true);
  });
});

describe('Gemini', () => {
  // Guards: an image a tool returned follows its functionResponse in the same user turn, image/jpg named image/jpeg.
  it('tool result media: inlineData after the functionResponse, image/jpg → image/jpeg', async () => {
    up.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
    const { oai } = await gateway(google());
    await oai.chat.completions.create({
      model: 'gemini-2.5-flash',
      messages: [
        { role: 'user', content: 'Take a screenshot' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'shot', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: '{"ok":true}' }, { type: 'image_url', image_url: { url: 'data:image/jpg;base64,/9j/AAAA' } }] as any },
      ],
    });
    const last = lastSent().contents.at(-1);
    expect(last.role).toBe('user');
    expect(last.parts).toEqual([{ functionResponse: { name: 'shot', response: { ok: true } } }, { inlineData: { mimeType: 'image/jpeg', data: '/9j/AAAA' } }]);
  });

  // Guards: streamed Google Search grounding becomes url_citation annotations once, in character offsets of the whole answer, as the non-stream answer has them.
  it('grounding: streamed annotations equal the non-stream ones (multi-byte text across chunks)', async () => {
    const first = 'Café ☕ au lait';
    const second = ' is served in Paris.';
    const full = first + second;
    const start = Buffer.byteLength(full.slice(0, full.indexOf('Paris')));
    const grounding = {
      groundingChunks: [{ web: { uri: 'https://example.com/paris', title: 'example.com' } }],
      groundingSupports: [{ segment: { startIndex: start, endIndex: start + 5, text: 'Paris' }, groundingChunkIndices: [0] }],
    };
    const usageMetadata = { promptTokenCount: 5, candidatesTokenCount: 9, totalTokenCount: 14 };
    up.route('*', (req) =>
      req.path.includes('streamGenerateContent')
        ? {
            chunks: [
              `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: first }], role: 'model' } }], usageMetadata, responseId: 'r1', modelVersion: 'gemini-2.5-flash' })}\r\n\r\n`,
              `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: second }], role: 'model' }, finishReason: 'STOP', groundingMetadata: grounding }], usageMetadata, responseId: 'r1', modelVersion: 'gemini-2.5-flash' })}\r\n\r\n`,
            ],
          }
        : { json: { candidates: [{ content: { parts: [{ text: full }], role: 'model' }, finishReason: 'STOP', index: 0, groundingMetadata: grounding }], usageMetadata, responseId: 'r1', modelVersion: 'gemini-2.5-flash' } },
    );
    const { app, oai } = await gateway(google());
    const c = await oai.chat.completions.create({ model: 'gemini-2.5-flash', messages: hi, web_search_options: {} });
    const nonStream = (c.choices[0]!.message as any).annotations;
    expect(nonStream).toEqual([{ type: 'url_citation', url_citation: { url: 'https://example.com/paris', title: 'example.com', start_index: full.indexOf('Paris'), end_index: full.indexOf('Paris') + 5 } }]);
    const res = await post(app, '/v1/chat/completions', { model: 'gemini-2.5-flash', messages: hi, web_search_options: {}, stream: true });
    const streamed = events(res.text).flatMap((e) => e.choices?.[0]?.delta?.annotations ?? []);
    expect(streamed).toEqual(nonStream);
  });
});

describe("today's provider changes, completed (fixed bugs)", () => {
  // Guards (fixed): azure-ai (no longer an alias of azure-openai) has no price-database mapping: its answers are unpriced and a cost budget refuses every request (403).
  it('azure-ai: an answer of gpt-4o is priced, and a cost budget admits it (as when azure-ai meant azure-openai)', async () => {
    const recorded = fixtureJson('openai/chat-completions.text.json');
    up.route('*', { json: { ...recorded, model: 'gpt-4o' } });
    const target = { provider: 'azure-ai', api_key: 'foundry-key-0123456789', custom_host: `${up.url}/models` };
    const { app } = await gateway(target);
    const res = await post(app, '/v1/chat/completions', { model: 'gpt-4o', messages: hi });
    expect(res.status).toBe(200);
    const expected = calcPrice({ input_tokens: recorded.usage.prompt_tokens, output_tokens: recorded.usage.completion_tokens }, 'gpt-4o', { providerId: 'azure' })!.total_price;
    expect({ status: res.headers['x-llmux-cost-status'], cost: Number(res.headers['x-llmux-cost']) }).toEqual({ status: undefined, cost: expect.closeTo(expected, 10) });
    const { app: budgeted } = await gateway(target, { config: { targets: [target], budget: { max_cost_per_day: 10 } } });
    expect((await post(budgeted, '/v1/chat/completions', { model: 'gpt-4o', messages: hi })).status).toBe(200);
  });

  // Guards (fixed): an Anthropic prefill sent to Mistral as prefix: true comes back with the prefix repeated at the start of the answer (Mistral echoes it), and /v1/messages relays the duplicate.
  it('mistral via /v1/messages: the answer to a prefill continues after it, without the echoed prefix', async () => {
    const prefill = '{"city": "';
    const answer = structuredClone(fixtureJson('mistral/chat-completions.text.json'));
    // Mistral's answer to a `prefix: true` turn starts with the prefix (vercel/ai #3256 strips it: "automatically remove duplicated content").
    answer.choices[0].message.content = `${prefill}Paris"}`;
    up.route('*', { json: answer });
    const { ant } = await gateway(mistral());
    const msg = await ant.messages.create({
      model: 'mistral-small-latest',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'Largest city of France as JSON {"city": …}' },
        { role: 'assistant', content: prefill },
      ],
    });
    expect(lastSent().messages.at(-1)).toMatchObject({ role: 'assistant', content: prefill, prefix: true });
    const text = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    // Anthropic clients append the answer to their prefill.
    expect(prefill + text).toBe('{"city": "Paris"}');
  });

  // Guards (fixed): Bedrock Converse sends a strict tool (toolSpec.strict, new today) with the schema as the client wrote it; Claude's structured-output grammar refuses the bounds the Anthropic and InvokeModel paths reduce.
  it('bedrock converse: a strict tool for Claude gets the structured-output subset, as on Anthropic and InvokeModel', async () => {
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const { oai } = await gateway(bedrock());
    await oai.chat.completions.create({ model: CLAUDE_ON_BEDROCK, messages: hi, tools: [bookTool()] });
    const spec = lastSent().toolConfig.tools[0].toolSpec;
    expect(spec.strict).toBe(true);
    expect(BOUNDS.filter((k) => keywords(spec.inputSchema.json).has(k))).toEqual([]);
  });

  // Guards (fixed): Bedrock Converse passes a client's anthropic_beta to Claude unfiltered (additionalModelRequestFields), while InvokeModel now keeps only the flags Bedrock documents; Bedrock refuses the others ("invalid beta flag").
  it('bedrock converse: a first-party-only beta flag in the body is dropped, as on InvokeModel', async () => {
    up.route('*', (req) => ({ json: fixtureJson(req.path.includes('/invoke') ? 'anthropic/messages.text.json' : 'bedrock/converse.text.json') }));
    const body = { model: CLAUDE_ON_BEDROCK, messages: hi, anthropic_beta: ['oauth-2025-04-20', 'interleaved-thinking-2025-05-14'] };
    const { oai: invoke } = await gateway(bedrock({ bedrock_api: 'invoke' }));
    await invoke.chat.completions.create(body as never);
    expect(lastSent().anthropic_beta).toEqual(['interleaved-thinking-2025-05-14']);
    const { oai: converse } = await gateway(bedrock());
    await converse.chat.completions.create(body as never);
    expect(lastSent().additionalModelRequestFields?.anthropic_beta).toEqual(['interleaved-thinking-2025-05-14']);
  });

  // Guards (fixed): a non-stream answer whose choice finished with "error" is now a 502 and its usage is dropped: the billed generation is charged nothing, while the same failure streamed is charged.
  it('mistral non-stream finish_reason "error": the usage it carried is charged, as on a stream', async () => {
    const records: any[] = [];
    const failed = structuredClone(fixtureJson('mistral/chat-completions.text.json'));
    failed.choices[0].finish_reason = 'error';
    up.route('*', { json: failed });
    const { app } = await gateway(mistral(), { onLog: (r: any) => records.push(r) });
    const res = await post(app, '/v1/chat/completions', { model: 'mistral-small-latest', messages: hi });
    expect(res.status).toBe(502);
    await until(() => records.length === 1);
    expect(records[0].usage).toMatchObject({ input_tokens: failed.usage.prompt_tokens, output_tokens: failed.usage.completion_tokens });
    expect(records[0].cost_usd).toBeGreaterThan(0);
  });

  // Guards (fixed): a data URL marked ";BASE64" (the token is case-insensitive) is taken as percent-encoded text and base64-encoded again: Gemini gets corrupted bytes.
  it('gemini: data:image/png;BASE64,… reaches Gemini as the same bytes', async () => {
    up.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
    const { oai } = await gateway(google());
    await oai.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;BASE64,iVBORw0KGgo=' } }] }] });
    expect(lastSent().contents[0].parts[0].inlineData).toEqual({ mimeType: 'image/png', data: 'iVBORw0KGgo=' });
  });
});
