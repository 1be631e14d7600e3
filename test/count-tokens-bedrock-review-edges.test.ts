import Anthropic from '@anthropic-ai/sdk';
import type { Provider } from '@llmux/core';
import { describe, expect, it } from 'vitest';
import { anthropicSuite } from './helpers/anthropic-suite.js';
import type { AppOptions } from './helpers/apps.js';
import type { MockUpstream, RecordedRequest } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

/**
 * Review of `POST /v1/messages/count_tokens` on Bedrock targets serving Claude (CountTokens): unusual
 * bodies and their base64 encoding, beta flags from body and headers, credentials, Bedrock's error
 * shapes, the pruning of the routing tree (gateways sharing a config, custom providers, conditions,
 * weights, aliases), retries and a client that leaves. Express 5 adapter, the official SDK, a mock
 * upstream on 127.0.0.1.
 */
let upstream: MockUpstream;

const CLIENT_KEY = 'sk-ant-client-side-key-bedrock-review';
const { start } = anthropicSuite(CLIENT_KEY, (u) => (upstream = u), { env: {} });
const ANTHROPIC_KEY = 'sk-ant-upstream-key-bedrock-review-5e6f';
const BEDROCK_API_KEY = 'ABSKbedrock-review-api-key-0a1b2c3d4e5f';
const AK = 'AKIAIOSFODNN7REVIEWS';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYREVIEWKEY';

const CLAUDE = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const CLAUDE_PATH = '/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens';
const HAIKU = 'anthropic.claude-haiku-4-5-20251001-v1:0';
const HAIKU_PATH = '/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/count-tokens';
const LLAMA = 'meta.llama3-70b-instruct-v1:0';

const bearer = (over: Record<string, unknown> = {}) => ({ provider: 'bedrock', api_key: BEDROCK_API_KEY, aws_region: 'us-east-1', custom_host: upstream.url, ...over });
const sigv4 = (over: Record<string, unknown> = {}) => ({
  provider: 'bedrock',
  aws_access_key_id: AK,
  aws_secret_access_key: SK,
  aws_region: 'eu-west-1',
  custom_host: upstream.url,
  ...over,
});
const anthropic = (over: Record<string, unknown> = {}) => ({ provider: 'anthropic', api_key: ANTHROPIC_KEY, custom_host: `${upstream.url}/v1`, ...over });
const openai = (over: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: 'sk-openai-review', custom_host: `${upstream.url}/v1`, ...over });

const params: Anthropic.MessageCountTokensParams = { model: CLAUDE, messages: [{ role: 'user', content: 'Hello there' }] };


const bedrockCounts = () => upstream.requests.filter((r) => r.path.endsWith('/count-tokens'));
const anthropicCounts = () => upstream.requests.filter((r) => r.path === '/v1/messages/count_tokens');
/** The InvokeModel body a CountTokens request carries, decoded as UTF-8. */
function invokeBody(req: RecordedRequest): Record<string, any> {
  expect(req.json).toEqual({ input: { invokeModel: { body: expect.any(String) } } });
  return JSON.parse(Buffer.from(req.json.input.invokeModel.body, 'base64').toString('utf8'));
}
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as InstanceType<typeof Anthropic.APIError>);

