/**
 * Adversarial review: the `portkey-ai` SDK (3.x) against the gateway, used as Portkey's docs show it
 * (`new Portkey({ baseURL: '<app>/llm/v1', config, provider, Authorization, traceID, metadata,
 * cacheForceRefresh, requestTimeout, forwardHeaders, customHost })`), and the response headers
 * Portkey clients read through `getHeaders()` (x-portkey-* with the prefix stripped).
 *
 * What the SDK sends (captured): `x-portkey-config` (an object as JSON, a string as is),
 * `x-portkey-provider` + `authorization`, `x-portkey-metadata` (JSON), `x-portkey-trace-id`,
 * `x-portkey-cache-force-refresh: true`, `x-portkey-request-timeout: <ms>`,
 * `x-portkey-forward-headers: a,b` plus the named headers themselves, `x-portkey-custom-host`,
 * `x-portkey-virtual-key`, and always `x-portkey-api-key`.
 */
import { request as httpRequest } from 'node:http';
import { Portkey } from 'portkey-ai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const TEXT = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const DOWN = { status: 503, json: { error: { message: 'The server is overloaded', type: 'server_error' } } };
const LIMITED = { status: 429, json: { error: { message: 'Rate limit reached for requests', type: 'requests' } } };
/** One vector per input, as OpenAI answers. */
const embeddingsFor = (req: { json: any }) => {
  const inputs: unknown[] = Array.isArray(req.json?.input) ? req.json.input : [req.json?.input];
  return {
    json: {
      object: 'list',
      model: 'text-embedding-3-small',
      usage: { prompt_tokens: 2, total_tokens: 2 },
      data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [1, 0, 0] })),
    },
  };
};

