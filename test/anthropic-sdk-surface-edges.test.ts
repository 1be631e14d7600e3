/**
 * The `@anthropic-ai/sdk` client (baseURL `<app>/llm`) against `/v1/messages` and the routes around it,
 * with targets of each provider behind the gateway. Upstreams are mock servers on 127.0.0.1; the
 * OpenAI answer to a named `tool_choice` is synthetic (OpenAI answers a forced function call with
 * `finish_reason: "stop"`, not `"tool_calls"`); the others replay the recorded fixtures.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const opened: TestApp[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

async function start(options: Record<string, unknown>): Promise<TestApp> {
  const app = await appFactories.express5!({ env: {}, ...options } as never);
  opened.push(app);
  return app;
}
const sdk = (app: TestApp, apiKey = 'sk-ant-client-side') => new Anthropic({ baseURL: app.gatewayURL, apiKey, maxRetries: 0 });

const GATEWAY_KEY = 'llmux-gw-key-0123456789';
const BEDROCK_CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

const openaiTarget = () => ({ provider: 'openai', api_key: 'sk-openai-upstream', custom_host: `${upstream.url}/v1` });
const anthropicTarget = () => ({ provider: 'anthropic', api_key: 'sk-ant-upstream', custom_host: `${upstream.url}/v1` });
const googleTarget = () => ({ provider: 'google', api_key: 'AIza-upstream', custom_host: `${upstream.url}/v1beta` });
const bedrockTarget = () => ({ provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: upstream.url });

const weatherTool: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Get the current weather for a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const hi: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];

/** Anthropic's rule for a stream: deltas only to the open block, blocks started in order and each stopped. */
function blockOrderErrors(events: Anthropic.MessageStreamEvent[]): string[] {
  const errors: string[] = [];
  let open: number | undefined;
  let next = 0;
  for (const e of events) {
    if (e.type === 'content_block_start') {
      if (open !== undefined) errors.push(`block ${e.index} started while ${open} was open`);
      if (e.index !== next++) errors.push(`block ${e.index} out of order`);
      open = e.index;
    } else if (e.type === 'content_block_delta' && e.index !== open) errors.push(`delta for ${e.index} while ${open} open`);
    else if (e.type === 'content_block_stop') {
      if (e.index !== open) errors.push(`stop for ${e.index} while ${open} open`);
      open = undefined;
    }
  }
  if (open !== undefined) errors.push(`block ${open} never stopped`);
  return errors;
}

describe('tool_choice {type:"tool"} answered by OpenAI (finish_reason "stop" beside the forced call)', () => {
  const call = { id: 'call_forced1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };

  // BUG: a forced tool call from OpenAI comes back with stop_reason "end_turn", so agent loops (and the SDK's toolRunner) never run the tool
  it('non-stream: the message with a tool_use block stops with "tool_use"', async () => {
    const app = await start({ config: { targets: [openaiTarget()] } });
    upstream.enqueue('/v1/chat/completions', {
      json: {
        id: 'chatcmpl-forced',
        object: 'chat.completion',
        created: 1,
        model: 'gpt-4o-2024-08-06',
        choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [call] }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 60, completion_tokens: 15, total_tokens: 75 },
      },
    });
    const msg = await sdk(app).messages.create({ model: 'gpt-4o', max_tokens: 100, messages: hi, tools: [weatherTool], tool_choice: { type: 'tool', name: 'get_weather' } });
    expect(upstream.requests[0]!.json.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(msg.content).toEqual([{ type: 'tool_use', id: 'call_forced1', name: 'get_weather', input: { city: 'Paris' }, caller: { type: 'direct' } }]);
    expect(msg.stop_reason).toBe('tool_use');
  });

  // BUG: the same on a stream: message_delta says stop_reason "end_turn" after a tool_use block
  it('stream: finalMessage() after a tool_use block stops with "tool_use"', async () => {
    const app = await start({ config: { targets: [openaiTarget()] } });
    const base = { id: 'chatcmpl-forced-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-2024-08-06' };
    const data = (o: object) => `data: ${JSON.stringify({ ...base, ...o })}\n\n`;
    upstream.enqueue('/v1/chat/completions', {
      chunks: [
        data({ choices: [{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, ...call, function: { name: 'get_weather', arguments: '' } }] }, finish_reason: null }] }),
        data({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, finish_reason: null }] }),
        data({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, finish_reason: null }] }),
        data({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }),
        data({ choices: [], usage: { prompt_tokens: 60, completion_tokens: 15, total_tokens: 75 } }),
        'data: [DONE]\n\n',
      ],
    });
    const stream = sdk(app).messages.stream({ model: 'gpt-4o', max_tokens: 100, messages: hi, tools: [weatherTool], tool_choice: { type: 'tool', name: 'get_weather' } });
    const json: string[] = [];
    stream.on('inputJson', (partial) => json.push(partial));
    const msg = await stream.finalMessage();
    expect(json.join('')).toBe('{"city":"Paris"}');
    expect(msg.content).toEqual([{ type: 'tool_use', id: 'call_forced1', name: 'get_weather', input: { city: 'Paris' }, caller: { type: 'direct' } }]);
    expect(msg.stop_reason).toBe('tool_use');
  });
});

