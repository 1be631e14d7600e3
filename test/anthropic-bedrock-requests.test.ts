/**
 * Request translation to Anthropic and Bedrock (and the override rule every Claude-style translator
 * shares), and `/v1/messages` passthrough to Anthropic. Each test asserts what the provider requires;
 * its comment says what the gateway used to do wrong. The last covers a gap no other test covered.
 */
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const BEDROCK_MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const CONVERSE_PATH = '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse';

let upstream: MockUpstream;
const apps: TestApp[] = [];
/** OpenAI and Anthropic SDKs on a gateway whose one target is Anthropic at the mock. */
let toAnthropic: { openai: OpenAI; anthropic: Anthropic };
/** The same for a Bedrock target (Bedrock API key as bearer token, Converse). */
let toBedrock: { openai: OpenAI; anthropic: Anthropic };

async function gateway(target: Record<string, unknown>) {
  const app = await appFactories.express5!({ env: {}, config: { targets: [target] } as never });
  apps.push(app);
  return {
    openai: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 }),
  };
}
const anthropicTarget = (extra: Record<string, unknown> = {}) => ({ provider: 'anthropic', api_key: 'sk-ant-up', custom_host: `${upstream.url}/v1`, ...extra });
const bedrockTarget = (extra: Record<string, unknown> = {}) => ({ provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: upstream.url, ...extra });

beforeAll(async () => {
  upstream = await startMockUpstream();
  toAnthropic = await gateway(anthropicTarget());
  toBedrock = await gateway(bedrockTarget());
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
  upstream.route(CONVERSE_PATH, { json: fixtureJson('bedrock/converse.text.json') });
});

const lastSent = () => upstream.requests[upstream.requests.length - 1]!.json;

/** An OpenAI conversation with one assistant turn of two parallel tool calls and both results. */
const toolHistory = [
  { role: 'user', content: 'Weather in Paris and Rome?' },
  {
    role: 'assistant',
    content: null,
    tool_calls: [
      { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'call_1', content: 'Sunny' },
  { role: 'tool', tool_call_id: 'call_2', content: 'Rain' },
];
const weatherTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

describe('Bedrock Converse request translation', () => {
  it('sends a toolConfig when the history holds toolUse/toolResult blocks but the request has no tools', async () => {
    // AWS: "ValidationException: The toolConfig field must be defined when using toolUse and toolResult
    // content blocks." (e.g. langgenius/dify#17545, elastic/kibana#277821, vxcontrol/pentagi#196).
    // OpenAI accepts tool history without `tools` (a final "summarise" turn). request.ts knew the rule
    // for tool_choice "none" (hasToolBlocks), but not for a request without tools at all.
    await toBedrock.openai.chat.completions.create({ model: BEDROCK_MODEL, messages: toolHistory } as never);
    const sent = lastSent();
    expect(sent.messages[1].content[0].toolUse).toBeDefined();
    expect(sent.toolConfig).toBeDefined();
    expect(sent.toolConfig.tools.length).toBeGreaterThan(0);
  });

  it('a tool_result with is_error (Anthropic ingress) reaches Bedrock as toolResult.status "error"', async () => {
    // Converse ToolResultBlock.status is "success" | "error" (AWS API reference; fixtures README
    // "toolResult:{toolUseId,content,status}"). The /v1/messages ingress keeps `is_error` on the tool
    // message (to-chat-request.ts toolMessage) and the Anthropic provider sends it, but
    // request-messages.ts hard-coded status "success": the model was told a failed tool succeeded.
    await toBedrock.anthropic.messages.create({
      model: BEDROCK_MODEL,
      max_tokens: 100,
      tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'city service is down', is_error: true }] },
      ],
    });
    const result = lastSent().messages[2].content[0].toolResult;
    expect(result.toolUseId).toBe('toolu_1');
    expect(result.status).toBe('error');
  });

  it('an empty tool result is not sent as a blank text block', async () => {
    // Bedrock rejects blank text blocks ("text content blocks must be non-empty", NousResearch/hermes-agent#55092;
    // request-messages.ts itself says "Bedrock rejects blank text blocks" for user text), yet an empty
    // tool answer (`content: ""`, common for side-effect tools) became toolResult.content [{text:""}].
    await toBedrock.openai.chat.completions.create({
      model: BEDROCK_MODEL,
      tools: [weatherTool],
      messages: [...toolHistory.slice(0, 3), { role: 'tool', tool_call_id: 'call_2', content: '' }],
    } as never);
    const results = lastSent().messages[2].content.map((b: any) => b.toolResult);
    for (const r of results) for (const c of r.content) if ('text' in c) expect(c.text.trim()).not.toBe('');
  });

  it('two untitled documents from /v1/messages get distinct Bedrock document names', async () => {
    // Bedrock: "ValidationException: Messages can't contain duplicate document names." (maximhq/bifrost#7003,
    // BerriAI/litellm#30093). to-chat-request.ts named every untitled document "document.pdf" and
    // request-messages.ts documentName() stripped it to "document" for each: any two PDFs failed.
    const pdf = Buffer.from('%PDF-1.4 tiny').toString('base64');
    await toBedrock.anthropic.messages.create({
      model: BEDROCK_MODEL,
      max_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf } },
            { type: 'text', text: 'Compare them' },
          ],
        },
      ],
    });
    const names = lastSent().messages[0].content.filter((b: any) => b.document).map((b: any) => b.document.name);
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
  });

  it('two files with the same filename (OpenAI file parts) get distinct Bedrock document names', async () => {
    // Same rule; "report.pdf" and "report.docx" (or one report re-attached in a later turn) both became "report".
    const b64 = Buffer.from('%PDF-1.4 tiny').toString('base64');
    await toBedrock.openai.chat.completions.create({
      model: BEDROCK_MODEL,
      messages: [
        { role: 'user', content: [{ type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${b64}` } }, { type: 'text', text: 'v1' }] },
        { role: 'assistant', content: 'Read it.' },
        { role: 'user', content: [{ type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${b64}` } }, { type: 'text', text: 'v2, compare' }] },
      ],
    } as never);
    const names = lastSent().messages.flatMap((m: any) => m.content).filter((b: any) => b.document).map((b: any) => b.document.name);
    expect(names).toHaveLength(2);
    expect(new Set(names).size).toBe(2);
  });

  it('a conversation that opens with an assistant turn is not sent to Bedrock as is', async () => {
    // Bedrock: "ValidationException: A conversation must start with a user message" (langgenius/dify#12340,
    // elastic/kibana#246393). OpenAI accepts an opening assistant greeting; toConverseMessages forwarded it
    // first. Either a placeholder user turn goes first (what the gateway now does), or the gateway answers 400 itself.
    const res = await toBedrock.openai.chat.completions
      .create({ model: BEDROCK_MODEL, messages: [{ role: 'system', content: 'Be kind.' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: 'Hi' }] })
      .catch((e: unknown) => e);
    if (upstream.requests.length) expect(lastSent().messages[0].role).toBe('user');
    else expect(res).toBeInstanceOf(OpenAI.BadRequestError);
  });
});