let up: MockUpstream;
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
beforeEach(() => {
  up.reset();
  up.route('/v1/embeddings', embeddingsFor);
});

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});
async function app(options: AppOptions): Promise<TestApp> {
  const a = await appFactories.express5!({ logger: false, env: {}, routing: { backoffBaseMs: 1 }, ...options } as AppOptions);
  apps.push(a);
  return a;
}
const portkey = (a: TestApp, extra: Record<string, unknown> = {}) => new Portkey({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', ...extra } as any);
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
const chatCalls = () => up.requests.filter((r) => r.path.endsWith('/chat/completions'));
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}
/** A raw POST through the host app (so headers fetch forbids, like Host, can be set). */
function rawPost(a: TestApp, headers: Record<string, string>, body: unknown = ask): Promise<{ status: number; headers: Record<string, any>; json: any }> {
  const url = new URL(`${a.gatewayURL}/v1/chat/completions`);
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (data += c));
        res.on('end', () => {
          let json: any = data;
          try {
            json = JSON.parse(data);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('config: as an object, as a JSON string, as a saved id', () => {
  const fallback = () => ({
    strategy: { mode: 'fallback' },
    targets: [
      { provider: 'openai', api_key: 'sk-a', custom_host: `${up.url}/down/v1` },
      { provider: 'openai', api_key: 'sk-b', custom_host: `${up.url}/v1` },
    ],
  });

  it('an object and the same JSON string route alike, and getHeaders() reports the fallback target as Portkey does', async () => {
    up.route('/down/v1/chat/completions', DOWN);
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'] });
    for (const config of [fallback(), JSON.stringify(fallback())]) {
      up.requests.length = 0;
      const res = (await portkey(a, { config }).chat.completions.create(ask)) as any;
      expect(res.choices[0].message.content).toBe(TEXT.choices[0].message.content);
      expect(res.getHeaders()).toMatchObject({ provider: 'openai', 'last-used-option-index': 'config.targets[1]', 'retry-attempt-count': '0', 'cache-status': 'DISABLED' });
      expect(chatCalls().map((r) => r.headers.authorization)).toEqual(['Bearer sk-a', 'Bearer sk-b']);
    }
  });

  it('a saved config id (which only Portkey’s cloud can resolve) is a clear 4xx, never a call', async () => {
    const open = await app({ allowRequestConfig: true, config: { provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` } });
    const e1 = await rejection(portkey(open, { config: 'pc-prod-config-1a2b3c' }).chat.completions.create(ask));
    expect(e1.status).toBe(400);
    expect(e1.error?.error ?? e1.error).toMatchObject({ code: 'invalid_config', param: 'x-portkey-config' });
    expect(e1.message).toContain('saved config ids are not supported');
    expect(e1.headers['x-portkey-trace-id']).toMatch(/.+/);
    const closed = await app({ config: { provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` } });
    const e2 = await rejection(portkey(closed, { config: 'pc-prod-config-1a2b3c' }).chat.completions.create(ask));
    expect(e2.status).toBe(403);
    expect(chatCalls()).toHaveLength(0);
  });

  it('a config header that is not JSON is a 400 naming it; one too large for the header limit is a 431', async () => {
    const a = await app({ allowRequestConfig: true, config: { provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` } });
    const broken = await rawPost(a, { 'x-portkey-config': '{"provider": "openai", ' });
    expect(broken.status).toBe(400);
    expect(broken.json.error.param).toBe('x-portkey-config');
    const huge = await rawPost(a, { 'x-portkey-config': JSON.stringify({ provider: 'openai', override_params: { user: 'x'.repeat(40_000) } }) });
    expect(huge.status).toBe(431);
    expect(chatCalls()).toHaveLength(0);
  });
});

describe('provider + Authorization, retry with on_status_codes', () => {
  it('the client’s Authorization is the provider key; retry.on_status_codes limits which failures are retried', async () => {
    const a = await app({ allowRequestConfig: true, providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server' } } });
    const client = portkey(a, { provider: 'openai', Authorization: 'Bearer sk-client', config: { retry: { attempts: 2, on_status_codes: [429] } } });
    // 503 is not in [429]: one call, the provider's 503 back, no retries.
    up.route('/v1/chat/completions', DOWN);
    const e1 = await rejection(client.chat.completions.create(ask));
    expect(e1.status).toBe(503);
    expect(chatCalls()).toHaveLength(1);
    expect(e1.headers['x-portkey-retry-attempt-count']).toBe('0');
    // 429 is: 1 + attempts calls (Portkey's count), the last 429 back with the retries it made.
    up.reset();
    up.route('/v1/chat/completions', LIMITED);
    const e2 = await rejection(client.chat.completions.create(ask));
    expect(e2.status).toBe(429);
    expect(chatCalls()).toHaveLength(3);
    expect(e2.headers['x-portkey-retry-attempt-count']).toBe('2');
    expect(chatCalls().every((r) => r.headers.authorization === 'Bearer sk-client')).toBe(true);
  });

  // BUG: x-portkey-last-used-option-index reads `x-portkey-provider` (an llmux header name) for provider+Authorization clients, not Portkey's `config`
  // README: "x-portkey-last-used-option-index is the same JSON path as x-llmux-target, rooted at
  // `config`, as Portkey sends it"; Portkey builds a config from the provider headers and answers with
  // its path (`config`). http/headers.ts only rewrites a root named x-…-config.
  it('provider + Authorization: last-used-option-index is rooted at config', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({ allowRequestConfig: true, providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server' } } });
    const res = (await portkey(a, { provider: 'openai', Authorization: 'Bearer sk-client' }).chat.completions.create(ask)) as any;
    expect(chatCalls()[0]!.headers.authorization).toBe('Bearer sk-client');
    expect(res.getHeaders()['last-used-option-index']).toBe('config');
  });
});

describe('metadata and trace ids', () => {
  it('SDK metadata drives a conditional route; metadata that is not a JSON object is a 400 naming the header, before any call', async () => {
    up.route('/pro/v1/chat/completions', { json: TEXT });
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({
      config: {
        strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': { $eq: 'pro' } }, then: 'pro' }], default: 'free' },
        targets: [
          { name: 'pro', provider: 'openai', api_key: 'k', custom_host: `${up.url}/pro/v1` },
          { name: 'free', provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` },
        ],
      },
    });
    const res = (await portkey(a, { metadata: { tier: 'pro', _user: 'u-1' } }).chat.completions.create(ask)) as any;
    expect(res.getHeaders()['last-used-option-index']).toBe('config.targets[0]');
    up.requests.length = 0;
    for (const bad of ['tier=pro', '["pro"]', '"pro"']) {
      const r = await rawPost(a, { 'x-portkey-metadata': bad });
      expect(r.status).toBe(400);
      expect(r.json.error.message).toContain('x-portkey-metadata');
      expect(r.headers['x-portkey-trace-id']).toMatch(/.+/);
    }
    expect(up.requests).toHaveLength(0);
  });

  it('traceID comes back verbatim on chat, streams, embeddings and errors; one over 128 characters is a 400 naming the header', async () => {
    up.route('/v1/chat/completions', (req) => (req.json?.stream ? { chunks: STREAM } : { json: TEXT }));
    const a = await app({ config: { provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` } });
    const id = 'run:42/step=3+retry_1.a~b';
    const client = portkey(a, { traceID: id });
    const chat = (await client.chat.completions.create(ask)) as any;
    expect(chat.getHeaders()['trace-id']).toBe(id);
    const stream = (await client.chat.completions.create({ ...ask, stream: true })) as any;
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(stream.response.headers.get('x-portkey-trace-id')).toBe(id);
    expect(stream.response.headers.get('x-portkey-provider')).toBe('openai');
    const emb = (await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' })) as any;
    expect(emb.getHeaders()).toMatchObject({ 'trace-id': id, provider: 'openai' });
    up.route('/v1/chat/completions', DOWN);
    const err = await rejection(client.chat.completions.create(ask));
    expect(err.headers['x-portkey-trace-id']).toBe(id);
    const long = await rejection(portkey(a, { traceID: 't'.repeat(129) }).chat.completions.create(ask));
    expect(long.status).toBe(400);
    expect(long.message).toContain('x-portkey-trace-id');
  });
});

describe('cache headers as Portkey sends them', () => {
  // BUG: a cache HIT drops x-portkey-last-used-option-index (x-llmux-target is there), so getHeaders() loses the target on every hit
  // Portkey sets the index on every response it builds, hits included (responseService.updateHeaders);
  // DESIGN: every response carries x-llmux-target "and the same facts under Portkey's names".
  // cache/cache-stage.ts serve() writes x-llmux-target into state.headers only, and factsOf()
  // (pipeline/chat.ts) has no target on a hit, so responseHeaders never writes the Portkey name.
  it('a simple-cache hit still names the target under x-portkey-last-used-option-index', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({ config: { cache: { mode: 'simple' }, targets: [{ provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` }] } });
    const miss = (await portkey(a).chat.completions.create(ask)) as any;
    expect(miss.getHeaders()).toMatchObject({ 'cache-status': 'MISS', 'last-used-option-index': 'config.targets[0]' });
    const hit = (await portkey(a).chat.completions.create(ask)) as any;
    expect(chatCalls()).toHaveLength(1);
    expect(hit.getHeaders()['cache-status']).toBe('HIT');
    expect(hit.getHeaders()['last-used-option-index']).toBe('config.targets[0]');
  });

  // BUG: a miss in semantic mode reads `MISS` under x-portkey-cache-status; Portkey sends `SEMANTIC MISS`
  // Portkey's documented values (api-reference/inference-api/response-schema): "MISS (simple cache
  // header was sent…, but returned a miss) • SEMANTIC MISS (semantic cache …returned a miss)".
  // http/headers.ts maps only SEMANTIC_HIT to Portkey's spelling; the cache mode never reaches it.
  it('a semantic-mode miss is "SEMANTIC MISS" under x-portkey-cache-status', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({ config: { cache: { mode: 'semantic' }, targets: [{ provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` }] } });
    const res = (await portkey(a).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is Python?' }] })) as any;
    expect(res.getHeaders()['cache-status']).toBe('SEMANTIC MISS');
  });

  it('cacheForceRefresh on a stream calls the provider again and says REFRESH', async () => {
    up.route('/v1/chat/completions', { chunks: STREAM });
    const a = await app({ config: { cache: { mode: 'simple' }, targets: [{ provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` }] } });
    const drain = async (s: any) => {
      for await (const _ of s) void _;
      return s.response.headers.get('x-portkey-cache-status');
    };
    expect(await drain(await portkey(a).chat.completions.create({ ...ask, stream: true }))).toBe('MISS');
    expect(await drain(await portkey(a).chat.completions.create({ ...ask, stream: true }))).toBe('HIT');
    expect(await drain(await portkey(a, { cacheForceRefresh: true }).chat.completions.create({ ...ask, stream: true }))).toBe('REFRESH');
    expect(chatCalls()).toHaveLength(2);
  });
});