describe('bodies as Bedrock takes them', () => {
  it('a large body of non-ASCII text (CJK, emoji, a lone surrogate) reaches Bedrock intact through the base64', async () => {
    const { sdk } = await start({ targets: [bearer()] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 99_999 } });
    // ~3 MB of UTF-8: 100 times the spread-argument chunk, characters of 1 to 4 bytes across chunk edges.
    const text = 'Grüße, 世界! 😀 ĳ ' .repeat(110_000) + '\ud800 end';
    const body = { ...params, system: 'Σύστημα ☃', messages: [{ role: 'user' as const, content: text }] };
    expect(await sdk.messages.countTokens(body)).toEqual({ input_tokens: 99_999 });
    const sent = invokeBody(bedrockCounts()[0]!);
    expect(sent.system).toBe('Σύστημα ☃');
    expect(sent.messages[0].content).toBe(text);
  });

  it('images, documents and tool turns go as the client sent them; model and stream never go in the body', async () => {
    const { sdk } = await start({ targets: [bearer()] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 2_345 } });
    const png = Buffer.from('\x89PNG\r\n\x1a\nfake').toString('base64');
    const pdf = Buffer.from('%PDF-1.4 fake').toString('base64');
    const messages: Anthropic.MessageParam[] = [
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'Spec', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'Summarise both.' },
        ],
      },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'found' }] }] },
    ];
    const tools: Anthropic.Tool[] = [{ name: 'lookup', input_schema: { type: 'object', properties: { q: { type: 'string' } } } }];
    expect(await sdk.messages.countTokens({ ...params, messages, tools, tool_choice: { type: 'tool', name: 'lookup' } })).toEqual({ input_tokens: 2_345 });
    expect(invokeBody(bedrockCounts()[0]!)).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 1,
      messages,
      tools,
      tool_choice: { type: 'tool', name: 'lookup' },
    });
  });

  it('max_tokens: the client\'s own is kept; without one, 1 or one above a thinking budget (never for a disabled or adaptive thinking)', async () => {
    const { sdk } = await start({ targets: [bearer()] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 8 } });
    const cases: Array<[Record<string, unknown>, number]> = [
      [{}, 1],
      [{ max_tokens: 4096 }, 4096],
      [{ thinking: { type: 'enabled', budget_tokens: 1024 } }, 1025],
      [{ thinking: { type: 'enabled', budget_tokens: 16_000 }, max_tokens: 20_000 }, 20_000],
      [{ thinking: { type: 'disabled' } }, 1],
    ];
    for (const [extra] of cases) expect(await sdk.messages.countTokens({ ...params, ...extra } as never)).toEqual({ input_tokens: 8 });
    expect(bedrockCounts().map((r) => invokeBody(r).max_tokens)).toEqual(cases.map(([, n]) => n));
    expect(bedrockCounts().map((r) => invokeBody(r).thinking)).toEqual(cases.map(([extra]) => extra.thinking));
  });

  it('beta flags from the body (string or list), anthropic-beta and x-portkey-anthropic-beta go in the body, each once, only those Bedrock takes; none as a header', async () => {
    const { sdk } = await start({ targets: [bearer()] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 4 } });
    await sdk.messages.countTokens({ ...params, anthropic_beta: 'context-1m-2025-08-07, oauth-2025-04-20' } as never, {
      headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14,token-counting-2024-11-01', 'x-portkey-anthropic-beta': 'context-1m-2025-08-07,effort-2025-11-24' },
    });
    await sdk.messages.countTokens({ ...params, anthropic_beta: ['oauth-2025-04-20'] } as never);
    const [mixed, firstPartyOnly] = bedrockCounts();
    expect(invokeBody(mixed!).anthropic_beta).toEqual(['context-1m-2025-08-07', 'effort-2025-11-24', 'interleaved-thinking-2025-05-14']);
    expect(mixed!.headers['anthropic-beta']).toBeUndefined();
    expect(invokeBody(firstPartyOnly!)).not.toHaveProperty('anthropic_beta');
  });
});

