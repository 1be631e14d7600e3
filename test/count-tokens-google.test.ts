import { generateKeyPairSync } from 'node:crypto';
import Anthropic from '@anthropic-ai/sdk';
import { recentRequests } from '@llmux/core';
import { describe, expect, it } from 'vitest';
import { anthropicSuite } from './helpers/anthropic-suite.js';
import type { MockUpstream, RecordedRequest } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

/**
 * `POST /v1/messages/count_tokens` answered by Google targets with the serving model's own tokenizer:
 * the Gemini API's `models/{m}:countTokens` with `{"generateContentRequest": {model, contents,
 * systemInstruction, tools, …}}` and Vertex AI's `projects/{p}/locations/{r}/publishers/google/models/
 * {m}:countTokens` with those fields at the top level. Both answer `{"totalTokens": n, …}`, relayed as
 * Anthropic's `{"input_tokens": n}`.
 */
let upstream: MockUpstream;

const CLIENT_KEY = 'sk-ant-client-side-key-google';
const { start } = anthropicSuite(CLIENT_KEY, (u) => (upstream = u), { env: {} });
const ANTHROPIC_KEY = 'sk-ant-upstream-key-google-5e6f';
const GEMINI_KEY = 'AIzaSyGeminiUpstreamKey-count-7a8b9c';
const VERTEX_TOKEN = 'ya29.vertex-access-token-count-1d2e3f';
const MINTED = 'ya29.minted-for-a-count-4g5h6i';
const SECRETS = [ANTHROPIC_KEY, GEMINI_KEY, VERTEX_TOKEN, MINTED];

const GEMINI = 'gemini-2.5-flash';
const GEMINI_PATH = `/v1beta/models/${GEMINI}:countTokens`;
const VERTEX_MODEL = 'gemini-2.5-pro';
const VERTEX_PATH = `/v1/projects/my-proj/locations/europe-west4/publishers/google/models/${VERTEX_MODEL}:countTokens`;

const gemini = (over: Record<string, unknown> = {}) => ({ provider: 'google', api_key: GEMINI_KEY, custom_host: `${upstream.url}/v1beta`, ...over });
const vertex = (over: Record<string, unknown> = {}) => ({
  provider: 'vertex-ai',
  api_key: VERTEX_TOKEN,
  vertex_project_id: 'my-proj',
  vertex_region: 'europe-west4',
  custom_host: `${upstream.url}/v1`,
  ...over,
});
const anthropic = (over: Record<string, unknown> = {}) => ({ provider: 'anthropic', api_key: ANTHROPIC_KEY, custom_host: `${upstream.url}/v1`, ...over });

const weather: Anthropic.Tool = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const params: Anthropic.MessageCountTokensParams = {
  model: GEMINI,
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'Wetter in Zürich? ☃ 😀' }],
  tools: [weather],
  tool_choice: { type: 'auto' },
};
/** A tool round trip, as an agent's second turn sends it. */
const roundTrip: Anthropic.MessageParam[] = [
  { role: 'user', content: 'Weather in Paris?' },
  { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }] },
  { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '18°C, sunny' }] },
];


/** Nothing the client can read (status line aside) holds a credential. */
function expectNoSecrets(...texts: unknown[]) {
  const all = JSON.stringify(texts);
  for (const secret of SECRETS) expect(all).not.toContain(secret);
}
const headersOf = (e: Anthropic.APIError) => Object.fromEntries(e.headers?.entries() ?? []);
const countCalls = () => upstream.requests.filter((r) => r.path.endsWith(':countTokens'));
const clientKeyNeverUpstream = () => expect(JSON.stringify(upstream.requests.map((r: RecordedRequest) => r.headers))).not.toContain(CLIENT_KEY);

