import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * Configuration and request-level config (options, config schema/compile, plan resolver, SSRF guard,
 * conditional queries, provider inference): one test per behaviour a review found broken (each comment
 * cites the contract it follows and what used to go wrong), plus gaps no other suite covers. All traffic
 * stays on 127.0.0.1 / ::1.
 */

let up: MockUpstream;
const gateways: Gateway[] = [];
const COMPLETION = {
  id: 'x',
  object: 'chat.completion',
  created: 0,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
};
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => {
  up.reset();
  up.route('/v1/chat/completions', { json: COMPLETION });
});

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ logger: false, env: {}, ...options });
  gateways.push(g);
  return g;
}
const chat = (g: Gateway, headers: Record<string, string>, body: Record<string, unknown> = {}) =>
  g.handle({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', ...headers },
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body },
  });
const errorOf = (res: { body: unknown }) => (res.body as { error: { message: string; param: string | null; code: string } }).error;
const port = (url: string) => new URL(url).port;

describe('SSRF: client-chosen hosts', () => {
  // DESIGN: "it can never make the gateway call a host the server did not allow (SSRF)".
  // The Vertex service-account token exchange used global fetch(), which follows redirects (a 307 keeps
  // the POST) and skips the guarded socket; the redirect target's `error` field was even reflected into
  // the client's error message. Now a redirect is an error (providers/google/token-request.ts).
  it('a client vertex-ai token_uri that redirects cannot reach a host outside allowedHosts', async () => {
    const internal = await startMockUpstream();
    try {
      internal.route('*', { json: { error: 'internal_secret_reflected' } });
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      // The allowed host (the "attacker's public server") answers the token request with a redirect
      // to a loopback service the server never allowed (`localhost`, not in allowedHosts).
      up.route('/token', { status: 307, headers: { location: `http://localhost:${port(internal.url)}/latest/meta-data` } });
      const g = gateway({ allowRequestConfig: true, allowedHosts: [`127.0.0.1:${port(up.url)}`], config: { provider: 'mock' } });
      const config = {
        provider: 'vertex-ai',
        custom_host: `${up.url}/v1`,
        vertex_project_id: 'p',
        vertex_region: 'us-central1',
        vertex_service_account_json: { client_email: 'a@b.iam.gserviceaccount.com', private_key: pem, token_uri: `${up.url}/token` },
      };
      const res = await chat(g, { 'x-portkey-config': JSON.stringify(config) }, { model: 'gemini-2.5-flash' });
      expect(internal.requests.map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect(JSON.stringify(res.body)).not.toContain('internal_secret_reflected');
    } finally {
      await internal.close();
    }
  });

  // A client's token endpoint on its (listed) custom_host still works; what that endpoint answers when
  // it refuses is its own text, so it never reaches the client (the server's own endpoint's text does:
  // google-vertex.test.ts).
  it('a client vertex-ai token_uri on a listed host mints a token; its refusal text is not echoed', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const chatPath = '/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent';
    up.route('/token-ok', { json: { access_token: 'ya29.client', expires_in: 3600 } });
    up.route('/token-no', { status: 400, json: { error: 'internal_detail', error_description: 'internal_secret_reflected' } });
    up.route(chatPath, { json: { candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }] }, finishReason: 'STOP' }] } });
    const g = gateway({ allowRequestConfig: true, allowedHosts: [`127.0.0.1:${port(up.url)}`], config: { provider: 'mock' } });
    const config = (tokenPath: string, email: string) => ({
      provider: 'vertex-ai',
      custom_host: `${up.url}/v1`,
      vertex_project_id: 'p',
      vertex_service_account_json: { client_email: email, private_key: pem, token_uri: `${up.url}${tokenPath}` },
    });
    const ok = await chat(g, { 'x-portkey-config': JSON.stringify(config('/token-ok', 'ok@b.iam.gserviceaccount.com')) }, { model: 'gemini-2.5-flash' });
    expect(ok.status).toBe(200);
    expect(up.requests.find((r) => r.path === chatPath)!.headers.authorization).toBe('Bearer ya29.client');
    const refused = await chat(g, { 'x-portkey-config': JSON.stringify(config('/token-no', 'no@b.iam.gserviceaccount.com')) }, { model: 'gemini-2.5-flash' });
    expect(refused.status).toBe(401);
    expect(JSON.stringify(refused.body)).not.toMatch(/internal_secret_reflected|internal_detail/);
  });

  // DESIGN: "it can never make the gateway call a host the server did not allow". Without any config
  // and with allowRequestConfig off, the model name alone picks `lmstudio` / `vllm` / `ollama`, whose
  // default home is this machine; a client header naming the same provider is refused (qa-issue4).
  // The gateway used to connect to 127.0.0.1:1234 (502 ECONNREFUSED) instead of refusing (resolve-plan.ts rootFor).
  it('a model name cannot route a client to a loopback provider the server never configured', async () => {
    const g = gateway({});
    const res = await chat(g, {}, { model: 'lmstudio/some-model' });
    expect([400, 403]).toContain(res.status);
    expect(JSON.stringify(res.body)).not.toContain('ECONNREFUSED');
  });

  // The rule above is the client's: a provider the server gave a base URL is the server's choice.
  it('a model name routes to a local-home provider once the server configured its baseURL', async () => {
    const g = gateway({ providers: { 'lm-studio': { baseURL: `${up.url}/v1` } } });
    const res = await chat(g, {}, { model: 'lmstudio/some-model' });
    expect(res.status).toBe(200);
    expect(up.requests[0]!.json.model).toBe('some-model');
  });

  // …and so is a host the server lists in allowedHosts (createGateway hands it to the plan resolver).
  it('a model name routes to a local-home provider whose host the server lists in allowedHosts', async () => {
    const g = gateway({ allowedHosts: ['localhost:1234'] });
    const res = await chat(g, {}, { model: 'lmstudio/some-model' });
    // Not refused: the call was made (nothing listens there, so the provider could not be reached).
    expect([400, 403]).not.toContain(res.status);
    expect(errorOf(res).code).toBe('network_error');
  });

  // ssrf-guard.ts: allowedHosts takes "exact names or IPs, `host:port`, or `*.suffix`".
  // `localhost:<port>` passed the pre-check (isAllowedHost compares url.host) but the connect-time guard
  // only gets the bare hostname, so the socket was refused (502 EBLOCKEDADDRESS).
  it('allowedHosts "localhost:<port>" lets a client config reach that host', async () => {
    const g = gateway({ allowRequestConfig: true, allowedHosts: [`localhost:${port(up.url)}`] });
    const res = await chat(g, {
      'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'sk-client', custom_host: `http://localhost:${port(up.url)}/v1` }),
    });
    expect(JSON.stringify(res.body)).not.toContain('private, loopback or link-local');
    expect(res.status).toBe(200);
    expect(up.requests).toHaveLength(1);
  });

  // ssrf-guard.ts: allowedHosts entries may be IPs or host:port. "[::1]:<port>" never matched, because
  // only the leading "[" was stripped ("::1]:<port>") and url.host keeps the brackets.
  it('allowedHosts "[::1]:<port>" opens that IPv6 host:port', async () => {
    const g = gateway({ allowRequestConfig: true, allowedHosts: ['[::1]:1'], resolveHost: async () => [] });
    const res = await chat(g, {
      'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'sk-client', custom_host: 'http://[::1]:1/v1', request_timeout: 500 }),
    });
    // The guard lets it through: the connection itself then fails (nothing listens on [::1]:1), a
    // provider network error — not the guard's 403.
    expect(res.status).not.toBe(403);
    expect(res.status).toBe(502);
    expect(errorOf(res)).toMatchObject({ code: 'network_error' });
  });

  // Gap: the upstream client never follows a redirect to a metadata address.
  it('an upstream 302 to 169.254.169.254 is not followed', async () => {
    up.route('/v1/chat/completions', { status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data' } });
    const g = gateway({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], config: { provider: 'mock' } });
    const res = await chat(g, { 'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` }) });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(up.requests).toHaveLength(1);
  });
});

describe('request-level config: bad input gets a 4xx, never a 500 or a hang', () => {
  const g = () => gateway({ allowRequestConfig: true, config: { provider: 'mock' } });

  // DESIGN (Errors): "a bad request is 400 naming the bad field ... Never a 500 for bad input".
  // Nesting was not bounded (limits.maxJsonDepth applied to bodies only): zod's recursive target schema
  // (compile.ts parseConfig), compileQuery's $and/$or recursion (query.ts) and a deep override_params
  // merged into the body all overflowed the stack → 500 internal_error. Each header is < 32 KiB.
  it.each([
    ['nested targets (600 levels)', '{"targets":['.repeat(600) + '{"provider":"mock"}' + ']}'.repeat(600)],
    [
      'nested $and (2000 levels)',
      `{"strategy":{"mode":"conditional","conditions":[{"query":${'{"$and":['.repeat(2000)}{"metadata.x":1}${']}'.repeat(2000)},"then":"a"}],"default":"a"},"targets":[{"name":"a","provider":"mock"}]}`,
    ],
    ['nested override_params (5000 levels)', `{"provider":"mock","override_params":{"x":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}}`],
  ])('a deeply nested config header (%s) is a 400 naming the header', async (_name, header) => {
    expect(header.length).toBeLessThan(32 * 1024);
    const res = await chat(g(), { 'x-portkey-config': header }, { model: 'mock' });
    expect(res.status).toBe(400);
    expect(errorOf(res).param ?? '').toContain('x-portkey-config');
  });

  // Brief: bad request configs "must get a clear 4xx ... never a 500 or a hang". `$regex` only bounded
  // the pattern's length (query.ts); `^(a+)+$` against 27 client-sent metadata chars blocked the event
  // loop for seconds (doubling with each extra char). A client config may no longer use `$regex`.
  it('limits.maxJsonDepth bounds a config header as it bounds a body', async () => {
    const g = gateway({ allowRequestConfig: true, limits: { maxJsonDepth: 4 } });
    const config = { targets: [{ provider: 'openai', custom_host: `${up.url}/v1`, override_params: { metadata: { a: { b: { c: 1 } } } } }] };
    const res = await chat(g, { 'x-portkey-config': JSON.stringify(config) });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('x-portkey-config');
  });

  it('a catastrophic-backtracking $regex in a client config cannot stall the event loop', async () => {
    const config = {
      strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.x': { $regex: '^(a+)+$' } }, then: 'a' }], default: 'a' },
      targets: [{ name: 'a', provider: 'mock' }],
    };
    const res = await chat(g(), { 'x-portkey-config': JSON.stringify(config), 'x-portkey-metadata': JSON.stringify({ x: `${'a'.repeat(27)}!` }) }, { model: 'mock' });
    // Refused up front, naming the operator: a client's config may not use $regex at all.
    expect(res.status).toBe(400);
    expect(errorOf(res).message).toMatch(/\$regex/);
  });

  // Brief: "unknown providers must get a clear 4xx naming the field"; the same config in the server's
  // options throws at start-up (cache-stage.ts start-up check). In a request config the semantic step
  // used to catch the error, log a warning and answer 200 with the cache silently degraded.
  it('an unknown cache.embedding.provider in a client config is a 400 naming it', async () => {
    expect(() => createGateway({ logger: false, config: { provider: 'mock', cache: { mode: 'semantic', embedding: { provider: 'nope' } } } })).toThrow(
      /config\.cache\.embedding\.provider/,
    );
    const res = await chat(g(), { 'x-portkey-config': JSON.stringify({ provider: 'mock', cache: { mode: 'semantic', embedding: { provider: 'nope' } } }) }, { model: 'mock' });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('x-portkey-config.cache.embedding.provider');
  });

  // Gap: prototype names as provider ids are a 400, and `__proto__` keys pollute nothing.
  it('__proto__ / constructor as provider or config keys are a 400 or inert', async () => {
    const gw = gateway({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], config: { provider: 'mock' } });
    for (const h of [{ 'x-portkey-provider': 'constructor' }, { 'x-portkey-provider': '__proto__' }, { 'x-portkey-config': '{"provider":"toString"}' }]) {
      const res = await chat(gw, h);
      expect(res.status).toBe(400);
      expect(errorOf(res).param).toMatch(/\.provider$/);
    }
    const res = await chat(gw, {
      'x-portkey-config': `{"provider":"openai","api_key":"k","custom_host":"${up.url}/v1","__proto__":{"custom_host":"http://169.254.169.254"},"constructor":{"prototype":{"polluted":1}},"override_params":{"__proto__":{"model":"evil"}}}`,
    });
    expect(res.status).toBe(200);
    expect(up.requests[0]!.json.model).toBe('gpt-4o-mini');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('model names that are Object.prototype keys', () => {
  // DESIGN: "Never a 500 for bad input". auth-stage.ts reads `plan.aliases[model]`; on a plain object
  // "constructor" / "toString" yielded a function and "__proto__" Object.prototype, and the key's model
  // check threw → 500. Aliases now have no prototype (compile.ts).
  it.each(['constructor', '__proto__', 'toString'])('model "%s" with a model-restricted gateway key is a 4xx, not a 500', async (model) => {
    const g = gateway({ config: { provider: 'mock' }, auth: { keys: [{ key: 'gk-review-0123456789abcdef', name: 'a', models: ['gpt-4o*'] }] } });
    const res = await chat(g, { authorization: 'Bearer gk-review-0123456789abcdef' }, { model });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  // pipeline/chat.ts `state.plan.aliases[requested] ?? requested`: with no alias configured,
  // "constructor" used to go upstream with no model at all and "__proto__" as `{}`.
  it.each(['constructor', '__proto__', 'hasOwnProperty'])('model "%s" is sent upstream as written (no alias configured)', async (model) => {
    const g = gateway({ config: { provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` } });
    await chat(g, {}, { model });
    expect(up.requests[0]!.json.model).toBe(model);
  });
});

describe('conditional routing', () => {
  // README: `conditional` on metadata ... `$exists` (query.ts). route-input.ts fieldOf walked inherited
  // properties, so `metadata.constructor` "existed" on every request, even with no metadata.
  it('$exists does not see inherited Object.prototype properties as metadata', async () => {
    const g = gateway({
      config: {
        strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.constructor': { $exists: true } }, then: 'tagged' }], default: 'plain' },
        targets: [
          { name: 'tagged', provider: 'mock', override_params: { model: 'mock-tagged' } },
          { name: 'plain', provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` },
        ],
      },
    });
    const res = await chat(g, {});
    expect(res.headers['x-llmux-target']).toBe('config.targets[1]');
  });
});

describe('options and server config', () => {
  // DESIGN: seed examples "must work verbatim".
  it.each([
    { strategy: { mode: 'fallback' }, targets: [{ provider: 'openai', api_key: 'sk-...' }, { provider: 'anthropic', api_key: 'sk-ant-...' }, { provider: 'google', api_key: 'AIza...' }] },
    { strategy: { mode: 'loadbalance' }, targets: [{ provider: 'openai', weight: 0.7 }, { provider: 'anthropic', weight: 0.3 }] },
    { cache: { mode: 'semantic', max_age: 3600 }, targets: [{ provider: 'openai' }] },
    { targets: [{ provider: 'openai' }], budget: { max_cost_per_day: 50.0 } },
  ])('seed config %# is accepted verbatim (object and JSON text)', (config) => {
    expect(() => gateway({ config: config as never })).not.toThrow();
    expect(() => gateway({ config: JSON.stringify(config) })).not.toThrow();
  });

  // DESIGN: provider ids "`google` (alias `gemini`)"; `providers` are "per-provider defaults: base URL
  // and key used by every target of that provider". compile.ts looked the defaults up by the canonical
  // id and the target's own spelling only, so `providers.gemini` was ignored for `provider: "google"`
  // targets and for model-name routing (`gemini-…`): calls would go to generativelanguage.googleapis.com
  // without the configured key. Checked on the compiled plan (no network).
  it('providers.gemini defaults apply to google targets and to gemini-* model routing', () => {
    const providers = { gemini: { baseURL: 'http://127.0.0.1:9/v1beta', apiKey: 'gk-server' } };
    const configured = gateway({ providers, config: { provider: 'google' } });
    const root = configured.internals.plans.serverPlan.root as { target: { baseURL: string; apiKey?: string } };
    expect(root.target.baseURL).toBe('http://127.0.0.1:9/v1beta');
    expect(root.target.apiKey).toBe('gk-server');
    const inferred = gateway({ providers });
    const auto = inferred.internals.plans.rootFor(inferred.internals.plans.serverPlan, 'gemini-2.5-flash').root as { target: { baseURL: string } };
    expect(auto.target.baseURL).toBe('http://127.0.0.1:9/v1beta');
  });

  // Brief: createGateway "must throw a clear error naming the bad field for bad options". options.ts
  // accepted any key under `providers`, so a typo silently dropped the server's base URL and key.
  it('an unknown provider id under options.providers is refused, naming it', () => {
    expect(() => createGateway({ logger: false, providers: { opneai: { baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k' } } })).toThrow(/providers\.opneai/);
  });

  // schema.ts `custom_host: z.string().url()` took any scheme; a server config with `ftp://` started
  // fine and every request failed with a 502 "network_error" (a client host with the same value is a 400,
  // ssrf-guard.ts parseRequestHost).
  it('a server custom_host that is not http(s) is refused at start-up, naming the field', () => {
    expect(() => createGateway({ logger: false, config: { provider: 'openai', api_key: 'k', custom_host: 'ftp://127.0.0.1:1/v1' } })).toThrow(/config\.custom_host/);
  });
});