describe('credentials and errors', () => {
  it('a target\'s own keys and region win over the environment\'s; the environment\'s region serves a target without one', async () => {
    const env = { AWS_ACCESS_KEY_ID: 'AKIAENVIRONMENTKEY01', AWS_SECRET_ACCESS_KEY: 'env-secret-never-used', AWS_REGION: 'ap-southeast-2' };
    const { sdk } = await start({ strategy: { mode: 'fallback' }, targets: [sigv4(), sigv4({ aws_region: undefined })] }, { env } as AppOptions);
    upstream.enqueue(CLAUDE_PATH, { status: 500, headers: { 'x-amzn-errortype': 'InternalServerException' }, json: { message: 'boom' } });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 6 } });
    expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 6 });
    const [own, envRegion] = bedrockCounts();
    expect(String(own!.headers.authorization)).toMatch(/Credential=AKIAIOSFODNN7REVIEWS\/\d{8}\/eu-west-1\/bedrock\/aws4_request/);
    expect(String(envRegion!.headers.authorization)).toMatch(/Credential=AKIAIOSFODNN7REVIEWS\/\d{8}\/ap-southeast-2\/bedrock\/aws4_request/);
  });

  it('Bedrock\'s error shapes reach the client in Anthropic\'s: {"Message"} from the front door, a non-JSON 502, a 404 for an unknown model', async () => {
    const { sdk } = await start({ targets: [sigv4()] });
    upstream.enqueue(CLAUDE_PATH, { status: 403, json: { Message: `User: arn:aws:iam::123:user/x is not authorized (key ${SK})` } });
    upstream.enqueue(CLAUDE_PATH, { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>Bad Gateway</html>' });
    upstream.enqueue(CLAUDE_PATH, { status: 404, headers: { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, json: { message: 'Model not found.' } });
    const denied = await failure(sdk.messages.countTokens(params));
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(denied!.error).toMatchObject({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('is not authorized') } });
    expect(JSON.stringify(denied!.error)).not.toContain(SK);
    const proxy = await failure(sdk.messages.countTokens(params));
    expect(proxy!.status).toBe(502);
    expect(proxy!.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    const missing = await failure(sdk.messages.countTokens(params));
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect(missing!.error).toMatchObject({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('Model not found.') } });
    expect(bedrockCounts()).toHaveLength(3);
  });

  it('Portkey\'s x-portkey-provider: bedrock with its aws headers signs the count with the client\'s keys, which never come back; without allowedHosts its host is refused', async () => {
    const CLIENT_SK = 'clientSecretKeyForBedrockCountsReview/0123';
    const headers = {
      'x-portkey-provider': 'bedrock',
      'x-portkey-custom-host': upstream.url,
      'x-portkey-aws-access-key-id': 'AKIACLIENTOWNKEY0001',
      'x-portkey-aws-secret-access-key': CLIENT_SK,
      'x-portkey-aws-region': 'ca-central-1',
    };
    const { sdk } = await start({ targets: [anthropic()] }, { allowRequestConfig: true, allowedHosts: ['127.0.0.1'] } as AppOptions);
    upstream.enqueue(CLAUDE_PATH, { status: 403, headers: { 'x-amzn-errortype': 'UnrecognizedClientException' }, json: { message: `The security token included in the request is invalid (${CLIENT_SK})` } });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 15 } });
    const denied = await failure(sdk.messages.countTokens(params, { headers }));
    expect(denied).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(JSON.stringify(denied!.error)).not.toContain(CLIENT_SK);
    const res = await sdk.messages.countTokens(params, { headers }).withResponse();
    expect(res.data).toEqual({ input_tokens: 15 });
    expect(res.response.headers.get('x-llmux-provider')).toBe('bedrock');
    expect(String(bedrockCounts()[1]!.headers.authorization)).toMatch(/Credential=AKIACLIENTOWNKEY0001\/\d{8}\/ca-central-1\/bedrock\/aws4_request/);
    expect(anthropicCounts()).toHaveLength(0);

    const strict = await start({ targets: [anthropic()] }, { allowRequestConfig: true });
    const refused = await failure(strict.sdk.messages.countTokens(params, { headers }));
    expect(refused!.status).toBeGreaterThanOrEqual(400);
    expect(refused!.status).toBeLessThan(500);
    expect(upstream.requests).toHaveLength(2);
  });

  it('retries a throttled count on the target\'s retry settings, and says so in x-llmux-retries', async () => {
    const { sdk } = await start({ targets: [bearer({ retry: { attempts: 2, on_status_codes: [429] } })] });
    upstream.enqueue(CLAUDE_PATH, { status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException', 'retry-after': '0' }, json: { message: 'Too many tokens' } });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 12 } });
    const res = await sdk.messages.countTokens(params).withResponse();
    expect(res.data).toEqual({ input_tokens: 12 });
    expect(res.response.headers.get('x-llmux-retries')).toBe('1');
    expect(bedrockCounts()).toHaveLength(2);
  });

  it('a client that leaves stops the Bedrock count upstream', async () => {
    const { sdk } = await start({ targets: [bearer()] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 1 }, delayMs: 5_000 });
    const controller = new AbortController();
    const pending = failure(sdk.messages.countTokens(params, { signal: controller.signal }));
    await until(() => bedrockCounts().length === 1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Anthropic.APIUserAbortError);
    await until(() => upstream.aborted === 1);
  });
});