describe('a Gemini API target counts with the model\'s own countTokens', () => {
  for (const kind of ['express5', 'koa3', 'nestjs']) {
    it(`${kind}: the SDK's countTokens gets totalTokens as input_tokens; the request is models/{m}:countTokens with the generateContent body and the target's key`, async () => {
      const { app, sdk } = await start({ targets: [gemini()] }, {}, kind);
      upstream.route(GEMINI_PATH, { json: { totalTokens: 1234, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 1234 }] } });
      const res = await sdk.messages.countTokens(params).withResponse();
      expect(res.data).toEqual({ input_tokens: 1234 });
      expect(res.response.headers.get('x-llmux-provider')).toBe('google');
      expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[0]');
      expect(res.response.headers.get('x-llmux-cost')).toBe('0');

      const [sent, ...more] = upstream.requests;
      expect(more).toHaveLength(0);
      expect(sent!.method).toBe('POST');
      expect(sent!.path).toBe(GEMINI_PATH);
      expect(sent!.headers['x-goog-api-key']).toBe(GEMINI_KEY);
      expect(sent!.headers.authorization).toBeUndefined();
      expect(sent!.headers['content-type']).toBe('application/json');
      expect(Object.keys(sent!.json)).toEqual(['generateContentRequest']);
      const request = sent!.json.generateContentRequest;
      expect(request).toMatchObject({
        model: `models/${GEMINI}`,
        contents: [{ role: 'user', parts: [{ text: 'Wetter in Zürich? ☃ 😀' }] }],
        systemInstruction: { parts: [{ text: 'You are terse.' }] },
        tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather for a city', parameters: expect.objectContaining({ required: ['city'] }) }] }],
        toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
      });
      expect(request.tools[0].functionDeclarations[0].parameters.properties.city).toBeDefined();
      clientKeyNeverUpstream();
      expectNoSecrets(res.data, Object.fromEntries(res.response.headers.entries()));
      await until(() => recentRequests(app.gateway).records.length === 1);
      const [record] = recentRequests(app.gateway).records;
      expect(record).toMatchObject({ route: 'count_tokens', status: 200, provider: 'google', target: 'config.targets[0]' });
      expectNoSecrets(record);
    });
  }

  it('a tool round trip is counted as Gemini will read it: functionCall and functionResponse parts, the model turn as "model"', async () => {
    const { sdk } = await start({ targets: [gemini()] });
    upstream.route(GEMINI_PATH, { json: { totalTokens: 77 } });
    expect(await sdk.messages.countTokens({ ...params, messages: roundTrip })).toEqual({ input_tokens: 77 });
    const { contents } = upstream.requests[0]!.json.generateContentRequest;
    expect(contents).toHaveLength(3);
    expect(contents[0]).toEqual({ role: 'user', parts: [{ text: 'Weather in Paris?' }] });
    expect(contents[1].role).toBe('model');
    expect(contents[1].parts).toEqual(expect.arrayContaining([{ text: 'Checking.' }, expect.objectContaining({ functionCall: expect.objectContaining({ name: 'get_weather', args: { city: 'Paris' } }) })]));
    expect(contents[2].role).toBe('user');
    expect(contents[2].parts).toEqual([expect.objectContaining({ functionResponse: expect.objectContaining({ name: 'get_weather' }) })]);
    expect(JSON.stringify(contents[2])).toContain('18°C, sunny');
  });

  it('system blocks split at a cache breakpoint count as the one instruction a message sends; the target\'s model and generation settings go too', async () => {
    const { sdk } = await start({ targets: [gemini({ override_params: { model: 'gemini-2.5-pro', temperature: 0.3 } })] });
    upstream.route('/v1beta/models/gemini-2.5-pro:countTokens', { json: { totalTokens: 15, cachedContentTokenCount: 0 } });
    const system: Anthropic.TextBlockParam[] = [
      { type: 'text', text: 'You are terse.' },
      { type: 'text', text: 'Answer in French.', cache_control: { type: 'ephemeral' } },
    ];
    expect(await sdk.messages.countTokens({ model: 'anything', system, messages: [{ role: 'user', content: 'Hi' }] })).toEqual({ input_tokens: 15 });
    const request = upstream.requests[0]!.json.generateContentRequest;
    expect(request.model).toBe('models/gemini-2.5-pro');
    expect(request.systemInstruction).toEqual({ parts: [{ text: 'You are terse.\n\nAnswer in French.' }] });
    expect(request.generationConfig).toMatchObject({ temperature: 0.3 });
    expect(JSON.stringify(request)).not.toContain('cache_control');
    expect(request.labels).toBeUndefined();
  });
});

