import Anthropic from '@anthropic-ai/sdk';
import { recentRequests } from '@llmux/core';
import { describe, expect, it } from 'vitest';
import { anthropicSuite } from './helpers/anthropic-suite.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import type { MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

/**
 * Review of `POST /v1/messages/count_tokens`: every adapter, keys, routing (aliases, overrides,
 * retries, circuit breakers, timeouts, weights, conditions), limits on bodies, headers, records,
 * metrics, request configs and shutdown. `works` pins what holds; each `bugs` test asserts the
 * correct behaviour and fails today.
 */
let upstream: MockUpstream;

const CLIENT_KEY = 'sk-ant-client-side-key-review';
const { start } = anthropicSuite(CLIENT_KEY, (u) => (upstream = u));
const UPSTREAM_KEY = 'sk-ant-upstream-key-review-7f3e9a';
const OPENAI_KEY = 'sk-openai-upstream-review-4c2d1b';
const anthropic = (over: Record<string, unknown> = {}) => ({ provider: 'anthropic', api_key: UPSTREAM_KEY, custom_host: `${upstream.url}/v1`, ...over });
const openai = (over: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: OPENAI_KEY, custom_host: `${upstream.url}/v1`, ...over });

const params: Anthropic.MessageCountTokensParams = {
  model: 'claude-sonnet-4-6',
  system: 'You are terse.',
  messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
};
const weather: Anthropic.Tool = { name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };


const counts = () => upstream.requests.filter((r) => r.path.startsWith('/v1/messages/count_tokens'));
const post = (app: TestApp, body: unknown, headers: Record<string, string> = {}, path = '/v1/messages/count_tokens') =>
  fetch(`${app.gatewayURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('works', () => {
  for (const kind of Object.keys(appFactories)) {
    it(`${kind}: a gateway key as x-api-key (the SDK) or Authorization counts, beta path too; the provider key never comes back`, async () => {
      const auth = { keys: [{ key: 'gk-review-0123456789abcdef', name: 'review' }] };
      const { app } = await start({ targets: [anthropic()] }, { auth } as AppOptions, kind);
      upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 33 } });
      const sdk = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'gk-review-0123456789abcdef', maxRetries: 0 });
      const res = await sdk.messages.countTokens({ ...params, tools: [weather] }).withResponse();
      expect(res.data).toEqual({ input_tokens: 33 });
      expect(res.response.headers.get('x-llmux-provider')).toBe('anthropic');
      expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[0]');
      expect(res.response.headers.get('x-llmux-cache')).toBe('DISABLED');
      expect(res.response.headers.get('x-llmux-retries')).toBe('0');
      expect(res.response.headers.get('x-llmux-trace-id')).toBeTruthy();
      expect(await sdk.beta.messages.countTokens({ ...params, betas: ['token-counting-2024-11-01'] })).toEqual({ input_tokens: 33 });
      const bearer = await post(app, params, { authorization: 'Bearer gk-review-0123456789abcdef' });
      expect(bearer.status).toBe(200);
      expect(await bearer.json()).toEqual({ input_tokens: 33 });
      expect(counts()).toHaveLength(3);
      for (const sent of counts()) {
        expect(sent.headers['x-api-key']).toBe(UPSTREAM_KEY);
        expect(sent.headers.authorization).toBeUndefined();
      }
      const headerText = JSON.stringify(Object.fromEntries(res.response.headers.entries()));
      expect(headerText).not.toContain(UPSTREAM_KEY);
      expect(JSON.stringify(upstream.requests.map((r) => r.headers))).not.toContain('gk-review-0123456789abcdef');
      // A wrong key is Anthropic's 401.
      const wrong = await new Anthropic({ baseURL: app.gatewayURL, apiKey: 'gk-wrong', maxRetries: 0 }).messages.countTokens(params).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
      expect(counts()).toHaveLength(3);
    });

    it(`${kind}: GET and HEAD on the path are a 405 with Allow: POST; a bad body is a 400, never a 500`, async () => {
      const { app } = await start({ targets: [anthropic()] }, {}, kind);
      for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
        const res = await fetch(`${app.gatewayURL}/v1/messages/count_tokens`, { method });
        expect(res.status, method).toBe(405);
        expect(res.headers.get('allow')).toBe('POST');
        if (method !== 'HEAD') expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      }
      // Top-level non-objects: Express's and Koa's strict JSON parsers refuse some before the gateway sees them (their own 400 page).
      for (const body of ['[]', 'null', '"x"', '{"model":', '{"model":"claude-sonnet-4-6","messages":"hi"}', '{"model":5,"messages":[]}']) {
        const res = await post(app, body);
        expect(res.status, body).toBe(400);
        if (body.startsWith('{"model":"') || body.startsWith('{"model":5')) expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
      }
      expect(upstream.requests).toHaveLength(0);
    });
  }

  it('an alias and a target override_params.model both pick the model sent upstream; the request model is the client\'s in the record', async () => {
    const { app, sdk } = await start({
      model_aliases: { counter: 'claude-opus-4-1' },
      strategy: { mode: 'fallback' },
      targets: [anthropic({ custom_host: `${upstream.url}/down/v1` }), anthropic({ override_params: { model: 'claude-haiku-4-5', top_k: 3 } })],
    });
    upstream.route('/down/v1/messages/count_tokens', { status: 500, json: { type: 'error', error: { type: 'api_error', message: 'boom' } } });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 4 } });
    expect(await sdk.messages.countTokens({ ...params, model: 'counter' })).toEqual({ input_tokens: 4 });
    const [first, second] = upstream.requests;
    expect(first!.json.model).toBe('claude-opus-4-1');
    expect(second!.json).toEqual({ ...params, model: 'claude-haiku-4-5' });
    await until(() => recentRequests(app.gateway).records.length === 1);
    const [record] = recentRequests(app.gateway).records;
    expect(record).toMatchObject({ route: 'count_tokens', status: 200, requested_model: 'counter', provider: 'anthropic', target: 'config.targets[1]' });
  });

  it('without a config the model name picks Anthropic (providers defaults); a gpt model is a 404 with nothing sent', async () => {
    const { sdk } = await start(undefined as never, { providers: { anthropic: { baseURL: `${upstream.url}/v1`, apiKey: UPSTREAM_KEY }, openai: { baseURL: `${upstream.url}/v1`, apiKey: OPENAI_KEY } }, env: {} } as AppOptions);
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 8 } });
    expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 8 });
    expect(await sdk.messages.countTokens({ ...params, model: 'anthropic/claude-sonnet-4-6' })).toEqual({ input_tokens: 8 });
    expect(counts().map((r) => r.json.model)).toEqual(['claude-sonnet-4-6', 'claude-sonnet-4-6']);
    const gpt = await sdk.messages.countTokens({ ...params, model: 'gpt-4o' }).catch((e: unknown) => e);
    expect(gpt).toBeInstanceOf(Anthropic.NotFoundError);
    expect(upstream.requests).toHaveLength(2);
  });

  it('retries a 529 and honours a 429\'s Retry-After, with x-llmux-retries counting them', async () => {
    const { sdk } = await start({ targets: [anthropic({ retry: { attempts: 2 } })] });
    upstream.enqueue(
      '/v1/messages/count_tokens',
      { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } },
      { status: 429, headers: { 'retry-after': '1' }, json: { type: 'error', error: { type: 'rate_limit_error', message: 'Slow down' } } },
    );
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 10 } });
    const started = Date.now();
    const res = await sdk.messages.countTokens(params).withResponse();
    expect(res.data).toEqual({ input_tokens: 10 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(res.response.headers.get('x-llmux-retries')).toBe('2');
    expect(counts()).toHaveLength(3);
  });

  it('a 529 that outlasts the retries is the SDK\'s overloaded error, in Anthropic\'s shape with its type', async () => {
    const { sdk } = await start({ targets: [anthropic({ retry: { attempts: 1 } })] });
    upstream.route('/v1/messages/count_tokens', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const error = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error.status).toBe(529);
    expect(error.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(error.headers?.get('x-llmux-retries')).toBe('1');
    expect(error.headers?.get('x-llmux-provider')).toBe('anthropic');
    expect(counts()).toHaveLength(2);
  });

  it('an Anthropic 400 (a field count_tokens refuses) is relayed as Anthropic\'s 400, once, unretried', async () => {
    const { sdk } = await start({ targets: [anthropic({ retry: { attempts: 3 } })] });
    upstream.route('/v1/messages/count_tokens', { status: 400, json: { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: Extra inputs are not permitted' } } });
    const error = await sdk.messages.countTokens({ ...params, max_tokens: 5 } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as Anthropic.APIError).message).toContain('Extra inputs are not permitted');
    expect(counts()).toHaveLength(1);
    expect(counts()[0]!.json.max_tokens).toBe(5);
  });

  it('the circuit breaker opens on failing counts and then answers 503 without calling; a conditional branch\'s refusals never open a circuit', async () => {
    const { sdk } = await start({ circuit_breaker: { failure_threshold: 2, cooldown: 60 }, targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { status: 503, json: { type: 'error', error: { type: 'api_error', message: 'down' } } });
    for (let i = 0; i < 2; i++) expect(await sdk.messages.countTokens(params).catch((e: unknown) => (e as Anthropic.APIError).status)).toBe(503);
    const open = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(open.status).toBe(503);
    expect(open.message).toContain('circuit is open');
    expect(open.headers?.get('retry-after')).toBeTruthy();
    expect(counts()).toHaveLength(2);

    upstream.reset();
    const routed = await start({
      circuit_breaker: { failure_threshold: 1, cooldown: 60 },
      strategy: { mode: 'conditional', conditions: [{ query: { 'params.model': { $regex: '^claude' } }, then: 'claude' }], default: 'gpt' },
      targets: [
        { name: 'gpt', ...openai() },
        { name: 'claude', ...anthropic() },
      ],
    });
    upstream.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    for (let i = 0; i < 3; i++) expect(await routed.sdk.messages.countTokens({ ...params, model: 'gpt-4o' }).catch((e: unknown) => e)).toBeInstanceOf(Anthropic.NotFoundError);
    // The OpenAI target still answers messages: the refusals were the gateway's, not the upstream's.
    const message = await routed.sdk.messages.create({ ...params, model: 'gpt-4o', max_tokens: 16 });
    expect(message.type).toBe('message');
    expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/chat/completions']);
  });

  it('request_timeout cuts a hanging count (504, upstream aborted) and the fallback counts instead', async () => {
    const { sdk } = await start({
      strategy: { mode: 'fallback' },
      targets: [anthropic({ custom_host: `${upstream.url}/hang/v1`, request_timeout: 300 }), anthropic()],
    });
    upstream.route('/hang/v1/messages/count_tokens', { hang: true });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 2 } });
    const started = Date.now();
    const res = await sdk.messages.countTokens(params).withResponse();
    expect(res.data).toEqual({ input_tokens: 2 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    await until(() => upstream.aborted === 1);
    expect(upstream.aborted).toBe(1);

    upstream.reset();
    const alone = await start({ targets: [anthropic({ request_timeout: 200 })] });
    upstream.route('/v1/messages/count_tokens', { hang: true });
    const error = (await alone.sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(error.status).toBe(504);
    expect(error.error).toMatchObject({ type: 'error' });
  });

  it('the overall deadline bounds a count too', async () => {
    const { sdk } = await start({ deadline: 300, targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { hang: true });
    const started = Date.now();
    const error = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(error.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3000);
    await until(() => upstream.aborted === 1);
  });

  for (const kind of ['express4', 'koa2', 'nestjs-prefixed']) {
    it(`${kind}: a client that leaves stops the upstream count, and the record says so`, async () => {
      const { app, sdk } = await start({ targets: [anthropic()] }, {}, kind);
      upstream.route('/v1/messages/count_tokens', { hang: true });
      const controller = new AbortController();
      const pending = sdk.messages.countTokens(params, { signal: controller.signal }).catch((e: unknown) => e);
      await until(() => counts().length === 1);
      controller.abort();
      expect(await pending).toBeInstanceOf(Anthropic.APIUserAbortError);
      expect(await until(() => upstream.aborted === 1)).toBe(true);
      await until(() => recentRequests(app.gateway).records.length === 1);
      expect(recentRequests(app.gateway).records[0]).toMatchObject({ route: 'count_tokens', status: 499 });
    });
  }

  it('bodies over the limit are a 413 and too deep or too many messages a 400, in Anthropic\'s shape, with nothing sent', async () => {
    const { app } = await start({ targets: [anthropic()] }, { limits: { maxBodyBytes: 64 * 1024, maxMessages: 3 } } as AppOptions);
    const big = await post(app, { ...params, messages: [{ role: 'user', content: 'x'.repeat(200_000) }] });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ type: 'error', error: { type: 'request_too_large' } });
    const deep = `${'['.repeat(5000)}"x"${']'.repeat(5000)}`;
    const nested = await post(app, `{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":[{"type":"text","text":"hi","extra":${deep}}]}]}`);
    expect(nested.status).toBe(400);
    expect(await nested.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const many = await post(app, { ...params, messages: Array.from({ length: 4 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x' })) });
    expect(many.status).toBe(400);
    expect((await many.json()).error.message).toContain('messages');
    expect(upstream.requests).toHaveLength(0);
  });

  it('a raw body (no body parser) counts the same', async () => {
    for (const kind of ['express5', 'koa3']) {
      const { sdk } = await start({ targets: [anthropic()] }, { bodyParser: false }, kind);
      upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 6 } });
      expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 6 });
    }
    expect(counts().map((r) => r.json)).toEqual([params, params]);
  });

  it('errors and records never hold a provider key, even when Anthropic echoes it', async () => {
    const { app, sdk } = await start({ targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', (req) => ({
      status: 401,
      json: { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key ${String(req.headers['x-api-key'])}` } },
    }));
    const error = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(error.status).toBe(401);
    expect(JSON.stringify(error.error)).not.toContain(UPSTREAM_KEY);
    expect(JSON.stringify(Object.fromEntries(error.headers?.entries() ?? []))).not.toContain(UPSTREAM_KEY);
    await until(() => recentRequests(app.gateway).records.length === 1);
    const records = recentRequests(app.gateway).records;
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ route: 'count_tokens', status: 401 });
    expect(JSON.stringify(records)).not.toContain(UPSTREAM_KEY);
    expect(JSON.stringify(records)).not.toContain(CLIENT_KEY);
  });

  it('counts show in /metrics under their own route', async () => {
    const { app, sdk } = await start({ targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 1 } });
    await sdk.messages.countTokens(params);
    await until(() => recentRequests(app.gateway).records.length === 1);
    const text = await (await fetch(`${app.gatewayURL}/metrics`)).text();
    expect(text).toMatch(/route="count_tokens"/);
    expect(text).not.toContain(UPSTREAM_KEY);
  });

  it('a count never creates a cache entry nor spends or reserves a budget; an exhausted budget does not stop counting', async () => {
    const adminKey = 'admin-key-review-0123456789';
    const { app, sdk } = await start({ targets: [anthropic()], cache: { mode: 'simple' }, budget: { max_cost_per_day: 0.0000001 } }, { adminKey } as AppOptions);
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 9 } });
    upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    for (let i = 0; i < 3; i++) {
      const res = await sdk.messages.countTokens(params).withResponse();
      expect(res.data).toEqual({ input_tokens: 9 });
      expect(res.response.headers.get('x-llmux-cache')).toBe('DISABLED');
    }
    expect(counts()).toHaveLength(3);
    // The budget is live: a message's reservation does not fit.
    const refused = (await sdk.messages.create({ ...params, max_tokens: 64 }).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(refused.status).toBe(402);
    const usage = (await (await fetch(`${app.gatewayURL}/usage`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as { budgets: Array<{ spent: number; reserved: number }> };
    expect(usage.budgets).toHaveLength(1);
    expect(usage.budgets[0]).toMatchObject({ spent: 0, reserved: 0 });
    expect(upstream.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(0);
  });

  it('x-llmux-config and x-portkey-provider pick the counting target where allowRequestConfig allows, and are a 403 where not', async () => {
    const { app } = await start({ targets: [openai()] }, { allowRequestConfig: true, allowedHosts: ['127.0.0.1'] } as AppOptions);
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 21 } });
    const config = JSON.stringify({ targets: [{ provider: 'anthropic', api_key: 'sk-ant-from-client-config', custom_host: `${upstream.url}/v1` }] });
    const res = await post(app, params, { 'x-llmux-config': config });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ input_tokens: 21 });
    expect(counts()[0]!.headers['x-api-key']).toBe('sk-ant-from-client-config');
    const byProvider = await post(app, params, { 'x-portkey-provider': 'anthropic', 'x-portkey-custom-host': `${upstream.url}/v1`, authorization: 'Bearer sk-ant-clients-own' });
    expect(byProvider.status).toBe(200);
    expect(counts()[1]!.headers['x-api-key']).toBe('sk-ant-clients-own');
    // Without such a config the server's OpenAI target has no count.
    expect((await post(app, params)).status).toBe(404);

    const strict = await start({ targets: [anthropic()] });
    const refused = await post(strict.app, params, { 'x-portkey-config': config });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(counts()).toHaveLength(2);
  });

  it('a client\'s config cannot send the count to a host the server did not allow (SSRF)', async () => {
    const { app } = await start({ targets: [anthropic()] }, { allowRequestConfig: true } as AppOptions);
    const config = JSON.stringify({ targets: [{ provider: 'anthropic', api_key: 'sk-ant-x', custom_host: `${upstream.url}/v1` }] });
    const res = await post(app, params, { 'x-llmux-config': config });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(upstream.requests).toHaveLength(0);
  });

  it('while gateway.close() waits for a count in flight, that count finishes and a new one is a 503 in Anthropic\'s shape', async () => {
    const { app, sdk } = await start({ targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 3 }, delayMs: 300 });
    const inflight = sdk.messages.countTokens(params);
    await until(() => counts().length === 1);
    const closing = app.gateway.close(5000);
    const late = (await sdk.messages.countTokens(params).catch((e: unknown) => e)) as Anthropic.APIError;
    expect(late.status).toBe(503);
    expect(late.error).toMatchObject({ type: 'error', error: { message: expect.stringContaining('shutting down') } });
    expect(await inflight).toEqual({ input_tokens: 3 });
    await closing;
    expect(counts()).toHaveLength(1);
  });

  it('close() past its deadline cuts a hanging count: the client hears the gateway is closing and the upstream call stops', async () => {
    const { app, sdk } = await start({ targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { hang: true });
    const pending = sdk.messages.countTokens(params).catch((e: unknown) => e);
    await until(() => counts().length === 1);
    await app.gateway.close(200);
    const error = (await pending) as Anthropic.APIError;
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect(error.status).toBe(503);
    expect(await until(() => upstream.aborted === 1)).toBe(true);
  });

  it('the client\'s trace id comes back and the target\'s anthropic_version/anthropic_beta and forward_headers go upstream', async () => {
    const { app } = await start({ targets: [anthropic({ anthropic_beta: 'fine-grained-tool-streaming-2025-05-14', forward_headers: ['x-tenant-id'] })] });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 1 } });
    const res = await post(app, params, { 'x-llmux-trace-id': 'trace-count-1', 'x-tenant-id': 'acme', 'anthropic-beta': 'token-counting-2024-11-01' }, '/v1/messages/count_tokens?beta=true');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-trace-id')).toBe('trace-count-1');
    const [sent] = counts();
    expect(sent!.headers['x-tenant-id']).toBe('acme');
    expect(String(sent!.headers['anthropic-beta']).split(',')).toEqual(['fine-grained-tool-streaming-2025-05-14', 'token-counting-2024-11-01']);
  });

  it('a nested strategy keeps its Anthropic targets: a fallback inside a load balancer, a conditional inside a fallback', async () => {
    const { sdk } = await start({
      strategy: { mode: 'fallback' },
      targets: [
        {
          strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': { $eq: 'pro' } }, then: 'pro' }], default: 'free' },
          targets: [
            { name: 'pro', ...anthropic({ override_params: { model: 'claude-opus-4-1' } }) },
            { name: 'free', ...openai() },
          ],
        },
        { strategy: { mode: 'loadbalance' }, targets: [openai({ weight: 5 }), { strategy: { mode: 'fallback' }, targets: [openai(), anthropic({ override_params: { model: 'claude-haiku-4-5' } })] }] },
      ],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 11 } });
    const pro = await sdk.messages.countTokens(params, { headers: { 'x-llmux-metadata': JSON.stringify({ tier: 'pro' }) } }).withResponse();
    expect(pro.response.headers.get('x-llmux-target')).toBe('config.targets[0].targets[0]');
    const free = await sdk.messages.countTokens(params).withResponse();
    expect(free.data).toEqual({ input_tokens: 11 });
    expect(free.response.headers.get('x-llmux-target')).toBe('config.targets[1].targets[1].targets[1]');
    expect(counts().map((r) => r.json.model)).toEqual(['claude-opus-4-1', 'claude-haiku-4-5']);
    expect(upstream.requests).toHaveLength(2);
  });

  it('a gateway key\'s own rate limit does not count counts', async () => {
    const auth = { keys: [{ key: 'gk-limited-0123456789abcdef', name: 'limited', rate_limit: { requests_per_minute: 1 } }] };
    const { app } = await start({ targets: [anthropic()] }, { auth } as AppOptions);
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 3 } });
    const sdk = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'gk-limited-0123456789abcdef', maxRetries: 0 });
    for (let i = 0; i < 3; i++) expect(await sdk.messages.countTokens(params)).toEqual({ input_tokens: 3 });
  });
});

describe('fixed bugs (each test failed before its fix)', () => {
  it('a load-balanced Anthropic target with weight 0 (out of rotation) is never sent a count', async () => {
    // BUG: pruning the load balancer to its Anthropic targets leaves only weight-0 children, and pickWeighted then "picks among them all", so a target the operator took out of rotation is called — packages/core/src/ingress/anthropic-messages/count-tokens.ts:46 (with router/weighted.ts:31)
    const { sdk } = await start({
      strategy: { mode: 'loadbalance' },
      targets: [openai({ weight: 1 }), anthropic({ weight: 0 })],
    });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 5 } });
    const error = await sdk.messages.countTokens(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect(counts()).toHaveLength(0);
  });

  it('Anthropic\'s count rate limit (429s on count_tokens) does not open the circuit that /v1/messages uses', async () => {
    // BUG: a count attempt records its failures under the same breaker key as the target's messages (router/breaker.ts breakerKey), so 429s from count_tokens — whose rate limit Anthropic keeps "separate and independent" from message creation — open the circuit and every /v1/messages request to that target gets a 503 without a call — packages/core/src/ingress/anthropic-messages/count-tokens.ts:121-122 (one breaker per plan, keyed by router/breaker.ts:33)
    const { sdk } = await start({ circuit_breaker: { failure_threshold: 2, cooldown: 60 }, targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { status: 429, json: { type: 'error', error: { type: 'rate_limit_error', message: 'Number of count_tokens requests has exceeded your per-minute rate limit' } } });
    upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    for (let i = 0; i < 2; i++) expect(await sdk.messages.countTokens(params).catch((e: unknown) => e)).toBeInstanceOf(Anthropic.RateLimitError);
    const message = await sdk.messages.create({ ...params, max_tokens: 32 }).catch((e: unknown) => e);
    expect(message).toMatchObject({ type: 'message' });
    expect(upstream.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(1);
  });

  it('a conditional on params routes a count as it routes the same message', async () => {
    // BUG: the router's `params` for a count is only `{ model }` (state.body), so a condition on any other field of the body (tools, system, thinking…) sends the count down another branch than the message — packages/core/src/ingress/anthropic-messages/count-tokens.ts:107 (read as router input at router/env-for-request.ts:36)
    const { sdk } = await start({
      strategy: { mode: 'conditional', conditions: [{ query: { 'params.tools': { $exists: true } }, then: 'claude' }], default: 'gpt' },
      targets: [
        { name: 'gpt', ...openai() },
        { name: 'claude', ...anthropic() },
      ],
    });
    upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 77 } });
    const message = await sdk.messages.create({ ...params, tools: [weather], max_tokens: 32 }).withResponse();
    expect(message.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    const count = await sdk.messages.countTokens({ ...params, tools: [weather] }).withResponse();
    expect(count.data).toEqual({ input_tokens: 77 });
    expect(count.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });

  it('a count\'s answer states its cost ($0: counting is free) as x-llmux-cost', async () => {
    // BUG: the cost stage is skipped and nothing sets state.cost, so the answer carries neither x-llmux-cost nor x-llmux-cost-status, which docs/budgets-and-limits.md promises on every answer — packages/core/src/ingress/anthropic-messages/count-tokens.ts:126
    const { sdk } = await start({ targets: [anthropic()] });
    upstream.route('/v1/messages/count_tokens', { json: { input_tokens: 5 } });
    const res = await sdk.messages.countTokens(params).withResponse();
    expect(res.response.headers.get('x-llmux-cost')).toBe('0');
  });
});