describe('which targets count', () => {
  it('two gateways sharing one config object: one whose "bedrock" is a custom provider without countTokens refuses, the other counts, in either order', async () => {
    const config = { strategy: { mode: 'fallback' }, targets: [bearer({ override_params: { model: CLAUDE } })] };
    const plain = await start(config);
    const builtin = plain.app.gateway.internals.registry.get('bedrock')!;
    const { countTokens: _dropped, ...withoutCount } = builtin;
    const custom = await start(config, { customProviders: [withoutCount as Provider] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 17 } });
    for (let i = 0; i < 2; i++) {
      expect(await plain.sdk.messages.countTokens(params)).toEqual({ input_tokens: 17 });
      expect(await failure(custom.sdk.messages.countTokens(params))).toBeInstanceOf(Anthropic.NotFoundError);
    }
    const late = await start(config);
    expect(await late.sdk.messages.countTokens(params)).toEqual({ input_tokens: 17 });
    expect(bedrockCounts()).toHaveLength(3);
  });

  it('a custom provider under a built-in id counts in its own way (its accepts, its request)', async () => {
    const seen: string[] = [];
    const { app: probe } = await start({ targets: [anthropic()] });
    const base = probe.gateway.internals.registry.get('anthropic')!;
    const custom: Provider = {
      ...base,
      countTokens: {
        request: (body, ctx) => {
          seen.push(ctx.model);
          return { url: `${ctx.target.baseURL}/messages/count_tokens`, method: 'POST', headers: { 'content-type': 'application/json', 'x-custom': '1' }, body: JSON.stringify({ ...body, model: ctx.model }) };
        },
        response: (json) => ({ input_tokens: (json as { tokens: number }).tokens }),
        accepts: (model) => model.startsWith('claude-'),
      },
    };
    const { sdk } = await start(
      { strategy: { mode: 'loadbalance' }, targets: [anthropic({ override_params: { model: 'not-claude' } }), anthropic({ override_params: { model: 'claude-opus-4-1' } })] },
      { customProviders: [custom] },
    );
    upstream.route('/v1/messages/count_tokens', { json: { tokens: 31 } });
    for (let i = 0; i < 8; i++) expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 31 });
    expect(new Set(seen)).toEqual(new Set(['claude-opus-4-1']));
    expect(anthropicCounts().every((r) => r.headers['x-custom'] === '1')).toBe(true);
  });

  it('a conditional branch serving a non-Claude Bedrock model refuses with nothing sent; the other branch counts on Bedrock', async () => {
    const { sdk } = await start({
      strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': { $eq: 'cheap' } }, then: 'llama' }], default: 'claude' },
      targets: [
        { name: 'llama', ...bearer({ override_params: { model: LLAMA } }) },
        { name: 'claude', ...bearer({ override_params: { model: CLAUDE } }) },
      ],
    });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 10 } });
    const cheap = await failure(sdk.messages.countTokens(params, { headers: { 'x-llmux-metadata': JSON.stringify({ tier: 'cheap' }) } }));
    expect(cheap).toBeInstanceOf(Anthropic.NotFoundError);
    expect(upstream.requests).toHaveLength(0);
    const res = await sdk.messages.countTokens(params).withResponse();
    expect(res.data).toEqual({ input_tokens: 10 });
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });

  it('a weight-0 Bedrock target is out of rotation for counts too; in an all-zero group it counts', async () => {
    const { sdk } = await start({
      strategy: { mode: 'loadbalance' },
      targets: [bearer({ weight: 0, override_params: { model: HAIKU } }), bearer({ weight: 2, override_params: { model: CLAUDE } })],
    });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 3 } });
    upstream.route(HAIKU_PATH, { json: { inputTokens: 4 } });
    for (let i = 0; i < 10; i++) expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 3 });
    const zeros = await start({ strategy: { mode: 'loadbalance' }, targets: [openai({ weight: 0 }), bearer({ weight: 0, override_params: { model: HAIKU } })] });
    expect(await zeros.sdk.messages.countTokens(params)).toEqual({ input_tokens: 4 });
    expect(bedrockCounts().map((r) => r.path)).toEqual([...Array(10).fill(CLAUDE_PATH), HAIKU_PATH]);
  });

  it('without a config, "bedrock/<claude>" counts on Bedrock with the environment\'s key and region; "bedrock/<llama>" is a 404 with nothing sent', async () => {
    const env = { AWS_BEARER_TOKEN_BEDROCK: BEDROCK_API_KEY, AWS_REGION: 'us-west-2' };
    const { sdk } = await start(undefined as never, { env, providers: { bedrock: { baseURL: upstream.url } } } as AppOptions);
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 27 } });
    expect(await sdk.messages.countTokens({ ...params, model: `bedrock/${CLAUDE}` })).toEqual({ input_tokens: 27 });
    expect(bedrockCounts()[0]!.headers.authorization).toBe(`Bearer ${BEDROCK_API_KEY}`);
    const llama = await failure(sdk.messages.countTokens({ ...params, model: `bedrock/${LLAMA}` }));
    expect(llama).toBeInstanceOf(Anthropic.NotFoundError);
    expect(llama!.message).toContain(LLAMA);
    expect(upstream.requests).toHaveLength(1);
  });

  it('an alias that names a Claude model on Bedrock counts there, with that model in the path', async () => {
    const { sdk } = await start({ model_aliases: { sonnet: CLAUDE }, targets: [bearer()] });
    upstream.route(CLAUDE_PATH, { json: { inputTokens: 14 } });
    expect(await sdk.messages.countTokens({ ...params, model: 'sonnet' })).toEqual({ input_tokens: 14 });
    expect(bedrockCounts().map((r) => r.path)).toEqual([CLAUDE_PATH]);
  });
});