describe('a Vertex AI target counts with the model\'s own countTokens', () => {
  it('the project/location path, the access token as Bearer, contents/systemInstruction/tools at the top level; totalTokens as input_tokens', async () => {
    const { app, sdk } = await start({ targets: [vertex()] });
    upstream.route(VERTEX_PATH, { json: { totalTokens: 321, totalBillableCharacters: 99, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 321 }] } });
    const res = await sdk.messages.countTokens({ ...params, model: VERTEX_MODEL, tool_choice: { type: 'any' } }).withResponse();
    expect(res.data).toEqual({ input_tokens: 321 });
    expect(res.response.headers.get('x-llmux-provider')).toBe('vertex-ai');
    const [sent, ...more] = upstream.requests;
    expect(more).toHaveLength(0);
    expect(sent!.path).toBe(VERTEX_PATH);
    expect(sent!.headers.authorization).toBe(`Bearer ${VERTEX_TOKEN}`);
    expect(sent!.headers['x-goog-api-key']).toBeUndefined();
    expect(sent!.json).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Wetter in Zürich? ☃ 😀' }] }],
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
      tools: [{ functionDeclarations: [expect.objectContaining({ name: 'get_weather', description: 'Weather for a city' })] }],
    });
    // Vertex's CountTokensRequest has no toolConfig (nor safetySettings, cachedContent, labels).
    expect(sent!.json.toolConfig).toBeUndefined();
    clientKeyNeverUpstream();
    expectNoSecrets(res.data, Object.fromEntries(res.response.headers.entries()));
    await until(() => recentRequests(app.gateway).records.length === 1);
    expect(recentRequests(app.gateway).records[0]).toMatchObject({ route: 'count_tokens', status: 200, provider: 'vertex-ai' });
    expectNoSecrets(recentRequests(app.gateway).records);
  });

  it('a service account mints the Bearer token as for generation (once, then cached); the project comes from the key file', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sa = { type: 'service_account', project_id: 'sa-proj', client_email: 'bot@sa-proj.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), token_uri: `${upstream.url}/token` };
    const { sdk } = await start({ targets: [{ provider: 'vertex-ai', custom_host: `${upstream.url}/v1`, vertex_region: 'us-east5', vertex_service_account_json: JSON.stringify(sa) }] });
    upstream.route('/token', { json: { access_token: MINTED, expires_in: 3599, token_type: 'Bearer' } });
    const path = '/v1/projects/sa-proj/locations/us-east5/publishers/google/models/gemini-2.0-flash-001:countTokens';
    upstream.route(path, { json: { totalTokens: 8 } });
    for (let i = 0; i < 2; i++) expect(await sdk.messages.countTokens({ ...params, model: 'gemini-2.0-flash-001' })).toEqual({ input_tokens: 8 });
    expect(upstream.requests.filter((r) => r.path === '/token')).toHaveLength(1);
    const calls = countCalls();
    expect(calls.map((r) => r.path)).toEqual([path, path]);
    for (const r of calls) expect(r.headers.authorization).toBe(`Bearer ${MINTED}`);
  });

  it('a target whose override_params name a cached context is not asked: Vertex cannot count one, and a count without it would fall short', async () => {
    const { sdk } = await start({ targets: [vertex({ override_params: { cached_content: 'projects/my-proj/locations/europe-west4/cachedContents/123' } })] });
    const refused = (await sdk.messages.countTokens({ ...params, model: VERTEX_MODEL }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(refused).toBeInstanceOf(Anthropic.NotFoundError);
    expect(refused.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('cached') } });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('what Google answers, relayed in Anthropic\'s shape', () => {
  it('a 400 INVALID_ARGUMENT is Anthropic\'s 400 with Google\'s message, sent once; keys never come back even when Google quotes them', async () => {
    for (const [target, path] of [[gemini({ retry: { attempts: 2 } }), GEMINI_PATH], [vertex({ retry: { attempts: 2 } }), VERTEX_PATH]] as const) {
      upstream.reset();
      const { sdk } = await start({ targets: [target] });
      upstream.route(path, (req) => ({
        status: 400,
        json: {
          error: {
            code: 400,
            message: `Invalid JSON payload received. Unknown name "bogus": Cannot find field. (key ${String(req.headers['x-goog-api-key'] ?? req.headers.authorization)})`,
            status: 'INVALID_ARGUMENT',
            details: [{ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ description: 'Invalid JSON payload received. Unknown name "bogus"' }] }],
          },
        },
      }));
      const model = path === GEMINI_PATH ? GEMINI : VERTEX_MODEL;
      const error = (await sdk.messages.countTokens({ ...params, model }).catch((e: unknown) => e)) as Anthropic.APIError;
      expect(error).toBeInstanceOf(Anthropic.BadRequestError);
      expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('Unknown name "bogus"') } });
      expect(error.error).not.toHaveProperty('input_tokens');
      expectNoSecrets(error.error, headersOf(error));
      expect(upstream.requests.map((r) => r.path)).toEqual([path]);
    }
  });

  it('a 429 RESOURCE_EXHAUSTED is Anthropic\'s rate_limit_error with Google\'s retry delay as Retry-After', async () => {
    const { sdk } = await start({ targets: [gemini()] });
    upstream.enqueue(GEMINI_PATH, {
      status: 429,
      json: { error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }] } },
    });
    const limited = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('Resource has been exhausted') } });
    expect(limited.headers?.get('retry-after')).toBe('7');
  });

  it('a 200 without a non-negative integer totalTokens is a 502, never a made-up count; Google\'s other fields never reach the client', async () => {
    const { sdk } = await start({ targets: [gemini()] });
    for (const json of [{}, { input_tokens: 5 }, { cachedContentTokenCount: 5 }, { totalTokens: '5' }, { totalTokens: -1 }, { totalTokens: 2.5 }, null]) {
      upstream.enqueue(GEMINI_PATH, { json });
      const bad = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
      expect(bad, JSON.stringify(json)).toBeInstanceOf(Anthropic.APIError);
      expect(bad.status).toBe(502);
      expect(bad.error).toMatchObject({ type: 'error' });
      expect(JSON.stringify(bad.error)).not.toContain('input_tokens":');
      expectNoSecrets(bad.error);
    }
    upstream.enqueue(GEMINI_PATH, { json: { totalTokens: 12, cachedContentTokenCount: 4, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 12 }] } });
    expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 12 });
  });
});

