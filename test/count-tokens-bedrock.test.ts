import Anthropic from '@anthropic-ai/sdk';
import { recentRequests } from '@llmux/core';
import { describe, expect, it } from 'vitest';
import { anthropicSuite } from './helpers/anthropic-suite.js';
import type { AppOptions } from './helpers/apps.js';
import type { MockUpstream, RecordedRequest } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

/**
 * `POST /v1/messages/count_tokens` answered by a Bedrock target serving Claude: Bedrock's CountTokens
 * (`POST /model/{modelId}/count-tokens`, `{"input":{"invokeModel":{"body":<base64>}}}`, answer
 * `{"inputTokens": n}`), relayed in Anthropic's shape. Models Bedrock cannot count for are never asked.
 */
let upstream: MockUpstream;

const CLIENT_KEY = 'sk-ant-client-side-key-bedrock';
const { start } = anthropicSuite(CLIENT_KEY, (u) => (upstream = u), { env: {} });
const ANTHROPIC_KEY = 'sk-ant-upstream-key-bedrock-1a2b';
const BEDROCK_API_KEY = 'ABSKbedrock-api-key-9f8e7d6c5b4a';
const AK = 'AKIAIOSFODNN7COUNTS';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYCOUNTKEY';
const ST = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDcountTokensSession';
const SECRETS = [ANTHROPIC_KEY, BEDROCK_API_KEY, SK, ST];

const CLAUDE = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const CLAUDE_PATH = '/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens';
const PROFILE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const PROFILE_PATH = '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens';
const LLAMA = 'meta.llama3-70b-instruct-v1:0';

const sigv4 = (over: Record<string, unknown> = {}) => ({
  provider: 'bedrock',
  aws_access_key_id: AK,
  aws_secret_access_key: SK,
  aws_session_token: ST,
  aws_region: 'eu-central-1',
  custom_host: upstream.url,
  ...over,
});
const bearer = (over: Record<string, unknown> = {}) => ({ provider: 'bedrock', api_key: BEDROCK_API_KEY, aws_region: 'us-east-1', custom_host: upstream.url, ...over });
const anthropic = (over: Record<string, unknown> = {}) => ({ provider: 'anthropic', api_key: ANTHROPIC_KEY, custom_host: `${upstream.url}/v1`, ...over });

const weather: Anthropic.Tool = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const params: Anthropic.MessageCountTokensParams = {
  model: CLAUDE,
  system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: 'Wetter in Zürich? ☃ 😀' }],
  tools: [weather],
  tool_choice: { type: 'auto' },
};


const bedrockCounts = () => upstream.requests.filter((r) => r.path.endsWith('/count-tokens'));
/** The InvokeModel body a CountTokens request carries, decoded. */
function invokeBody(req: RecordedRequest): Record<string, any> {
  expect(req.json).toEqual({ input: { invokeModel: { body: expect.any(String) } } });
  return JSON.parse(Buffer.from(req.json.input.invokeModel.body, 'base64').toString('utf8'));
}
/** Nothing the client can read (status line aside) holds a credential. */
function expectNoSecrets(...texts: unknown[]) {
  const all = JSON.stringify(texts);
  for (const secret of SECRETS) expect(all).not.toContain(secret);
}