describe('fixed bugs (each test failed before its fix)', () => {
  it('an alias that names a non-Claude Bedrock model: a load balancer counts every time through its Anthropic target', async () => {
    // BUG: countingOnly pruned a Bedrock target only by its override_params.model; one without an
    // override is asked for the alias's model (upstreamModel), a Llama, so the load balancer picked it
    // half the time and the count was a 404 ("counts for Anthropic Claude models only") although the
    // Anthropic target could count — packages/core/src/ingress/anthropic-messages/count-tokens.ts:47-48
    const { sdk } = await start({
      model_aliases: { mix: LLAMA },
      strategy: { mode: 'loadbalance' },
      targets: [bearer({ weight: 1 }), anthropic({ weight: 1, override_params: { model: 'claude-haiku-4-5' } })],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 21 } });
    for (let i = 0; i < 12; i++) {
      const res = await sdk.messages.countTokens({ ...params, model: 'mix' }).withResponse();
      expect(res.data).toEqual({ input_tokens: 21 });
      expect(res.response.headers.get('x-llmux-provider')).toBe('anthropic');
    }
    expect(bedrockCounts()).toHaveLength(0);
  });

  it('an alias that names a non-Claude Bedrock model: a fallback with on_status_codes passes over that target to one that counts', async () => {
    // BUG: same root: the Bedrock target stayed in the tree, refused with a 404 before sending, and the
    // fallback took that 404 for the answer (it is not among on_status_codes) — count-tokens.ts:47-48
    const { sdk } = await start({
      model_aliases: { fast: LLAMA },
      strategy: { mode: 'fallback', on_status_codes: [429, 500, 502, 503, 529] },
      targets: [bearer(), anthropic({ override_params: { model: 'claude-haiku-4-5' } })],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 9 } });
    const res = await sdk.messages.countTokens({ ...params, model: 'fast' }).withResponse();
    expect(res.data).toEqual({ input_tokens: 9 });
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(anthropicCounts()[0]!.json.model).toBe('claude-haiku-4-5');
    expect(bedrockCounts()).toHaveLength(0);
  });
});