describe('Anthropic parameters other providers understand', () => {
  // BUG: top_k from an Anthropic client is dropped for Gemini (topK) and Claude on Bedrock (additionalModelRequestFields), which read it on /v1/chat/completions
  it('top_k reaches Gemini as generationConfig.topK and Claude on Bedrock as additionalModelRequestFields.top_k', async () => {
    const gemini = await start({ config: { targets: [googleTarget()] } });
    upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', { json: fixtureJson('gemini/generateContent.text.json') });
    await sdk(gemini).messages.create({ model: 'gemini-2.5-flash', max_tokens: 100, top_k: 7, messages: hi });
    expect(upstream.requests[0]!.json.generationConfig).toMatchObject({ maxOutputTokens: 100, topK: 7 });

    const bedrock = await start({ config: { targets: [bedrockTarget()] } });
    upstream.enqueue(`/model/${encodeURIComponent(BEDROCK_CLAUDE)}/converse`, { json: fixtureJson('bedrock/converse.text.json') });
    await sdk(bedrock).messages.create({ model: BEDROCK_CLAUDE, max_tokens: 100, top_k: 7, messages: hi });
    expect(upstream.requests[1]!.json.additionalModelRequestFields).toEqual({ top_k: 7 });
  });

  // BUG: a tool_result with is_error reaches Gemini as a plain {output} response, so the model takes the failure for a result
  it('a tool_result with is_error reaches Gemini as functionResponse.response.error (Google\'s documented key for a failed call)', async () => {
    const app = await start({ config: { targets: [googleTarget()] } });
    upstream.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', { json: fixtureJson('gemini/generateContent.text.json') });
    await sdk(app).messages.create({
      model: 'gemini-2.5-flash',
      max_tokens: 100,
      tools: [weatherTool],
      messages: [
        ...hi,
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', is_error: true, content: 'weather service unreachable' }] },
      ],
    });
    const parts = upstream.requests[0]!.json.contents.flatMap((c: { parts: unknown[] }) => c.parts);
    const response = parts.find((p: { functionResponse?: unknown }) => p.functionResponse).functionResponse.response;
    expect(response).toEqual({ error: 'weather service unreachable' });
  });
});

describe('the models routes for Anthropic clients', () => {
  // BUG: with `auth`, x-api-key (the key header of Anthropic's SDKs, e.g. Python's client.models.list()) is accepted on /v1/messages only; /v1/models answers 401
  it('x-api-key carrying a gateway key is accepted on GET /v1/models and /v1/models/{id}', async () => {
    const app = await start({
      config: { targets: [{ ...anthropicTarget(), override_params: { model: 'claude-sonnet-4-6' } }] },
      auth: { keys: [{ key: GATEWAY_KEY, name: 'team-a' }] },
    });
    const headers = { 'x-api-key': GATEWAY_KEY, 'anthropic-version': '2023-06-01' };
    const list = await fetch(`${app.gatewayURL}/v1/models`, { headers });
    expect(list.status).toBe(200);
    expect(JSON.stringify(await list.json())).toContain('claude-sonnet-4-6');
    const one = await fetch(`${app.gatewayURL}/v1/models/claude-sonnet-4-6`, { headers });
    expect(one.status).toBe(200);
  });

  // BUG: client.models.list() gets OpenAI model objects ({object, created, owned_by}); Anthropic's ModelInfo fields (type, display_name, created_at) are missing
  it('models.list() gives the SDK Anthropic ModelInfo entries', async () => {
    const app = await start({ config: { targets: [{ ...anthropicTarget(), override_params: { model: 'claude-sonnet-4-6' } }] } });
    const page = await sdk(app).models.list();
    expect(page.data.map((m) => m.id)).toEqual(['claude-sonnet-4-6']);
    const model = page.data[0]!;
    expect(model.type).toBe('model');
    expect(typeof model.display_name).toBe('string');
    expect(Number.isNaN(Date.parse(model.created_at))).toBe(false);
    expect(page.has_more).toBe(false);
  });
});