describe('a Bedrock target serving Claude counts', () => {
  for (const kind of ['express5', 'koa3', 'nestjs']) {
    it(`${kind}: the SDK's countTokens gets Bedrock's count as input_tokens; the request is SigV4-signed CountTokens with the Claude InvokeModel body`, async () => {
      const { app, sdk } = await start({ targets: [sigv4()] }, {}, kind);
      upstream.route(CLAUDE_PATH, { json: { inputTokens: 1234 } });
      const res = await sdk.messages.countTokens(params).withResponse();
      expect(res.data).toEqual({ input_tokens: 1234 });
      expect(res.response.headers.get('x-llmux-provider')).toBe('bedrock');
      expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[0]');
      expect(res.response.headers.get('x-llmux-cost')).toBe('0');

      const [sent, ...more] = upstream.requests;
      expect(more).toHaveLength(0);
      expect(sent!.method).toBe('POST');
      expect(sent!.path).toBe(CLAUDE_PATH);
      expect(String(sent!.headers.authorization)).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7COUNTS\/\d{8}\/eu-central-1\/bedrock\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
      );
      expect(String(sent!.headers.authorization)).toMatch(/SignedHeaders=[^,]*x-amz-security-token/);
      expect(sent!.headers['x-amz-security-token']).toBe(ST);
      expect(sent!.headers['content-type']).toBe('application/json');
      expect(invokeBody(sent!)).toEqual({
        anthropic_version: 'bedrock-2023-05-31',
        max_tokens: 1,
        system: params.system,
        messages: params.messages,
        tools: params.tools,
        tool_choice: params.tool_choice,
      });
      // The client's key never goes upstream, the server's credentials never come back.
      expect(JSON.stringify(upstream.requests.map((r) => r.headers))).not.toContain(CLIENT_KEY);
      expectNoSecrets(res.data, Object.fromEntries(res.response.headers.entries()));
      await until(() => recentRequests(app.gateway).records.length === 1);
      const [record] = recentRequests(app.gateway).records;
      expect(record).toMatchObject({ route: 'count_tokens', status: 200, provider: 'bedrock', target: 'config.targets[0]' });
      expectNoSecrets(record);
    });
  }

  it('a Bedrock API key goes as Bearer; a thinking budget gets a max_tokens above it, the client\'s own is kept; only betas Bedrock takes go, in the body', async () => {
    const { sdk } = await start({ targets: [bearer({ anthropic_beta: 'interleaved-thinking-2025-05-14' })] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 40 } });
    const thinking = { ...params, thinking: { type: 'enabled' as const, budget_tokens: 2048 } };
    expect(await sdk.beta.messages.countTokens({ ...thinking, betas: ['token-counting-2024-11-01', 'context-1m-2025-08-07'] })).toEqual({ input_tokens: 40 });
    expect(await sdk.messages.countTokens({ ...params, max_tokens: 5 } as never)).toEqual({ input_tokens: 40 });
    const [withBetas, withMax] = bedrockCounts();
    expect(withBetas!.headers.authorization).toBe(`Bearer ${BEDROCK_API_KEY}`);
    expect(withBetas!.headers['x-amz-date']).toBeUndefined();
    const first = invokeBody(withBetas!);
    expect(first).toMatchObject({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 2049, thinking: { type: 'enabled', budget_tokens: 2048 } });
    // The target's own flag, then the client's that Bedrock documents; `token-counting-…` is first-party only.
    expect(first.anthropic_beta).toEqual(['interleaved-thinking-2025-05-14', 'context-1m-2025-08-07']);
    expect(withBetas!.headers['anthropic-beta']).toBeUndefined();
    expect(invokeBody(withMax!).max_tokens).toBe(5);
  });

  it('sends the target\'s model (override_params.model) and none of its other overrides, whichever bedrock_api the target uses', async () => {
    for (const bedrock_api of [undefined, 'converse', 'invoke']) {
      upstream.reset();
      const { sdk } = await start({ targets: [bearer({ ...(bedrock_api ? { bedrock_api } : {}), override_params: { model: CLAUDE, temperature: 0.2, max_tokens: 99, top_k: 3 } })] });
      upstream.route(CLAUDE_PATH, { json: { inputTokens: 7 } });
      expect(await sdk.messages.countTokens({ model: 'anything', messages: [{ role: 'user', content: 'Hi' }], stream: true } as never)).toEqual({ input_tokens: 7 });
      const [sent] = upstream.requests;
      expect(sent!.path).toBe(CLAUDE_PATH);
      expect(invokeBody(sent!)).toEqual({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 1, messages: [{ role: 'user', content: 'Hi' }] });
    }
  });

  it('AWS credentials from the environment sign the count, and never come back even when AWS quotes them', async () => {
    const env = { AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK, AWS_SESSION_TOKEN: ST, AWS_REGION: 'us-west-2' };
    const { app, sdk } = await start({ targets: [{ provider: 'bedrock', custom_host: upstream.url }] }, { env } as AppOptions);
    upstream.enqueue(CLAUDE_PATH, (req) => ({
      status: 403,
      headers: { 'x-amzn-errortype': 'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
      json: { message: `The request signature we calculated does not match. Canonical request: x-amz-security-token:${String(req.headers['x-amz-security-token'])} secret ${SK}` },
    }));
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 3 } });
    const error = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('signature we calculated') } });
    expectNoSecrets(error.error, Object.fromEntries(error.headers?.entries() ?? []));
    expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 3 });
    expect(String(bedrockCounts()[1]!.headers.authorization)).toMatch(/Credential=AKIAIOSFODNN7COUNTS\/\d{8}\/us-west-2\/bedrock\/aws4_request/);
    await until(() => recentRequests(app.gateway).records.length === 2);
    expectNoSecrets(recentRequests(app.gateway).records);
  });
});

