import Anthropic from '@anthropic-ai/sdk';
import { recentRequests } from '@llmux/core';
import { describe, expect, it } from 'vitest';
import { anthropicSuite } from './helpers/anthropic-suite.js';
import type { AppOptions } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import type { MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

/**
 * `POST /v1/messages/count_tokens` (`messages.countTokens` in the Anthropic SDKs, Claude Code's context
 * meter): counted by the Anthropic target the request routes to, never by a generation, a guess or the
 * cache.
 */
let upstream: MockUpstream;

const CLIENT_KEY = 'sk-ant-client-side-key';
const { start } = anthropicSuite(CLIENT_KEY, (u) => (upstream = u));
const UPSTREAM_KEY = 'sk-ant-upstream-key';
const anthropic = (over: Record<string, unknown> = {}) => ({ provider: 'anthropic', api_key: UPSTREAM_KEY, custom_host: `${upstream.url}/v1`, ...over });
const openai = () => ({ provider: 'openai', api_key: 'sk-openai-upstream', custom_host: `${upstream.url}/v1` });

const weather: Anthropic.Tool = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const params: Anthropic.MessageCountTokensParams = {
  model: 'claude-sonnet-4-6',
  system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
  tools: [weather],
  tool_choice: { type: 'auto' },
  thinking: { type: 'enabled', budget_tokens: 1024 },
};


const counts = () => upstream.requests.filter((r) => r.path === '/v1/messages/count_tokens');

describe('an Anthropic target counts', () => {
  for (const kind of ['express5', 'koa3', 'nestjs']) {
    it(`${kind}: the SDK's countTokens gets Anthropic's count; the body goes upstream as sent, with the target's key and the client's betas`, async () => {
      const { sdk } = await start({ targets: [anthropic()] }, {}, kind);
      upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 421 } });
      const res = await sdk.messages.countTokens(params, { headers: { 'anthropic-version': '2025-01-01' } }).withResponse();
      expect(res.data).toEqual({ input_tokens: 421 });
      expect(res.response.headers.get('x-llmux-provider')).toBe('anthropic');
      expect(res.response.headers.get('x-llmux-trace-id')).toBeTruthy();
      const [sent, ...more] = counts();
      expect(more).toHaveLength(0);
      expect(sent!.json).toEqual(params);
      expect(sent!.headers['x-api-key']).toBe(UPSTREAM_KEY);
      // The version the client speaks goes on, as on /v1/messages (not the gateway's default).
      expect(sent!.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(sent!.headers['anthropic-version']).toBe('2025-01-01');
      // Claude Code's form: the beta path and header.
      const beta = await sdk.beta.messages.countTokens({ ...params, betas: ['token-counting-2024-11-01'] });
      expect(beta).toEqual({ input_tokens: 421 });
      expect(String(counts()[1]!.headers['anthropic-beta'])).toContain('token-counting-2024-11-01');
      expect(JSON.stringify(upstream.requests.map((r) => r.headers))).not.toContain(CLIENT_KEY);
      expect(res.response.headers.get('x-llmux-cost')).toBe('0');
    });
  }

  it('sends the target\'s model (an alias, a target override) and none of its generation overrides', async () => {
    const { sdk } = await start({ targets: [anthropic({ override_params: { model: 'claude-opus-4-1', temperature: 0.2, max_tokens: 99 } })] });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 7 } });
    expect(await sdk.messages.countTokens({ model: 'anything', messages: [{ role: 'user', content: 'Hi' }] })).toEqual({ input_tokens: 7 });
    expect(counts()[0]!.json).toEqual({ model: 'claude-opus-4-1', messages: [{ role: 'user', content: 'Hi' }] });
  });

  it('falls over past targets that cannot count (nothing sent to them) and past a failing Anthropic target', async () => {
    const { sdk } = await start({
      strategy: { mode: 'fallback' },
      targets: [openai(), anthropic({ custom_host: `${upstream.url}/down/v1` }), anthropic()],
    });
    upstream.route('/down/v1/messages/count_tokens', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 12 } });
    const res = await sdk.messages.countTokens(params).withResponse();
    expect(res.data).toEqual({ input_tokens: 12 });
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[2]');
    expect(upstream.requests.map((r) => r.path)).toEqual(['/down/v1/messages/count_tokens', '/v1/messages/count_tokens']);
  });

  it('a load balancer picks among its Anthropic targets only; a conditional branch without one is a 404', async () => {
    const { sdk } = await start({
      strategy: { mode: 'loadbalance' },
      targets: [{ ...openai(), weight: 9 }, { ...anthropic(), weight: 1 }],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 5 } });
    for (let i = 0; i < 8; i++) expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 5 });
    expect(upstream.requests.map((r) => r.path)).toEqual(Array(8).fill('/v1/messages/count_tokens'));

    upstream.reset();
    const routed = await start({
      strategy: { mode: 'conditional', conditions: [{ query: { 'params.model': { $regex: '^claude' } }, then: 'claude' }], default: 'gpt' },
      targets: [
        { name: 'gpt', ...openai() },
        { name: 'claude', ...anthropic() },
      ],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 6 } });
    expect(await routed.sdk.messages.countTokens(params)).toEqual({ input_tokens: 6 });
    const refused = await routed.sdk.messages.countTokens({ ...params, model: 'gpt-4o' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.NotFoundError);
    expect((refused as Anthropic.APIError).message).toContain('config.targets[0] is openai');
    expect(upstream.requests).toHaveLength(1);
  });

  it('relays Anthropic\'s refusal in its shape, and turns an answer without a count into a provider error, never a made-up number', async () => {
    const { sdk } = await start({ targets: [anthropic()] });
    upstream.enqueue('/v1/messages/count_tokens', { status: 429, headers: { 'retry-after': '7' }, json: { type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } } });
    const limited = await sdk.messages.countTokens(params).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Anthropic.RateLimitError);
    expect((limited as Anthropic.APIError).headers?.get('retry-after')).toBe('7');
    for (const json of [{ tokens: 5 }, { input_tokens: -1 }, { input_tokens: '5' }, null]) {
      upstream.enqueue('/v1/messages/count_tokens', { json });
      const bad = await sdk.messages.countTokens(params).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(Anthropic.APIError);
      expect((bad as Anthropic.APIError).status).toBe(502);
      expect(JSON.stringify((bad as Anthropic.APIError).error)).not.toContain('input_tokens":');
    }
  });

  it('stops the upstream call when the client leaves', async () => {
    const { sdk } = await start({ targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { hang: true });
    const controller = new AbortController();
    const pending = sdk.messages.countTokens(params, { signal: controller.signal }).catch((e: unknown) => e);
    await until(() => counts().length === 1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Anthropic.APIUserAbortError);
    await until(() => upstream.aborted === 1);
  });
});

