/** Portkey compatibility and config validation edges from an adversarial review; the regressions are marked. */
/**
 * Adversarial review: Portkey compatibility (the portkey-ai SDK and raw x-portkey-* headers) and config
 * validation, in `createGateway({ config })` and in a client's `x-portkey-config` header.
 */
import { Portkey } from 'portkey-ai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';

const TEXT = fixtureJson('openai/chat-completions.text.json');
const DOWN = { status: 503, json: { error: { message: 'The server is overloaded', type: 'server_error' } } };

let up: MockUpstream;
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
beforeEach(() => {
  up.reset();
  up.route('/v1/embeddings', topicEmbeddings);
});

const gateways: Gateway[] = [];
const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all([...gateways.splice(0).map((g) => g.close(100)), ...apps.splice(0).map((a) => a.close())]);
});
function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ logger: false, ...options });
  gateways.push(g);
  return g;
}
async function app(options: AppOptions): Promise<TestApp> {
  const a = await appFactories.express5!({ logger: false, ...options });
  apps.push(a);
  return a;
}

const chat = (g: Gateway, headers: Record<string, string> = {}, body: Record<string, unknown> = {}) =>
  g.handle({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', ...headers },
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body },
  });
const errorOf = (res: { body: unknown }) => (res.body as { error: { message: string; param: string; code: string; type: string } }).error;
const chatCalls = () => up.requests.filter((r) => r.path === '/v1/chat/completions');

describe('Portkey: config without provider or targets', () => {
  // Portkey's own config schema accepts a config that only sets `retry`, `cache` or `request_timeout`
  // (its refine: "either 'provider' and 'api_key', or 'strategy' and 'targets', or 'cache', or 'retry',
  // or 'request_timeout'"), and its gateway then takes the provider from `x-portkey-provider` and the
  // key from `Authorization` (handlerUtils.ts constructConfigFromRequestHeaders: "if
  // (!parsedConfigJson.provider && !parsedConfigJson.targets) { parsedConfigJson.provider =
  // requestHeaders['x-portkey-provider']; parsedConfigJson.api_key = authorization }"). That is the
  // portkey-ai SDK's everyday shape: `new Portkey({ provider, Authorization, config: { retry } })`.
  //
  // Expected: the request goes to the provider the client named, with the client's own key, and the
  // config's retry applies (503 then 200 → 200, x-portkey-retry-attempt-count 1).
  // Was: the provider header and Authorization are silently dropped; the request runs on the
  // SERVER's config root with the SERVER's key (billed to the server), and the client's retry is lost
  // (503 answered to the client).
  // Diagnosis: pipeline/resolve-plan.ts:62-64 — when a config header is present the provider header is
  // never read; compileConfig (config/compile.ts:186) gives the plan no `root`, and compileCached's
  // `{ ...this.serverPlan, ...compiled }` (resolve-plan.ts:90-92) then keeps the server's root.
  it('portkey-ai SDK with provider + Authorization + config { retry }: the client’s provider, key and retry are used', async () => {
    up.enqueue('/v1/chat/completions', DOWN);
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({
      allowRequestConfig: true,
      providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server-key' } },
      config: { provider: 'openai' },
    });
    const client = new Portkey({
      baseURL: `${a.gatewayURL}/v1`,
      apiKey: 'unused',
      provider: 'openai',
      Authorization: 'Bearer sk-client-own',
      config: { retry: { attempts: 2 } },
      maxRetries: 0,
    } as any);
    const res = (await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })) as any;
    expect(res.choices[0].message.content).toBe(TEXT.choices[0].message.content);
    expect(chatCalls().map((r) => r.headers.authorization)).toEqual(['Bearer sk-client-own', 'Bearer sk-client-own']);
    expect(res.getHeaders()['retry-attempt-count']).toBe('1');
  });

  // The same Portkey shape in the server's own options, routing by model name (README: "Without a
  // config, the model name picks the provider"): `{ retry, request_timeout, override_params }` with no
  // targets. Expected: the model-name target is retried (503 then 200 → 200).
  // Was: 503 — `retry` (and request_timeout, override_params, forward_headers) at the top of a config
  // without `provider`/`targets` is accepted and silently ignored.
  // Diagnosis: config/compile.ts:186 builds `plan.root` only when `cfg.targets?.length || cfg.provider`;
  // the model-name target (pipeline/resolve-plan.ts:120, `resolveTarget({ provider: found.provider }, 'auto', …)`)
  // is resolved from the provider id alone, so the config's target settings never reach it.
  it('server config { retry } without targets: the model-name target is retried', async () => {
    up.enqueue('/v1/chat/completions', DOWN);
    up.route('/v1/chat/completions', { json: TEXT });
    const g = gateway({ providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server-key' } }, config: { retry: { attempts: 2 } } });
    const res = await chat(g);
    expect(res.status).toBe(200);
    expect(chatCalls()).toHaveLength(2);
    expect(res.headers['x-portkey-retry-attempt-count']).toBe('1');
  });
});