describe('requestTimeout and forwardHeaders (SDK options, sent as headers)', () => {
  // BUG: the SDK's requestTimeout (x-portkey-request-timeout) is ignored: the call waits for the slow provider
  // Portkey docs (product/ai-gateway/request-timeouts): "Set request timeout while instantiating your
  // Portkey client or … send the x-portkey-request-timeout header"; the gateway then ends the attempt
  // with a 408. Nothing in llmux reads the header (pipeline/resolve-plan.ts reads config, provider and
  // custom-host only), even with allowRequestConfig.
  it('requestTimeout: 300 ends a 2 s provider call early with a timeout error', async () => {
    up.route('/v1/chat/completions', { delayMs: 2000, json: TEXT });
    const a = await app({ allowRequestConfig: true, providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server' } } });
    const started = Date.now();
    const outcome = await portkey(a, { provider: 'openai', Authorization: 'Bearer sk-client', requestTimeout: 300 })
      .chat.completions.create(ask)
      .then(
        () => ({ status: 200 }),
        (e: any) => ({ status: e.status as number }),
      );
    expect([408, 504]).toContain(outcome.status);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  // BUG: the SDK's forwardHeaders (x-portkey-forward-headers) is ignored: the named header never reaches the provider
  // Portkey docs (api-reference/headers): "x-portkey-forward-headers: forward sensitive headers directly
  // to your model's API"; the SDK sends the list comma-separated and the header itself. DESIGN lists
  // forward_headers as a target key; only the config key is read (providers/forward-headers.ts uses
  // target.forwardHeaders, never the request header).
  it('forwardHeaders: ["x-tenant-id"] sends x-tenant-id to the provider', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({ allowRequestConfig: true, providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server' } } });
    const client = portkey(a, { provider: 'openai', Authorization: 'Bearer sk-client', forwardHeaders: ['x-tenant-id'], 'x-tenant-id': 'acme' });
    await client.chat.completions.create(ask);
    expect(chatCalls()[0]!.headers['x-tenant-id']).toBe('acme');
  });

  // BUG: a client config's forward_headers may name `host`: the server's upstream gets a Host the client chose, with the server's key
  // DESIGN: a request "can never make the gateway call a host the server did not allow". With
  // allowRequestConfig, `{ provider: 'openai', forward_headers: ['host'] }` keeps the server's base URL
  // and key, and providers/forward-headers.ts copies the client's Host into the undici dispatch, which
  // sends it: on a shared reverse proxy or load balancer that selects another virtual host. Portkey's
  // header-forwarding rules block Host and hop-by-hop headers. Fix: never forward host/connection/content-length/
  // transfer-encoding/te/upgrade/keep-alive/proxy-*, and refuse them in a client config.
  it('forward_headers: ["host"] in a client config never changes the Host the upstream sees', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({ allowRequestConfig: true, providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server' } }, config: { provider: 'openai' } });
    const res = await rawPost(a, { host: 'admin.internal', 'x-portkey-config': JSON.stringify({ provider: 'openai', forward_headers: ['host'] }) });
    expect(res.status === 200 || res.status === 400).toBe(true);
    for (const r of chatCalls()) expect(r.headers.host).toBe(new URL(up.url).host);
  });
});

describe('customHost and the SSRF guard', () => {
  it('customHost is refused without allowRequestConfig, and for metadata/loopback addresses not in allowedHosts; an allowed one never gets the server key', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const providers = { openai: { baseURL: 'https://api.openai.com/v1', apiKey: 'sk-server' } };
    const closed = await app({ providers, config: { provider: 'openai' } });
    const e0 = await rejection(portkey(closed, { provider: 'openai', customHost: `${up.url}/v1` }).chat.completions.create(ask));
    expect(e0.status).toBe(403);
    const open = await app({ allowRequestConfig: true, providers });
    for (const host of ['http://169.254.169.254/latest/v1', 'http://[::ffff:169.254.169.254]/v1', 'http://0.0.0.0:80/v1', `${up.url}/v1`]) {
      const e = await rejection(portkey(open, { provider: 'openai', customHost: host }).chat.completions.create(ask));
      expect(e.status).toBe(403);
      expect(e.message).toContain('custom_host');
    }
    expect(up.requests).toHaveLength(0);
    const listed = await app({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], providers });
    const res = (await portkey(listed, { provider: 'openai', customHost: `${up.url}/v1` }).chat.completions.create(ask)) as any;
    expect(res.getHeaders().provider).toBe('openai');
    expect(JSON.stringify(chatCalls().map((r) => r.headers))).not.toContain('sk-server');
  });
});

describe('virtualKey', () => {
  // BUG: the SDK's virtualKey (x-portkey-virtual-key) is silently ignored: the request runs on whatever the server picks
  // A virtual key names a provider and its credentials in Portkey's cloud, like a saved config id.
  // llmux refuses saved config ids with a clear 4xx (resolve-plan.ts headerConfig) but drops
  // x-portkey-virtual-key without a word, so a client asking for its Anthropic key is answered by the
  // server's OpenAI target and billed to it. DESIGN: provider-choosing headers are "refused with a 4xx,
  // not ignored". Fix: treat x-portkey-virtual-key like a config id (403 without allowRequestConfig,
  // else 400 "virtual keys are not supported").
  it('a virtual key is a clear 4xx, not a call on the server’s target', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({ config: { provider: 'openai', api_key: 'sk-server', custom_host: `${up.url}/v1` } });
    const outcome = await portkey(a, { virtualKey: 'anthropic-prod-5f2a' })
      .chat.completions.create(ask)
      .then(
        () => ({ status: 200 }),
        (e: any) => ({ status: e.status as number }),
      );
    expect(outcome.status).toBeGreaterThanOrEqual(400);
    expect(outcome.status).toBeLessThan(500);
    expect(chatCalls()).toHaveLength(0);
  });
});
