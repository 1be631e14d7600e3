import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayConfig, type GatewayOptions } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * QA of issue 4 (routing) from a production user's side: behaviours the issue promises that the
 * routing suites do not already prove end to end through a host app and the real SDKs.
 */
const CHAT = '/v1/chat/completions';
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const STREAM_TEXT = STREAM.filter((e) => e.startsWith('data: {'))
  .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '')
  .join('');

const ups: MockUpstream[] = [];
const apps: TestApp[] = [];
const gateways: Gateway[] = [];
const stores: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i++) ups.push(await startMockUpstream());
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(gateways.map((g) => g.close(100)));
  await Promise.all(stores.map((s) => s.close()));
  await Promise.all(ups.map((u) => u.close()));
});
beforeEach(() => {
  for (const u of ups) u.reset();
});

const target = (i: number, extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: `sk-up-${i}`, custom_host: `${ups[i]!.url}/v1`, ...extra });
const calls = (i: number) => ups[i]!.requests.filter((r) => r.path.startsWith(CHAT)).length;

async function start(options: AppOptions): Promise<TestApp> {
  const app = await appFactories.express5!(options);
  apps.push(app);
  return app;
}

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway(options);
  gateways.push(g);
  return g;
}

const openai = (app: TestApp) => new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };

function post(app: TestApp, body: Record<string, unknown> = {}, headers: Record<string, string> = {}, path = CHAT) {
  return fetch(`${app.gatewayURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...ask, ...body }),
  });
}

describe('fallback with on_status_codes through a host app', () => {
  it('moves on only for the listed statuses; any other failure is the answer and the next target is never called', async () => {
    const app = await start({ config: { strategy: { mode: 'fallback', on_status_codes: [429, 503] }, targets: [target(0), target(1)] } as GatewayConfig });
    ups[0]!.enqueue(CHAT, { status: 400, json: { error: { message: 'temperature too high', type: 'invalid_request_error', param: 'temperature' } } });
    ups[1]!.route(CHAT, { json: COMPLETION });
    const refused = await openai(app).chat.completions.create(ask).catch((e) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused.message).toContain('temperature too high');
    expect(calls(1)).toBe(0);

    ups[0]!.enqueue(CHAT, { status: 503, json: { error: { message: 'overloaded' } } });
    const res = await openai(app).chat.completions.create(ask).withResponse();
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(res.data.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
  });

  it('without on_status_codes moves on after a 401 of one provider key', async () => {
    const app = await start({ config: { strategy: { mode: 'fallback' }, targets: [target(0), target(1)] } as GatewayConfig });
    ups[0]!.enqueue(CHAT, { status: 401, json: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } } });
    ups[1]!.enqueue(CHAT, { json: COMPLETION });
    const res = await post(app);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });
});

describe('streams that fail', () => {
  it('an in-band error event before the first token (HTTP 200) falls over; the client sees only the fallback stream', async () => {
    const app = await start({ config: { strategy: { mode: 'fallback' }, targets: [target(0), target(1)] } as GatewayConfig });
    ups[0]!.enqueue(CHAT, { chunks: [STREAM[0]!, 'data: {"error":{"message":"The server had an error while processing your request","type":"server_error"}}\n\n'] });
    ups[1]!.enqueue(CHAT, { chunks: STREAM });
    const { data, response } = await openai(app).chat.completions.create({ ...ask, stream: true }).withResponse();
    let text = '';
    for await (const c of data) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(STREAM_TEXT);
    expect(response.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });

  it('an upstream that closes cleanly after content but before its end marker ends with an error event; the SDK throws', async () => {
    const app = await start({ config: { targets: [target(0)] } as GatewayConfig });
    const noEnd = STREAM.filter((e) => !e.includes('[DONE]') && !e.includes('"finish_reason":"stop"') && !e.includes('"usage":{'));
    ups[0]!.enqueue(CHAT, { chunks: noEnd }, { chunks: noEnd });
    const raw = await (await post(app, { stream: true })).text();
    expect(raw).not.toContain('[DONE]');
    expect(JSON.parse(raw.trim().split('\n\n').at(-1)!.slice('data: '.length)).error.message).toMatch(/.+/);
    const stream = await openai(app).chat.completions.create({ ...ask, stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(text.length).toBeGreaterThan(0);
  });

  it('/v1/messages: an OpenAI upstream reset after content ends the Anthropic stream with event: error; the Anthropic SDK throws', async () => {
    const app = await start({ config: { targets: [target(0)] } as GatewayConfig });
    ups[0]!.enqueue(CHAT, { chunks: STREAM, cutAfter: 4, chunkDelayMs: 15 }, { chunks: STREAM, cutAfter: 4, chunkDelayMs: 15 });
    const body = { model: 'gpt-4o-mini', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Hi' }] };
    const raw = await (await post(app, body, { 'anthropic-version': '2023-06-01' }, '/v1/messages')).text();
    expect(raw).toContain('text_delta');
    expect(raw).toMatch(/event: error\ndata: \{"type":"error"/);
    expect(raw).not.toContain('message_stop');

    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    let text = '';
    const stream = client.messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
    stream.on('text', (t) => (text += t));
    const err = await stream.finalMessage().catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect(text.length).toBeGreaterThan(0);
  });

  it('request_timeout covers a stream whose headers never come (time to first byte): the fallback serves it', async () => {
    const app = await start({ config: { strategy: { mode: 'fallback' }, request_timeout: 200, targets: [target(0), target(1)] } as GatewayConfig });
    ups[0]!.enqueue(CHAT, { chunks: STREAM, delayMs: 3000 });
    ups[1]!.enqueue(CHAT, { chunks: STREAM });
    const res = await post(app, { stream: true });
    const raw = await res.text();
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});

describe('retries against the real clock', () => {
  it('honours a short Retry-After by waiting it out, then succeeds', async () => {
    const app = await start({ config: { targets: [target(0, { retry: { attempts: 1 } })] } as GatewayConfig });
    ups[0]!.enqueue(CHAT, { status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down', type: 'rate_limit_error' } } }, { json: COMPLETION });
    const started = Date.now();
    const res = await post(app);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(res.headers.get('x-llmux-retries')).toBe('1');
  });

  it('one overall deadline bounds many retries: the answer comes back quickly and lists every attempt', async () => {
    const app = await start({ config: { deadline: 700, targets: [target(0, { retry: { attempts: 10 } })] } as GatewayConfig });
    ups[0]!.route(CHAT, { status: 503, json: { error: { message: 'down' } }, delayMs: 100 });
    const started = Date.now();
    const res = await post(app);
    expect(Date.now() - started).toBeLessThan(3000);
    expect([503, 504]).toContain(res.status);
    const body = await res.json();
    expect(body.error.attempts.length).toBeGreaterThanOrEqual(2);
    expect(body.error.attempts.length).toBe(calls(0));
  });

  it('a deadline that passes on a hanging upstream is a 504 naming it, not a closed client', async () => {
    const app = await start({ config: { deadline: 300, targets: [target(0)] } as GatewayConfig });
    ups[0]!.route(CHAT, { json: COMPLETION, delayMs: 5000 });
    const res = await post(app);
    expect(res.status).toBe(504);
    const body = await res.json();
    expect(body.error.code).toBe('upstream_timeout');
    expect(body.error.message).toContain('300 ms');
    // The same server goes on answering: the deadline spent only that request.
    ups[0]!.route(CHAT, { json: COMPLETION });
    expect((await post(app)).status).toBe(200);
  });
});

describe('circuit breaker shared by two gateway instances through Redis', () => {
  it('failures seen by one instance open the circuit for both; after the cooldown one half-open trial closes it', async () => {
    const prefix = `llmux-qa4:${crypto.randomUUID()}:`;
    const clock = { now: Date.now() };
    const config = {
      strategy: { mode: 'fallback' },
      circuit_breaker: { failure_threshold: 2, window: 60, cooldown: 30 },
      targets: [target(0), target(1)],
    } as GatewayConfig;
    const storeA = createRedisStore({ prefix });
    const storeB = createRedisStore({ prefix });
    stores.push(storeA, storeB);
    const a = await start({ config, store: storeA, routing: { now: () => clock.now } });
    const b = await start({ config, store: storeB, routing: { now: () => clock.now } });
    ups[0]!.route(CHAT, { status: 503, json: { error: { message: 'down' } } });
    ups[1]!.route(CHAT, { json: COMPLETION });

    expect((await post(a)).headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect((await post(b)).headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(calls(0)).toBe(2); // one failure on each instance: the shared count reached the threshold

    for (const app of [a, b, a, b]) expect((await post(app)).headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(calls(0)).toBe(2); // open for both: not even tried

    clock.now += 30_000;
    ups[0]!.route(CHAT, { json: COMPLETION });
    const pair = await Promise.all([post(a), post(b)]);
    expect(pair.map((r) => r.status)).toEqual([200, 200]);
    expect(calls(0)).toBe(3); // exactly one half-open trial across the two instances
    for (const app of [a, b]) expect((await post(app)).headers.get('x-llmux-target')).toBe('config.targets[0]');
    expect(calls(0)).toBe(5);
  });
});

describe('SSRF guard: the forms attackers use to spell an internal address', () => {
  const noDns = async (host: string): Promise<string[]> => {
    throw new Error(`ENOTFOUND ${host}`);
  };
  const chat = (g: Gateway, customHost: string) =>
    g.handle({
      method: 'POST',
      path: CHAT,
      headers: { 'content-type': 'application/json', 'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'sk-client', custom_host: customHost }) },
      body: ask,
    });

  it.each([
    'http://2130706433/v1',
    'http://0x7f.1/v1',
    'http://0x7f000001/v1',
    'http://017700000001/v1',
    'http://0177.0.0.1/v1',
    'http://127.1/v1',
    'http://127.000.000.001/v1',
    'http://LOCALHOST/v1',
    'http://0/v1',
    'http://169.254.169.254./latest/meta-data',
    'http://[::ffff:127.0.0.1]/v1',
    'http://[0:0:0:0:0:ffff:127.0.0.1]/v1',
    'http://[::ffff:7f00:1]/v1',
    'http://[::ffff:169.254.169.254]/v1',
    'http://[::127.0.0.1]/v1',
    'http://[::]/v1',
    'http://[64:ff9b::169.254.169.254]/v1',
    'http://[2002:a9fe:a9fe::1]/v1',
    'http://[fd00:ec2::254]/latest/meta-data',
    'http://100.100.100.200/latest/meta-data',
    'http://192.0.0.192/opc/v1',
    'http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/v1',
  ])('refuses %s with 403 and calls nothing', async (host) => {
    const res = await chat(gateway({ allowRequestConfig: true, resolveHost: noDns }), host);
    expect(res.status).toBe(403);
    expect((res.body as { error: { param: string } }).error.param).toBe('x-portkey-config.custom_host');
    expect(res.headers['x-portkey-trace-id']).toMatch(/.+/);
  });

  it('refuses localhost spelt with a trailing dot, through the system resolver', async () => {
    const res = await chat(gateway({ allowRequestConfig: true }), `http://localhost.:${new URL(ups[0]!.url).port}/v1`);
    expect([400, 403]).toContain(res.status);
    expect(calls(0)).toBe(0);
  });

  it('refuses credentials smuggled before an internal host', async () => {
    const res = await chat(gateway({ allowRequestConfig: true, resolveHost: noDns }), 'http://public.example@127.0.0.1/v1');
    expect(res.status).toBe(400);
  });

  it('a client picking a provider whose default home is this machine (vllm, ollama) passes the guard too', async () => {
    const strict = gateway({ allowRequestConfig: true, resolveHost: noDns });
    for (const headers of [{ 'x-portkey-provider': 'vllm' }, { 'x-portkey-config': JSON.stringify({ provider: 'ollama' }) }]) {
      const res = await strict.handle({ method: 'POST', path: CHAT, headers: { 'content-type': 'application/json', ...headers }, body: ask });
      expect(res.status).toBe(403);
      expect((res.body as { error: { param: string } }).error.param).toMatch(/\.provider$/);
    }
    // The server opens it by name, or by configuring the provider's base URL itself.
    const opened = gateway({ allowRequestConfig: true, resolveHost: noDns, providers: { vllm: { baseURL: `${ups[0]!.url}/v1` } } });
    ups[0]!.enqueue(CHAT, { json: COMPLETION });
    const res = await opened.handle({ method: 'POST', path: CHAT, headers: { 'content-type': 'application/json', 'x-portkey-provider': 'vllm' }, body: ask });
    expect(res.status).toBe(200);
  });

  it('an azure-openai resource_name cannot steer the server key to another host', async () => {
    const g = gateway({ allowRequestConfig: true, env: { AZURE_OPENAI_API_KEY: 'sk-azure-server-secret' } });
    for (const resource_name of [`127.0.0.1:${new URL(ups[0]!.url).port}/x?`, 'evil.example#', 'a.b']) {
      const res = await g.handle({
        method: 'POST',
        path: CHAT,
        headers: { 'content-type': 'application/json', 'x-portkey-config': JSON.stringify({ provider: 'azure-openai', resource_name, deployment_id: 'd' }) },
        body: ask,
      });
      expect(res.status, resource_name).toBe(400);
      expect((res.body as { error: { param: string } }).error.param).toBe('x-portkey-config.resource_name');
      expect(JSON.stringify(res.body)).not.toContain('sk-azure-server-secret');
    }
    expect(ups[0]!.requests).toHaveLength(0);
  });
});