describe('the mock provider counts', () => {
  it('as it bills: a count of a body equals the input tokens of the message made of the same body, with nothing sent anywhere', async () => {
    const { sdk } = await start({ targets: [{ provider: 'mock' }] });
    const body = { system: 'You are terse.', messages: [{ role: 'user' as const, content: 'How many tokens is this question, roughly?' }] };
    const counted = await sdk.messages.countTokens({ model: 'claude-sonnet-4-6', ...body });
    const message = await sdk.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, ...body });
    expect(counted.input_tokens).toBeGreaterThan(1);
    expect(counted.input_tokens).toBe(message.usage.input_tokens);
    const longer = await sdk.messages.countTokens({ model: 'claude-sonnet-4-6', ...body, messages: [...body.messages, { role: 'assistant', content: 'About ten.' }, { role: 'user', content: 'And now?' }] });
    expect(longer.input_tokens).toBeGreaterThan(counted.input_tokens);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('what a count is not', () => {
  it('a 404 in Anthropic\'s shape when the model routes to no Anthropic target; nothing goes upstream', async () => {
    const { sdk } = await start({ targets: [openai()] });
    const error = await sdk.messages.countTokens({ ...params, model: 'gpt-4o' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as Anthropic.APIError).message).toContain('targets that can count tokens (Anthropic, Bedrock serving Claude, Gemini API, Vertex AI) only');
    expect(upstream.requests).toHaveLength(0);
  });

  it('a 400 naming the field for a bad body, before anything goes upstream', async () => {
    const { app } = await start({ targets: [anthropic()] });
    for (const [body, param] of [
      [{ model: 'claude-sonnet-4-6' }, 'messages'],
      [{ messages: [{ role: 'user', content: 'Hi' }] }, 'model'],
      [{ model: 'claude-sonnet-4-6', messages: [{ role: 'robot', content: 'Hi' }] }, 'messages[0].role'],
    ] as const) {
      const res = await fetch(`${app.gatewayURL}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(400);
      const json = (await res.json()) as { type: string; error: { type: string; message: string } };
      expect(json).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      expect(json.error.message).toContain(param);
    }
    const broken = await fetch(`${app.gatewayURL}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":' });
    expect(broken.status).toBe(400);
    expect(upstream.requests).toHaveLength(0);
  });

  it('not a generation: no rate limit or budget counts it, no cache entry is read or written; it is recorded', async () => {
    // Budgets and rate limits are one stage (checked and reserved in one store call), which a count skips.
    const { app, sdk } = await start({ targets: [anthropic()], cache: { mode: 'simple' }, rate_limit: { requests_per_minute: 1 } }, { identify: () => ({ user: 'u1' }) });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 9 } });
    upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    for (let i = 0; i < 3; i++) expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 9 });
    // The one request a minute the limit allows is still there for the generation, which the cache has never seen.
    const message = await sdk.messages.create({ ...params, max_tokens: 64 }).withResponse();
    expect(message.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(upstream.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(1);
    // The limit is live: a second generation in the minute is refused.
    expect(await sdk.messages.create({ ...params, max_tokens: 65 }).catch((e: unknown) => e)).toBeInstanceOf(Anthropic.RateLimitError);
    await until(() => recentRequests(app.gateway).records.length === 5);
    const routes = recentRequests(app.gateway).records.map((r) => r.route);
    expect(routes.filter((r) => r === 'count_tokens')).toHaveLength(3);
  });

  it('a gateway key is required, and its model list holds', async () => {
    const auth = { keys: [{ key: 'gk-open-0123456789abcdef', name: 'open' }, { key: 'gk-narrow-0123456789abcdef', name: 'narrow', models: ['gpt-*'] }] };
    const { app } = await start({ targets: [anthropic()] }, { auth } as AppOptions);
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 3 } });
    const as = (key: string) => new Anthropic({ baseURL: app.gatewayURL, apiKey: key, maxRetries: 0 }).messages.countTokens(params);
    expect(await as('gk-open-0123456789abcdef')).toEqual({ input_tokens: 3 });
    const keyless = await fetch(`${app.gatewayURL}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) });
    expect(keyless.status).toBe(401);
    expect(await keyless.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    expect(await as('gk-narrow-0123456789abcdef').catch((e: unknown) => e)).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(counts()).toHaveLength(1);
    expect(counts()[0]!.headers['x-api-key']).toBe(UPSTREAM_KEY);
  });
});