describe('Portkey: request_timeout answers 408, so on_status_codes [408] catches it', () => {
  // Portkey's docs (product/ai-gateway/request-timeouts, "Handling Request Timeouts"): "Portkey issues a
  // standard 408 error for timed-out requests. You can leverage this by setting up fallback or retry
  // strategies through the on_status_codes parameter" — with the documented configs
  // `{ strategy: { mode: 'fallback', on_status_codes: [408] }, targets: [{ …, request_timeout: 2000 }, …] }`
  // and `{ retry: { attempts: 3, on_status_codes: [408] }, request_timeout: 1000 }`. README: Portkey
  // configs "work unchanged".
  // Expected: the timed-out first target falls back (or is retried) and the client gets the 200.
  // Was: a timeout is `upstream_timeout` with status 504 (errors.ts:20), which is not in [408]: the
  // fallback stops at the first target and the client gets a 504; the retry never happens.
  // Diagnosis: router/execute.ts:57-59 (`codes.includes(error.status)`) and router/retry-policy.ts:20
  // compare the 504 against the list. Fix: let an `upstream_timeout` match 408 in both lists (or
  // answer timeouts with 408 as Portkey does).
  it('fallback with on_status_codes [408] moves on when request_timeout expires', async () => {
    up.route('/slow/v1/chat/completions', { delayMs: 3000, json: TEXT });
    up.route('/v1/chat/completions', { json: TEXT });
    const g = gateway({
      config: {
        strategy: { mode: 'fallback', on_status_codes: [408] },
        targets: [
          { provider: 'openai', api_key: 'k1', custom_host: `${up.url}/slow/v1`, request_timeout: 200 },
          { provider: 'openai', api_key: 'k2', custom_host: `${up.url}/v1` },
        ],
      },
    });
    const res = await chat(g);
    expect(res.status).toBe(200);
    expect(res.headers['x-llmux-target']).toBe('config.targets[1]');
  });

  it('retry with on_status_codes [408] retries a target whose request_timeout expired', async () => {
    up.enqueue('/v1/chat/completions', { delayMs: 3000, json: TEXT });
    up.route('/v1/chat/completions', { json: TEXT });
    const g = gateway({
      routing: { backoffBaseMs: 1 },
      config: { retry: { attempts: 2, on_status_codes: [408] }, request_timeout: 200, targets: [{ provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` }] },
    });
    const res = await chat(g);
    expect(res.status).toBe(200);
    expect(res.headers['x-portkey-retry-attempt-count']).toBe('1');
  });
});

describe('Portkey response header values', () => {
  // Portkey's documented values (portkey.ai/docs/api-reference/inference-api/response-schema):
  // x-portkey-cache-status is "HIT", "SEMANTIC HIT", "MISS", "SEMANTIC MISS", "DISABLED" or "REFRESH".
  // Expected: a semantic hit reads `SEMANTIC HIT` under Portkey's name (x-llmux-cache keeps SEMANTIC_HIT).
  // Was: `SEMANTIC_HIT` — code written against Portkey (dashboards, `=== 'SEMANTIC HIT'` checks,
  // hit-rate counters) never sees a semantic hit.
  // Diagnosis: http/headers.ts:65 copies the llmux value verbatim into x-portkey-cache-status.
  it('a semantic hit is "SEMANTIC HIT" under x-portkey-cache-status', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({
      config: {
        cache: { mode: 'semantic', threshold: 0.9 },
        targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/v1` }],
      },
    });
    const client = new Portkey({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 } as any);
    const first = (await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'What is Python?' }] })) as any;
    expect(first.getHeaders()['cache-status']).toMatch(/MISS/);
    const second = (await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Tell me about Python' }] })) as any;
    expect(chatCalls()).toHaveLength(1); // it was a hit
    expect(second.getHeaders()['cache-status']).toBe('SEMANTIC HIT');
  });

  // Portkey's documented value: "x-portkey-last-used-option-index — the nested target index (as
  // jsonpath)"; its gateway passes `currentJsonPath` (e.g. `config.targets[1].targets[0]`) as the index
  // (handlerUtils.ts tryTargetsRecursively → tryPost(…, currentJsonPath) → updateResponseHeaders).
  // A Portkey user's captured response shows the same (portkey.hall.community, "Understanding Fallback
  // Configuration…": "x-portkey-last-used-option-index": "config.targets[0]").
  // DESIGN: "the same facts under Portkey's names" — x-llmux-target is that path. (Fixing this changes
  // routing-portkey.test.ts:79, which pins the old numeric value '1'.)
  // Expected: `config.targets[1].targets[0]`. Actual: `0` — the index among the parent's children only,
  // which reads the same for config.targets[0].targets[0] and config.targets[1].targets[0], so a
  // migrated dashboard cannot tell the primary group from the fallback group.
  // Diagnosis: http/headers.ts:62 writes `f.targetIndex` (ResolvedTarget.index) instead of `f.target`.
  it('x-portkey-last-used-option-index names the nested target as Portkey does (a JSON path)', async () => {
    up.route('/down/v1/chat/completions', DOWN);
    up.route('/v1/chat/completions', { json: TEXT });
    const g = gateway({
      config: {
        strategy: { mode: 'fallback' },
        targets: [
          { strategy: { mode: 'single' }, targets: [{ provider: 'openai', api_key: 'k1', custom_host: `${up.url}/down/v1` }] },
          { strategy: { mode: 'single' }, targets: [{ provider: 'openai', api_key: 'k2', custom_host: `${up.url}/v1` }] },
        ],
      },
    });
    const res = await chat(g);
    expect(res.status).toBe(200);
    expect(res.headers['x-llmux-target']).toBe('config.targets[1].targets[0]');
    expect(res.headers['x-portkey-last-used-option-index']).toBe('config.targets[1].targets[0]');
  });

  // Gap (untested): the SDK's `traceID`, `cacheForceRefresh` and `metadata` options reach the gateway
  // under x-portkey-* and come back under Portkey's names.
  it('portkey-ai SDK traceID / cacheForceRefresh / metadata come back under Portkey’s header names', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const a = await app({
      config: { cache: { mode: 'simple' }, targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/v1` }] },
    });
    const make = (extra: object) => new Portkey({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0, ...extra } as any);
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
    const miss = (await make({ traceID: 'trace-abc-1', metadata: { _user: 'u1', env: 'prod' } }).chat.completions.create(ask)) as any;
    expect(miss.getHeaders()).toMatchObject({ 'trace-id': 'trace-abc-1', 'cache-status': 'MISS', provider: 'openai', 'retry-attempt-count': '0' });
    const hit = (await make({}).chat.completions.create(ask)) as any;
    expect(hit.getHeaders()['cache-status']).toBe('HIT');
    const refresh = (await make({ cacheForceRefresh: true }).chat.completions.create(ask)) as any;
    expect(refresh.getHeaders()['cache-status']).toBe('REFRESH');
    expect(chatCalls()).toHaveLength(2);
  });
});

describe('Portkey provider ids', () => {
  // Portkey names Perplexity `perplexity-ai` (src/globals.ts: PERPLEXITY_AI = 'perplexity-ai'), as it
  // names `mistral-ai`, `together-ai`, `fireworks-ai` and `x-ai`, which the registry maps. README:
  // Portkey configs "work unchanged".
  // Expected: a target `{ provider: 'perplexity-ai' }` routes to the `perplexity` preset.
  // Was: createGateway throws `unknown provider "perplexity-ai"` (a client's header config: 400).
  // Diagnosis: providers/registry.ts:10-20 — ALIASES lacks `'perplexity-ai': 'perplexity'`.
  it('a Portkey config naming perplexity-ai is accepted and routed to Perplexity', async () => {
    up.route('/v1/chat/completions', { json: TEXT });
    const g = gateway({ config: { provider: 'perplexity-ai', api_key: 'pplx-k', custom_host: `${up.url}/v1` } });
    const res = await chat(g, {}, { model: 'sonar' });
    expect(res.status).toBe(200);
    expect(res.headers['x-portkey-provider']).toBe('perplexity');
  });
});

describe('config validation: unknown keys in closed objects', () => {
  // DESIGN (Errors): "a bad request is 400 naming the bad field"; brief: unknown keys must be reported.
  // Target-level unknown keys are provider settings by design (schema.ts header comment), but
  // `strategy`, `retry`, `cache`, `budget`, `rate_limit` and `circuit_breaker` have fixed fields, and zod's
  // default `z.object` strips what it does not know. A typo or an unsupported window is accepted and
  // dropped: `tokens_per_minutes` or `max_cost_per_week` leaves that limit unenforced (spend and traffic
  // past what the operator wrote), `on_status_code` makes a fallback move on for every error, and
  // Portkey's `cb_config` on a strategy leaves the service with no breaker — each without a word.
  // Expected: createGateway throws naming the field; a client's header gets a 400 naming it.
  // Was: accepted (server) and 200 (client).
  // Diagnosis: config/schema.ts:21-86 — retrySchema, cacheSchema, budgetSchema, rateLimitSchema,
  // circuitBreakerSchema and strategySchema are `z.object` (strip); `z.strictObject` would report
  // "Unrecognized key" with its path, which formatIssues already turns into `config.budget.…`.
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['budget window that does not exist', { provider: 'mock', budget: { max_cost_per_day: 50, max_cost_per_week: 100 } }, 'budget'],
    ['rate_limit typo', { provider: 'mock', rate_limit: { requests_per_minute: 60, tokens_per_minutes: 1000 } }, 'rate_limit'],
    ['strategy typo', { strategy: { mode: 'fallback', on_status_code: [429] }, targets: [{ provider: 'mock' }, { provider: 'mock' }] }, 'strategy'],
    ['Portkey cb_config on a strategy', { strategy: { mode: 'fallback', cb_config: { failure_threshold: 3, cooldown_interval: 30000 } }, targets: [{ provider: 'mock' }] }, 'strategy'],
    ['cache camelCase max age', { provider: 'mock', cache: { mode: 'simple', maxAge: 60 } }, 'cache'],
  ];
  it('createGateway throws naming each unknown field', () => {
    const accepted: string[] = [];
    for (const [name, config, field] of cases) {
      try {
        gateways.push(createGateway({ logger: false, config: config as any }));
        accepted.push(name);
      } catch (e) {
        expect((e as Error).message).toContain(`config.${field}`);
      }
    }
    expect(accepted).toEqual([]);
  });
  it('a client config header with an unknown field is a 400 naming it', async () => {
    const g = gateway({ allowRequestConfig: true, config: { provider: 'mock' } });
    const accepted: string[] = [];
    for (const [name, config, field] of cases) {
      const res = await chat(g, { 'x-portkey-config': JSON.stringify(config) }, { model: 'mock-model' });
      if (res.status === 200) accepted.push(name);
      else {
        expect(res.status).toBe(400);
        expect(errorOf(res).param).toContain(`x-portkey-config.${field}`);
      }
    }
    expect(accepted).toEqual([]);
  });
});

describe('config validation: what is already reported clearly (untested shapes)', () => {
  // Gap: bad shapes other than `weight: "heavy"` were not covered, on either path.
  const bad: Array<[string, unknown, string]> = [
    ['empty targets', { strategy: { mode: 'fallback' }, targets: [] }, 'targets'],
    ['negative weight', { strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock', weight: -1 }] }, 'targets[0].weight'],
    ['string request_timeout', { targets: [{ provider: 'mock', request_timeout: '5000' }] }, 'targets[0].request_timeout'],
    ['string retry.attempts', { retry: { attempts: '3' }, targets: [{ provider: 'mock' }] }, 'retry.attempts'],
    ['string max_age', { cache: { mode: 'simple', max_age: '3600' }, targets: [{ provider: 'mock' }] }, 'cache.max_age'],
    ['unknown mode', { strategy: { mode: 'round-robin' }, targets: [{ provider: 'mock' }] }, 'strategy.mode'],
    ['string on_status_codes', { strategy: { mode: 'fallback', on_status_codes: ['429'] }, targets: [{ provider: 'mock' }] }, 'strategy.on_status_codes[0]'],
    ['conditional with neither conditions nor default', { strategy: { mode: 'conditional' }, targets: [{ provider: 'mock', name: 'a' }] }, 'strategy'],
    ['conditional default naming no target', { strategy: { mode: 'conditional', conditions: [], default: 'b' }, targets: [{ provider: 'mock', name: 'a' }] }, 'strategy.default'],
  ];
  it.each(bad)('%s → createGateway throws and a header gets a 400, both naming the field', async (_name, config, field) => {
    expect(() => createGateway({ logger: false, config: config as any })).toThrow(`config.${field}`);
    const g = gateway({ allowRequestConfig: true, config: { provider: 'mock' } });
    const res = await chat(g, { 'x-portkey-config': JSON.stringify(config) }, { model: 'mock-model' });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ type: 'invalid_request_error', code: 'invalid_config' });
    expect(errorOf(res).param.startsWith(`x-portkey-config.${field}`)).toBe(true);
  });

  // A conditional without default whose conditions do not match: Portkey throws at request time; here a
  // 400 naming the strategy, not a 500.
  it('a conditional without default that matches nothing is a 400 naming the strategy', async () => {
    const g = gateway({
      allowRequestConfig: true,
      config: {
        strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': { $eq: 'pro' } }, then: 'a' }] },
        targets: [{ name: 'a', provider: 'mock' }],
      },
    });
    const res = await chat(g, { 'x-portkey-metadata': JSON.stringify({ tier: 'free' }) }, { model: 'mock-model' });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('config.strategy.conditions');
  });
});