describe('what Gemini cannot take is the client\'s 4xx, as for a message, and nothing goes upstream', () => {
  /** The count's refusal, checked against what /v1/messages answers the same body on the same target. */
  async function refusedAsAMessage(sdk: Anthropic, body: Anthropic.MessageCountTokensParams): Promise<string> {
    const counted = (await sdk.messages.countTokens(body).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(counted).toBeInstanceOf(Anthropic.BadRequestError);
    expect(counted.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const sent = (await sdk.messages.create({ ...body, max_tokens: 64 }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(sent).toBeInstanceOf(Anthropic.BadRequestError);
    const message = (counted.error as { error: { message: string } }).error.message;
    expect(message).toBe((sent.error as { error: { message: string } }).error.message);
    expect(upstream.requests).toHaveLength(0);
    return message;
  }

  it('JSON output with function tools on Gemini 2.5 is a 400 naming the client\'s field', async () => {
    const { sdk } = await start({ targets: [gemini()] });
    const body = { ...params, output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { a: { type: 'string' } } } } } };
    expect(await refusedAsAMessage(sdk, body as never)).toContain('function tools');
  });

  it('a tool schema Gemini cannot read is a 400 naming the tool as the client sent it', async () => {
    const { sdk } = await start({ targets: [vertex()] });
    const remote: Anthropic.Tool = { name: 'lookup', input_schema: { type: 'object', properties: { q: { $ref: 'https://example.com/q.json' } } } };
    const message = await refusedAsAMessage(sdk, { ...params, model: VERTEX_MODEL, tools: [weather, remote] });
    expect(message).toContain('tools[1].input_schema');
    expect(message).not.toContain('.function.parameters');
  });

  it('content only Anthropic reads (a Files API document) is refused as a message to Gemini is, never counted without it', async () => {
    const { sdk } = await start({ targets: [gemini()] });
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: [{ type: 'text', text: 'Summarise this.' }, { type: 'document', source: { type: 'file', file_id: 'file_011CNha8iCJcU1wXNR6q4V8w' } } as never] }];
    expect(await refusedAsAMessage(sdk, { ...params, messages })).toContain('messages[0].content[1].source.type');

    // The same body to an Anthropic target counts: the refusal is Gemini's, not the body's.
    upstream.reset();
    const both = await start({ strategy: { mode: 'fallback' }, targets: [gemini(), anthropic({ override_params: { model: 'claude-sonnet-4-6' } })] });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 40 } });
    const res = await both.sdk.messages.countTokens({ ...params, messages }).withResponse();
    expect(res.data).toEqual({ input_tokens: 40 });
    expect(res.response.headers.get('x-llmux-provider')).toBe('anthropic');
  });
});