describe('Anthropic Messages request translation', () => {
  it('a data:image/jpg URL is sent with a media_type Anthropic accepts (image/jpeg)', async () => {
    // Anthropic's image source media_type is one of image/jpeg, image/png, image/gif, image/webp (API
    // reference, ImageBlockParam). "image/jpg" is common in data URLs and OpenAI accepts it; the Bedrock
    // translator maps it (IMAGE_FORMATS 'image/jpg' → 'jpeg'), translate-content.ts passed it raw → 400.
    await toAnthropic.openai.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is it?' }, { type: 'image_url', image_url: { url: 'data:image/jpg;base64,/9j/4AAQSkZJRg==' } }] }],
    });
    expect(lastSent().messages[0].content[1].source).toEqual({ type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQSkZJRg==' });
  });
});

describe('override_params output limits', () => {
  it("a target's override_params.max_tokens caps Anthropic and Bedrock even when the body says max_completion_tokens", async () => {
    // DESIGN.md: `override_params` is a target key (Portkey's: target values override the request's).
    // translate-request.ts limits() and bedrock request.ts inferenceConfig() read
    // `max_completion_tokens ?? max_tokens` after the merge, so an operator's max_tokens cap was ignored
    // whenever the client used the OpenAI SDK's current name — and ALWAYS on /v1/messages → Bedrock,
    // because to-chat-request.ts turns every Anthropic max_tokens into max_completion_tokens.
    const a = await gateway(anthropicTarget({ override_params: { max_tokens: 256 } }));
    await a.openai.chat.completions.create({ model: 'claude-sonnet-4-5', max_completion_tokens: 4000, messages: [{ role: 'user', content: 'Hi' }] });
    expect(lastSent().max_tokens).toBe(256);

    const b = await gateway(bedrockTarget({ override_params: { max_tokens: 256 } }));
    await b.anthropic.messages.create({ model: BEDROCK_MODEL, max_tokens: 4000, messages: [{ role: 'user', content: 'Hi' }] });
    expect(lastSent().inferenceConfig.maxTokens).toBe(256);
  });

  it("…and Gemini and Cohere the same way (every translator reads max_completion_tokens first)", async () => {
    upstream.route('/v1beta/models/gemini-2.5-flash:generateContent', { json: fixtureJson('gemini/generateContent.text.json') });
    const g = await gateway({ provider: 'google', api_key: 'AIza-up', custom_host: `${upstream.url}/v1beta`, override_params: { max_tokens: 256 } });
    await g.openai.chat.completions.create({ model: 'gemini-2.5-flash', max_completion_tokens: 4000, messages: [{ role: 'user', content: 'Hi' }] });
    expect(lastSent().generationConfig.maxOutputTokens).toBe(256);

    upstream.route('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    const c = await gateway({ provider: 'cohere', api_key: 'co-up', custom_host: `${upstream.url}/v2`, override_params: { max_tokens: 256 } });
    await c.openai.chat.completions.create({ model: 'command-r-plus', max_completion_tokens: 4000, messages: [{ role: 'user', content: 'Hi' }] });
    expect(lastSent().max_tokens).toBe(256);
  });
});

describe('/v1/messages to an Anthropic target (passthrough)', () => {
  it('a beta MCP toolset (a tool without "name") reaches Anthropic untouched, not a gateway 400', async () => {
    // @anthropic-ai/sdk BetaMCPToolset = { type: "mcp_toolset", mcp_server_name, ... } — no `name`
    // (node_modules/@anthropic-ai/sdk/resources/beta/messages/messages.d.ts). validate.ts required
    // tools[].name, contradicting its own comment ("Everything else passes through: an Anthropic target
    // knows its newest parameters best") and the passthrough contract: the client got
    // 400 "tools[0].name: Field required" without Anthropic ever being called.
    const tools = [{ type: 'mcp_toolset', mcp_server_name: 'docs' }];
    const mcp_servers = [{ type: 'url', url: 'https://mcp.example.com/sse', name: 'docs' }];
    const msg = await toAnthropic.anthropic.beta.messages.create(
      { model: 'claude-sonnet-4-5', max_tokens: 100, mcp_servers, tools, messages: [{ role: 'user', content: 'Search the docs' }] } as never,
      { headers: { 'anthropic-beta': 'mcp-client-2025-11-20' } },
    );
    expect((msg as { id: string }).id).toBe(fixtureJson('anthropic/messages.text.json').id);
    const sent = upstream.requests[0]!;
    expect(sent.json.tools).toEqual(tools);
    expect(sent.json.mcp_servers).toEqual(mcp_servers);
    expect(sent.headers['anthropic-beta']).toBe('mcp-client-2025-11-20');
  });
});

describe('/v1/messages to a Bedrock target', () => {
  it('prompt-caching breakpoints (cache_control) become Converse cachePoints', async () => {
    // The Bedrock translator maps `cache_control` on OpenAI parts to `{cachePoint:{type:"default"}}`
    // (request-messages.ts cachePoint, systemBlocks), and Claude on Bedrock bills cached reads at a
    // fraction. But to-chat-request.ts toPart()/plain() dropped every cache_control (its comment assumed only
    // Anthropic targets care), so Claude Code-style requests routed to Bedrock never hit the cache.
    await toBedrock.anthropic.messages.create({
      model: BEDROCK_MODEL,
      max_tokens: 100,
      system: [{ type: 'text', text: 'A very long, stable system prompt.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Long document body', cache_control: { type: 'ephemeral' } }, { type: 'text', text: 'Question?' }] }],
    });
    const sent = lastSent();
    expect(sent.system).toContainEqual({ cachePoint: { type: 'default' } });
    expect(sent.messages[0].content).toContainEqual({ cachePoint: { type: 'default' } });
  });
});

describe('Anthropic errors through the gateway', () => {
  it('a 429 rate_limit_error keeps its status and Retry-After for both SDKs', async () => {
    // Fixtures README: 429 rate_limit_error comes "with a retry-after header"; DESIGN.md: rate limited is 429 with Retry-After.
    upstream.reset();
    upstream.route('/v1/messages', { status: 429, headers: { 'retry-after': '7' }, json: { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } } });
    const o = await toAnthropic.openai.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: any) => e);
    expect(o).toBeInstanceOf(OpenAI.RateLimitError);
    expect(o.headers.get('retry-after')).toBe('7');
    const a = await toAnthropic.anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] }).catch((e: any) => e);
    expect(a).toBeInstanceOf(Anthropic.RateLimitError);
    expect(a.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(a.headers.get('retry-after')).toBe('7');
  });
});