describe('request-level config through the portkey-ai SDK', () => {
  const clientConfig = () => ({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });

  it('is refused with 403 when the server does not allow it, and never reaches an upstream', async () => {
    const app = await start({ config: { targets: [target(1)] } as GatewayConfig });
    const client = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', config: clientConfig(), maxRetries: 0 });
    const err = await client.chat.completions.create(ask).catch((e) => e);
    expect(err.status).toBe(403);
    expect(String(err.message)).toContain('config');
    expect(ups[0]!.requests.length + ups[1]!.requests.length).toBe(0);
  });

  it('routes by the client config when the server allows it', async () => {
    const app = await start({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], config: { provider: 'mock' } as GatewayConfig });
    ups[0]!.enqueue(CHAT, { status: 503, json: { error: { message: 'down' } } });
    ups[1]!.enqueue(CHAT, { json: COMPLETION });
    const client = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', config: clientConfig(), maxRetries: 0 });
    const res = (await client.chat.completions.create(ask)) as any;
    expect(res.choices[0].message.content).toBe(COMPLETION.choices[0].message.content);
    expect(res.getHeaders()['last-used-option-index']).toBe('config.targets[1]');
    expect(res.getHeaders()['trace-id']).toMatch(/.+/);
  });
});

describe('x-portkey-trace-id on every response', () => {
  it('is non-empty on answers, streams, cache hits, refusals and every kind of error', async () => {
    // Without a host body parser, so even unparseable JSON is the gateway's to answer (a host parser answers it in its own format).
    const app = await start({
      bodyParser: false,
      config: { cache: { mode: 'simple' }, rate_limit: { requests_per_minute: 1000 }, deadline: 300, targets: [target(0)] } as GatewayConfig,
    });
    ups[0]!.route(CHAT, (req) => (req.json.stream ? { chunks: STREAM } : { json: COMPLETION }));
    const url = app.gatewayURL;
    const json = { 'content-type': 'application/json' };
    const responses: Array<[string, Response]> = [];
    const push = async (name: string, p: Promise<Response>) => {
      const r = await p;
      await r.arrayBuffer();
      responses.push([name, r]);
    };
    await push('200', post(app));
    await push('cache hit', post(app));
    await push('stream', post(app, { stream: true, messages: [{ role: 'user', content: 'stream me' }] }));
    await push('bad JSON', fetch(`${url}${CHAT}`, { method: 'POST', headers: json, body: '{"model":' }));
    await push('missing field', fetch(`${url}${CHAT}`, { method: 'POST', headers: json, body: '{"model":"gpt-4o-mini"}' }));
    await push('request config refused', post(app, {}, { 'x-portkey-config': '{"provider":"mock"}' }));
    await push('unknown route', fetch(`${url}/v1/nothing`, { method: 'POST', headers: json, body: '{}' }));
    await push('wrong method', fetch(`${url}${CHAT}`));
    await push('models', fetch(`${url}/v1/models`));
    await push('bad trace id', post(app, {}, { 'x-portkey-trace-id': 'x'.repeat(129) }));
    ups[0]!.route(CHAT, { status: 503, json: { error: { message: 'down' } } });
    await push('provider error', post(app, { messages: [{ role: 'user', content: 'fails' }] }));
    await push('messages error', fetch(`${url}/v1/messages`, { method: 'POST', headers: json, body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }) }));
    ups[0]!.route(CHAT, { hang: true });
    await push('deadline', post(app, { messages: [{ role: 'user', content: 'hangs' }] }));
    expect(new Set(responses.map(([, r]) => r.status))).toEqual(new Set([200, 400, 403, 404, 405, 503, 504]));
    for (const [name, r] of responses) {
      expect(r.headers.get('x-portkey-trace-id') ?? `missing on ${name}`, name).toMatch(/^\S.{0,126}\S$/);
      expect(r.headers.get('x-llmux-trace-id'), name).toBe(r.headers.get('x-portkey-trace-id'));
    }
    const sent = await post(app, {}, { 'x-portkey-trace-id': 'my-trace-123' });
    expect(sent.headers.get('x-portkey-trace-id')).toBe('my-trace-123');
  });
});