describe('what Bedrock answers, relayed in Anthropic\'s shape', () => {
  /** Bedrock's refusal of a count for a model id it does not count under, quoting what signed it (as AWS errors may). */
  const notCounted = (req: RecordedRequest) => ({
    status: 400,
    headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
    json: { message: `The provided model doesn't support counting tokens. (signed with ${String(req.headers['x-amz-security-token'])}, ${SK})` },
  });

  it('a cross-region inference profile CountTokens refuses with a 400 is counted once more under its foundation model\'s id, both signed', async () => {
    const { sdk } = await start({ targets: [sigv4({ retry: { attempts: 2 } })] });
    upstream.route(PROFILE_PATH, notCounted);
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 777 } });
    const res = await sdk.messages.countTokens({ ...params, model: PROFILE }).withResponse();
    expect(res.data).toEqual({ input_tokens: 777 });
    expect(res.response.headers.get('x-llmux-retries')).toBe('0');
    const counts = bedrockCounts();
    expect(counts.map((r) => r.path)).toEqual([PROFILE_PATH, CLAUDE_PATH]);
    for (const sent of counts) {
      expect(String(sent.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7COUNTS\/\d{8}\/eu-central-1\/bedrock\/aws4_request/);
      expect(invokeBody(sent).messages).toEqual(params.messages);
    }
  });

  it('refused under both ids: an Anthropic 400 with Bedrock\'s first message and the second\'s after it, no credential in either', async () => {
    const { sdk } = await start({ targets: [sigv4({ retry: { attempts: 2 } })] });
    upstream.route(PROFILE_PATH, notCounted);
    upstream.route(CLAUDE_PATH, { status: 400, headers: { 'x-amzn-errortype': 'ValidationException' }, json: { message: 'The provided model identifier is invalid.' } });
    const error = (await sdk.messages.countTokens({ ...params, model: PROFILE }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const message = (error.error as { error: { message: string } }).error.message;
    expect(message).toContain("The provided model doesn't support counting tokens.");
    expect(message).toContain(`counted again as "${CLAUDE}": `);
    expect(message).toContain('The provided model identifier is invalid.');
    expect(error.error).not.toHaveProperty('input_tokens');
    expect(error.headers?.get('x-llmux-provider')).toBe('bedrock');
    expectNoSecrets(error.error, Object.fromEntries(error.headers?.entries() ?? []));
    expect(bedrockCounts().map((r) => r.path)).toEqual([PROFILE_PATH, CLAUDE_PATH]);
  });

  it('a system-defined profile\'s ARN falls back to the foundation model\'s id; a foundation id refused is asked once', async () => {
    const arn = `arn:aws:bedrock:eu-central-1:123456789012:inference-profile/${PROFILE}`;
    const { sdk } = await start({ targets: [sigv4()] });
    upstream.route(`/model/${encodeURIComponent(arn)}/count-tokens`, notCounted);
    upstream.enqueue(CLAUDE_PATH, { json: { inputTokens: 12 } });
    expect(await sdk.messages.countTokens({ ...params, model: arn })).toEqual({ input_tokens: 12 });
    expect(bedrockCounts().map((r) => r.path)).toEqual([`/model/${encodeURIComponent(arn)}/count-tokens`, CLAUDE_PATH]);

    upstream.reset();
    upstream.route(CLAUDE_PATH, notCounted);
    const refused = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect(JSON.stringify(refused.error)).not.toContain('counted again');
    expect(bedrockCounts().map((r) => r.path)).toEqual([CLAUDE_PATH]);
  });

  it('only a 400 asks again: a throttled or failing profile count is reported as it was, under the model as configured', async () => {
    const { sdk } = await start({ targets: [sigv4()] });
    upstream.enqueue(PROFILE_PATH, { status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException', 'retry-after': '3' }, json: { message: 'Too many requests, please wait before trying again.' } });
    const limited = (await sdk.messages.countTokens({ ...params, model: PROFILE }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    upstream.enqueue(PROFILE_PATH, { status: 500, headers: { 'x-amzn-errortype': 'InternalServerException' }, json: { message: 'Internal failure' } });
    const failed = (await sdk.messages.countTokens({ ...params, model: PROFILE }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect(bedrockCounts().map((r) => r.path)).toEqual([PROFILE_PATH, PROFILE_PATH]);
  });

  it('a throttled count is Anthropic\'s 429 with Retry-After', async () => {
    const { sdk } = await start({ targets: [bearer()] });
    upstream.enqueue(CLAUDE_PATH, { status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException', 'retry-after': '4' }, json: { message: 'Too many requests, please wait before trying again.' } });
    const limited = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: expect.stringContaining('Too many requests') } });
    expect(limited.headers?.get('retry-after')).toBe('4');
  });

  it('an answer without a non-negative integer inputTokens is a 502, never a made-up count', async () => {
    const { sdk } = await start({ targets: [bearer()] });
    for (const json of [{ tokens: 5 }, { input_tokens: 5 }, { inputTokens: -1 }, { inputTokens: '5' }, { inputTokens: 2.5 }, {}, null]) {
      upstream.enqueue(CLAUDE_PATH, { json });
      const bad = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
      expect(bad, JSON.stringify(json)).toBeInstanceOf(Anthropic.APIError);
      expect(bad.status).toBe(502);
      expect(bad.error).toMatchObject({ type: 'error' });
      expect(JSON.stringify(bad.error)).not.toContain('input_tokens":');
      expectNoSecrets(bad.error);
    }
  });
});

describe('routing among counting targets', () => {
  it('a failing Anthropic target falls back to Bedrock, and a failing Bedrock target to Anthropic', async () => {
    const { sdk } = await start({
      strategy: { mode: 'fallback' },
      targets: [anthropic(), bearer({ override_params: { model: CLAUDE } })],
    });
    upstream.route('/v1/messages/count_tokens', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 21 } });
    const toBedrock = await sdk.messages.countTokens({ ...params, model: 'claude-sonnet-4-6' }).withResponse();
    expect(toBedrock.data).toEqual({ input_tokens: 21 });
    expect(toBedrock.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(toBedrock.response.headers.get('x-llmux-provider')).toBe('bedrock');
    expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens', CLAUDE_PATH]);
    expect(upstream.requests[0]!.json.model).toBe('claude-sonnet-4-6');
    expect(invokeBody(upstream.requests[1]!).model).toBeUndefined();

    upstream.reset();
    const reverse = await start({
      strategy: { mode: 'fallback' },
      targets: [sigv4({ override_params: { model: CLAUDE } }), anthropic({ override_params: { model: 'claude-sonnet-4-6' } })],
    });
    upstream.route(CLAUDE_PATH, { status: 503, headers: { 'x-amzn-errortype': 'ServiceUnavailableException' }, json: { message: 'Service unavailable' } });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 22 } });
    const toAnthropic = await reverse.sdk.messages.countTokens(params).withResponse();
    expect(toAnthropic.data).toEqual({ input_tokens: 22 });
    expect(toAnthropic.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(upstream.requests.map((r) => r.path)).toEqual([CLAUDE_PATH, '/v1/messages/count_tokens']);
    expect(upstream.requests[1]!.json).toEqual({ ...params, model: 'claude-sonnet-4-6' });
    expect(upstream.requests[1]!.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expectNoSecrets(toBedrock.data, toAnthropic.data, Object.fromEntries(toAnthropic.response.headers.entries()));
  });

  it('a Bedrock target serving a model that is no Claude is never asked: the fallback moves on, and alone it is a 404', async () => {
    const { sdk } = await start({
      strategy: { mode: 'fallback' },
      targets: [bearer({ override_params: { model: LLAMA } }), { provider: 'openai', api_key: 'sk-openai-up', custom_host: `${upstream.url}/v1` }, anthropic()],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 13 } });
    const res = await sdk.messages.countTokens({ ...params, model: 'claude-sonnet-4-6' }).withResponse();
    expect(res.data).toEqual({ input_tokens: 13 });
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[2]');
    expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/messages/count_tokens']);

    upstream.reset();
    const alone = await start({ targets: [bearer()] });
    const refused = (await alone.sdk.messages.countTokens({ ...params, model: LLAMA }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(refused).toBeInstanceOf(Anthropic.NotFoundError);
    expect(refused.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('Claude') } });
    expect(refused.message).toContain(LLAMA);
    expect(upstream.requests).toHaveLength(0);
  });

  it('a load balancer never picks a Bedrock target whose configured model is no Claude: every count is answered', async () => {
    const { sdk } = await start({
      strategy: { mode: 'loadbalance' },
      targets: [bearer({ weight: 1, override_params: { model: LLAMA } }), bearer({ weight: 1, override_params: { model: CLAUDE } })],
    });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 21 } });
    for (let i = 0; i < 12; i++) {
      const res = await sdk.messages.countTokens(params).withResponse();
      expect(res.data).toEqual({ input_tokens: 21 });
      expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    }
    expect(new Set(upstream.requests.map((r) => r.path))).toEqual(new Set([CLAUDE_PATH]));
  });

  it('a load balancer counts through both Anthropic and Bedrock Claude targets, each answer in Anthropic\'s shape', async () => {
    const { sdk } = await start({
      strategy: { mode: 'loadbalance' },
      targets: [anthropic({ weight: 1, override_params: { model: 'claude-sonnet-4-6' } }), bearer({ weight: 1, override_params: { model: CLAUDE } })],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 30 } });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 30 } });
    const providers = new Set<string | null>();
    for (let i = 0; i < 24 && providers.size < 2; i++) {
      const res = await sdk.messages.countTokens(params).withResponse();
      expect(res.data).toEqual({ input_tokens: 30 });
      providers.add(res.response.headers.get('x-llmux-provider'));
    }
    expect([...providers].sort()).toEqual(['anthropic', 'bedrock']);
  });
});