describe('routing among counting targets', () => {
  it('a failing Anthropic target (529, 500) falls back to Gemini, and a failing Gemini target to Anthropic', async () => {
    for (const status of [529, 500]) {
      upstream.reset();
      const { sdk } = await start({ strategy: { mode: 'fallback' }, targets: [anthropic(), gemini({ override_params: { model: GEMINI } })] });
      upstream.route('/v1/messages/count_tokens', { status, json: { type: 'error', error: { type: status === 529 ? 'overloaded_error' : 'api_error', message: 'Upstream trouble' } } });
      upstream.route(GEMINI_PATH, { json: { totalTokens: 21 } });
      const toGoogle = await sdk.messages.countTokens({ ...params, model: 'claude-sonnet-4-6' }).withResponse();
      expect(toGoogle.data).toEqual({ input_tokens: 21 });
      expect(toGoogle.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
      expect(toGoogle.response.headers.get('x-llmux-provider')).toBe('google');
      expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens', GEMINI_PATH]);
      expect(upstream.requests[0]!.json.model).toBe('claude-sonnet-4-6');
      expect(upstream.requests[1]!.json.generateContentRequest.model).toBe(`models/${GEMINI}`);
      expectNoSecrets(toGoogle.data, Object.fromEntries(toGoogle.response.headers.entries()));
    }

    upstream.reset();
    const reverse = await start({ strategy: { mode: 'fallback' }, targets: [vertex(), anthropic({ override_params: { model: 'claude-sonnet-4-6' } })] });
    upstream.route(VERTEX_PATH, { status: 503, json: { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } } });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 22 } });
    const toAnthropic = await reverse.sdk.messages.countTokens({ ...params, model: VERTEX_MODEL }).withResponse();
    expect(toAnthropic.data).toEqual({ input_tokens: 22 });
    expect(toAnthropic.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(upstream.requests.map((r) => r.path)).toEqual([VERTEX_PATH, '/v1/messages/count_tokens']);
    expect(upstream.requests[1]!.json).toEqual({ ...params, model: 'claude-sonnet-4-6' });
    expect(upstream.requests[1]!.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expectNoSecrets(toAnthropic.data, Object.fromEntries(toAnthropic.response.headers.entries()));
  });

  it('a fallback passes over a target that cannot count and counts on Gemini; an OpenAI-only tree is still a 404 naming the counting providers', async () => {
    const { sdk } = await start({ strategy: { mode: 'fallback' }, targets: [{ provider: 'openai', api_key: 'sk-openai-up', custom_host: `${upstream.url}/v1` }, gemini()] });
    upstream.route(GEMINI_PATH, { json: { totalTokens: 5 } });
    const res = await sdk.messages.countTokens(params).withResponse();
    expect(res.data).toEqual({ input_tokens: 5 });
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(upstream.requests.map((r) => r.path)).toEqual([GEMINI_PATH]);

    upstream.reset();
    const alone = await start({ targets: [{ provider: 'openai', api_key: 'sk-openai-up', custom_host: `${upstream.url}/v1` }] });
    const refused = (await alone.sdk.messages.countTokens({ ...params, model: 'gpt-4o' }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(refused).toBeInstanceOf(Anthropic.NotFoundError);
    expect(refused.message).toContain('Gemini API, Vertex AI');
    expect(upstream.requests).toHaveLength(0);
  });
});