describe('what works (pinned)', () => {
  it("gateway refusals reach the SDK as its typed errors with Anthropic's error types", async () => {
    const limited = await start({ config: { rate_limit: { requests_per_minute: 1 }, targets: [{ provider: 'mock' }] } });
    const client = sdk(limited);
    const body = { model: 'mock-model', max_tokens: 20, messages: hi };
    await client.messages.create(body);
    const rate = await client.messages.create(body).catch((e: unknown) => e);
    expect(rate).toBeInstanceOf(Anthropic.RateLimitError);
    expect((rate as Anthropic.APIError).error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number((rate as Anthropic.APIError).headers?.get('retry-after'))).toBeGreaterThan(0);

    const budgeted = await start({ config: { budget: { max_cost_per_day: 0.000001 }, targets: [{ provider: 'mock' }] }, pricing: { 'mock-model': { input: 1000, output: 1000 } } });
    const budget = await sdk(budgeted).messages.create(body).catch((e: unknown) => e);
    expect(budget).toBeInstanceOf(Anthropic.PaymentRequiredError);
    expect((budget as Anthropic.APIError).error).toMatchObject({ type: 'error', error: { type: 'billing_error' } });

    const keyed = await start({ config: { targets: [{ provider: 'mock' }] }, auth: { keys: [{ key: GATEWAY_KEY, name: 'team-a' }] } });
    const denied = await sdk(keyed, 'not-the-gateway-key-0000').messages.create(body).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((denied as Anthropic.APIError).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const ok = await sdk(keyed, GATEWAY_KEY).messages.create(body);
    expect(ok.content[0]).toMatchObject({ type: 'text' });
  });

  it('countTokens and batches get a prompt Anthropic-shaped 404, never a 500 or a hang', async () => {
    const app = await start({ config: { targets: [openaiTarget()] } });
    const client = sdk(app);
    const params = { model: 'gpt-4o', messages: hi };
    const calls: Array<() => PromiseLike<unknown>> = [
      () => client.messages.countTokens(params),
      () => client.beta.messages.countTokens(params),
      () => client.messages.batches.create({ requests: [{ custom_id: 'a', params: { ...params, max_tokens: 10 } }] }),
      () => client.messages.batches.list(),
      () => client.messages.batches.retrieve('msgbatch_01'),
    ];
    for (const call of calls) {
      const err = await Promise.resolve(call()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.NotFoundError);
      expect((err as Anthropic.APIError).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('passthrough: betas, metadata and cache_control reach Anthropic as sent; the stream helper assembles parallel tool_use blocks', async () => {
    const app = await start({ config: { targets: [anthropicTarget()] } });
    upstream.enqueue('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.parallel-tool-use.stream.sse')) });
    const params = {
      model: 'claude-sonnet-4-6',
      max_tokens: 500,
      metadata: { user_id: 'user-42' },
      system: [{ type: 'text' as const, text: 'Be brief.', cache_control: { type: 'ephemeral' as const } }],
      messages: hi,
      tools: [weatherTool],
    };
    const stream = sdk(app).beta.messages.stream({ ...params, betas: ['token-efficient-tools-2025-02-19'] });
    const events: Anthropic.MessageStreamEvent[] = [];
    stream.on('streamEvent', (e) => events.push(e as Anthropic.MessageStreamEvent));
    let jsonEvents = 0;
    stream.on('inputJson', () => jsonEvents++);
    const msg = await stream.finalMessage();
    expect(blockOrderErrors(events)).toEqual([]);
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    expect(uses.length).toBeGreaterThan(1);
    for (const u of uses) expect(typeof u.input).toBe('object');
    expect(jsonEvents).toBeGreaterThan(0);
    expect(msg.stop_reason).toBe('tool_use');
    const sent = upstream.requests[0]!;
    expect(sent.headers['anthropic-beta']).toBe('token-efficient-tools-2025-02-19');
    expect(sent.headers['x-api-key']).toBe('sk-ant-upstream');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.json).toMatchObject({ metadata: params.metadata, system: params.system, stream: true });
  });

  it('mock target: a streamed answer arrives in Anthropic event order with usage', async () => {
    const app = await start({ config: { targets: [{ provider: 'mock' }] } });
    const stream = sdk(app).messages.stream({ model: 'mock-model', max_tokens: 50, messages: [{ role: 'user', content: 'hello there' }] });
    const types: string[] = [];
    const texts: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    stream.on('text', (t) => texts.push(t));
    const msg = await stream.finalMessage();
    expect(types[0]).toBe('message_start');
    expect(types.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(msg.content).toEqual([{ type: 'text', text: texts.join('') }]);
    expect(texts.join('')).toContain('hello there');
    expect(msg.usage.input_tokens).toBeGreaterThan(0);
    expect(msg.usage.output_tokens).toBeGreaterThan(0);
  });
});
