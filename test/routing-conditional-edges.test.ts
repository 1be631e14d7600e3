/**
 * Adversarial review: routing strategy trees, conditional routing, model aliases and /v1/models.
 * Judged against DESIGN.md, README.md ("Routing", "Routes") and Portkey's documented config semantics
 * (docs: product/ai-gateway/conditional-routing; Portkey-AI/gateway src/services/conditionalRouter.ts).
 * Tests for bugs assert the correct behaviour and carry a `// BUG:` line.
 */
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayConfig, type GatewayOptions } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';

const CHAT = '/v1/chat/completions';

/** An OpenAI completion whose text says which upstream prefix answered and with which model. */
function completion(content: string, model: string) {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
  };
}

let up: MockUpstream;
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
beforeEach(() => {
  up.reset();
  // Every path answers with "<first path segment>" as the content, e.g. "eu" for /eu/v1/chat/completions.
  up.route('*', (req: RecordedRequest) => ({ json: completion(req.path.split('/')[1]!, req.json?.model ?? '?') }));
});

const gateways: Gateway[] = [];
const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all([...gateways.splice(0).map((g) => g.close(100)), ...apps.splice(0).map((a) => a.close())]);
});
function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ logger: false, env: {}, ...options });
  gateways.push(g);
  return g;
}
async function app(options: AppOptions): Promise<TestApp> {
  const a = await appFactories.express5!({ logger: false, env: {}, ...options } as AppOptions);
  apps.push(a);
  return a;
}

/** An OpenAI target on the mock upstream under `/<name>/v1`. */
const at = (name: string, extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: `sk-${name}`, custom_host: `${up.url}/${name}/v1`, ...extra });

const chat = (g: Gateway, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  g.handle({
    method: 'POST',
    path: CHAT,
    headers: { 'content-type': 'application/json', ...headers },
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body },
  });
const contentOf = (res: { body: unknown }) => (res.body as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;
const errorOf = (res: { body: unknown }) =>
  (res.body as { error: { message: string; param: string | null; code: string; type: string; attempts?: Array<{ target: string; status?: number }> } }).error;
const callsTo = (prefix: string) => up.requests.filter((r) => r.path === `/${prefix}${CHAT}`);

describe('conditional routing on metadata and params', () => {
  it('routes on x-portkey-metadata and on request params with the OpenAI SDK; the headers name the target', async () => {
    const a = await app({
      config: {
        strategy: {
          mode: 'conditional',
          conditions: [
            { query: { 'metadata.tier': { $eq: 'pro' } }, then: 'pro' },
            { query: { $and: [{ 'params.temperature': { $gte: 0.9 } }, { 'params.max_tokens': { $lt: 100 } }] }, then: 'creative' },
          ],
          default: 'free',
        },
        targets: [
          at('pro', { name: 'pro', override_params: { model: 'gpt-4o' } }),
          at('creative', { name: 'creative' }),
          at('free', { name: 'free', override_params: { model: 'gpt-4o-mini' } }),
        ],
      },
    });
    const client = new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ask = { model: 'whatever', messages: [{ role: 'user' as const, content: 'Hi' }] };

    const pro = await client.chat.completions.create(ask, { headers: { 'x-portkey-metadata': JSON.stringify({ tier: 'pro' }) } }).withResponse();
    expect(pro.data.choices[0]!.message.content).toBe('pro');
    expect(callsTo('pro')[0]!.json.model).toBe('gpt-4o');
    expect(pro.response.headers.get('x-llmux-target')).toBe('config.targets[0]');
    expect(pro.response.headers.get('x-portkey-last-used-option-index')).toBe('config.targets[0]');

    const creative = await client.chat.completions.create({ ...ask, temperature: 1, max_tokens: 50 }).withResponse();
    expect(creative.data.choices[0]!.message.content).toBe('creative');
    expect(callsTo('creative')[0]!.json.model).toBe('whatever');
    expect(creative.response.headers.get('x-llmux-target')).toBe('config.targets[1]');

    const free = await client.chat.completions.create({ ...ask, temperature: 1, max_tokens: 500 }).withResponse();
    expect(free.data.choices[0]!.message.content).toBe('free');
    expect(free.response.headers.get('x-llmux-target')).toBe('config.targets[2]');
  });

  // Portkey's metadata values are strings (its docs: "Metadata values must be strings"; the portkey-ai
  // SDK sends them so), and its router compares $gt/$gte/$lt/$lte with parseFloat on both sides
  // (conditionalRouter.ts). A Portkey config `{"metadata.level": {"$gte": "10"}}` therefore sends
  // level "9" to the default. llmux compares two strings lexically ("9" >= "10"), so a level-9 user
  // is routed to the level-10+ (premium, costlier) target — a config that "must work verbatim" routes
  // differently from Portkey.
  // BUG: $gt/$gte/$lt/$lte compare numeric strings lexically ("9" >= "10"), unlike Portkey's numeric comparison
  it('$gte with a numeric string operand compares numbers, as Portkey does ("9" is not >= "10")', async () => {
    const a = await app({
      config: {
        strategy: {
          mode: 'conditional',
          conditions: [{ query: { 'metadata.level': { $gte: '10' } }, then: 'premium' }],
          default: 'basic',
        },
        targets: [at('premium', { name: 'premium' }), at('basic', { name: 'basic' })],
      },
    });
    const client = (level: string) =>
      new Portkey({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0, metadata: { level } } as never) as unknown as OpenAI;
    const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
    expect((await client('12').chat.completions.create(ask)).choices[0]!.message.content).toBe('premium');
    expect((await client('9').chat.completions.create(ask)).choices[0]!.message.content).toBe('basic');
  });

  it('operator edge cases: missing fields, types, arrays and $exists behave as Mongo/Portkey queries do', async () => {
    const g = gateway({
      config: {
        strategy: {
          mode: 'conditional',
          conditions: [
            { query: { 'metadata.region': { $in: ['eu', 'uk'] } }, then: 'eu' },
            { query: { 'metadata.flags': { $in: ['beta'] } }, then: 'beta' },
            { query: { 'metadata.seats': { $gt: 100 } }, then: 'big' },
            { query: { 'metadata.team': { $exists: false }, 'metadata.env': { $ne: 'prod' } }, then: 'anon' },
          ],
          default: 'rest',
        },
        targets: [at('eu', { name: 'eu' }), at('beta', { name: 'beta' }), at('big', { name: 'big' }), at('anon', { name: 'anon' }), at('rest', { name: 'rest' })],
      },
    });
    const meta = (m: unknown) => ({ 'x-llmux-metadata': JSON.stringify(m) });
    expect(contentOf(await chat(g, {}, meta({ region: 'uk', team: 't' })))).toBe('eu');
    // An array value matches $in when any element does.
    expect(contentOf(await chat(g, {}, meta({ flags: ['x', 'beta'], team: 't' })))).toBe('beta');
    // Numbers sent as strings compare as numbers against a number operand.
    expect(contentOf(await chat(g, {}, meta({ seats: '250', team: 't' })))).toBe('big');
    expect(contentOf(await chat(g, {}, meta({ seats: '99', team: 't' })))).toBe('rest');
    // A missing field: $gt does not hold, $exists:false and $ne do.
    expect(contentOf(await chat(g, {}, meta({})))).toBe('anon');
    expect(contentOf(await chat(g, {}, meta({ env: 'prod' })))).toBe('rest');
    // Inherited properties are not fields the client sent.
    expect(contentOf(await chat(g, {}, meta({ region: 'constructor', team: 't' })))).toBe('rest');
  });
});

describe('strategy trees', () => {
  it('loadbalance → fallback → conditional: deep JSON path in both headers, override_params merged at every level', async () => {
    up.route('/down/v1/chat/completions', { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } });
    const a = await app({
      config: {
        override_params: { temperature: 0.1, max_tokens: 50 },
        strategy: { mode: 'loadbalance' },
        targets: [
          {
            weight: 1,
            override_params: { max_tokens: 20 },
            strategy: { mode: 'fallback' },
            targets: [
              at('down'),
              {
                override_params: { top_p: 0.5 },
                strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.region': 'eu' } , then: 'eu' }], default: 'us' },
                targets: [at('eu', { name: 'eu', override_params: { model: 'gpt-eu' } }), at('us', { name: 'us' })],
              },
            ],
          },
          { ...at('never'), weight: 0 },
        ],
      },
    });
    const client = new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const res = await client.chat.completions
      .create({ model: 'gpt-4o-mini', temperature: 0.9, messages: [{ role: 'user', content: 'Hi' }] }, { headers: { 'x-llmux-metadata': '{"region":"eu"}' } })
      .withResponse();
    expect(res.data.choices[0]!.message.content).toBe('eu');
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[0].targets[1].targets[0]');
    expect(res.response.headers.get('x-portkey-last-used-option-index')).toBe('config.targets[0].targets[1].targets[0]');
    expect(callsTo('down')).toHaveLength(1);
    expect(callsTo('never')).toHaveLength(0);
    const sent = callsTo('eu')[0]!.json;
    expect(sent).toMatchObject({ model: 'gpt-eu', temperature: 0.1, max_tokens: 20, top_p: 0.5 });
    // The same overrides reached the failed sibling (without the conditional branch's top_p).
    expect(callsTo('down')[0]!.json).toMatchObject({ model: 'gpt-4o-mini', temperature: 0.1, max_tokens: 20 });
    expect(callsTo('down')[0]!.json.top_p).toBeUndefined();
  });

  it('no condition matches and there is no default: a 400 naming the nested strategy, and no upstream call', async () => {
    const a = await app({
      config: {
        strategy: { mode: 'loadbalance' },
        targets: [
          {
            strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': 'pro' }, then: 'pro' }] },
            targets: [at('pro', { name: 'pro' })],
          },
        ],
      },
    });
    const client = new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.error.param).toBe('config.targets[0].strategy.conditions');
    expect(up.requests).toHaveLength(0);
  });

  it('a fallback tree where every target fails: 502 listing every attempt in order, retries included', async () => {
    up.route('/a/v1/chat/completions', { status: 500, json: { error: { message: 'boom-a', type: 'server_error' } } });
    up.route('/b/v1/chat/completions', { status: 429, json: { error: { message: 'slow down b', type: 'rate_limit_error' } } });
    up.route('/c/v1/chat/completions', { reset: true });
    up.route('/d/v1/chat/completions', { status: 503, json: { error: { message: 'overloaded d', type: 'server_error' } } });
    const g = gateway({
      routing: { sleep: async () => undefined },
      config: {
        strategy: { mode: 'fallback' },
        targets: [
          at('a'),
          { strategy: { mode: 'fallback' }, targets: [at('b'), at('c')] },
          at('d', { retry: { attempts: 1 } }),
        ],
      },
    });
    const res = await chat(g);
    expect(res.status).toBe(502);
    const error = errorOf(res);
    expect(error.code).toBe('all_targets_failed');
    expect(error.attempts!.map((x) => [x.target, x.status])).toEqual([
      ['config.targets[0]', 500],
      ['config.targets[1].targets[0]', 429],
      ['config.targets[1].targets[1]', 502],
      ['config.targets[2]', 503],
      ['config.targets[2]', 503],
    ]);
    const order = ['config.targets[0]:', 'config.targets[1].targets[0]:', 'config.targets[1].targets[1]:', 'config.targets[2]:'].map((p) => error.message.indexOf(p));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    expect(res.headers['x-llmux-target']).toBe('config.targets[2]');
    expect(res.headers['x-llmux-retries']).toBe('1');
  });

  it('loadbalance over 1,000 requests follows the weights, nested groups included; weight 0 gets nothing', async () => {
    const g = gateway({
      config: {
        strategy: { mode: 'loadbalance' },
        targets: [
          { provider: 'mock', weight: 5 },
          { provider: 'mock', weight: 3 },
          { weight: 2, strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock' }, { provider: 'mock' }] },
          { provider: 'mock', weight: 0 },
        ],
      },
    });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const res = await chat(g, { model: 'mock-1' });
      expect(res.status).toBe(200);
      counts[res.headers['x-llmux-target']!] = (counts[res.headers['x-llmux-target']!] ?? 0) + 1;
    }
    // Each bound is over 4 standard deviations wide: a sane split passes, a wrong one does not.
    const share = (p: string) => (counts[p] ?? 0) / 10;
    expect(share('config.targets[0]')).toBeGreaterThan(43);
    expect(share('config.targets[0]')).toBeLessThan(57);
    expect(share('config.targets[1]')).toBeGreaterThan(24);
    expect(share('config.targets[1]')).toBeLessThan(36);
    expect(share('config.targets[2].targets[0]')).toBeGreaterThan(5);
    expect(share('config.targets[2].targets[0]')).toBeLessThan(15);
    expect(share('config.targets[2].targets[1]')).toBeGreaterThan(5);
    expect(share('config.targets[2].targets[1]')).toBeLessThan(15);
    expect(counts['config.targets[3]']).toBeUndefined();
  });
});

describe('config errors at createGateway', () => {
  const targets = [{ name: 'a', provider: 'mock' }, { name: 'b', provider: 'mock' }];
  it('a condition or default naming an unknown target, an invalid $regex: refused, naming the field', () => {
    expect(() =>
      createGateway({
        logger: false,
        config: {
          strategy: { mode: 'fallback' },
          targets: [
            { provider: 'mock' },
            { strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.x': 1 }, then: 'a' }, { query: { 'metadata.y': 1 }, then: 'zzz' }] }, targets },
          ],
        },
      }),
    ).toThrow(/config\.targets\[1\]\.strategy\.conditions\[1\]\.then.*"zzz"/);
    expect(() => createGateway({ logger: false, config: { strategy: { mode: 'conditional', conditions: [], default: 'nope' }, targets } })).toThrow(/config\.strategy\.default.*"nope"/);
    expect(() =>
      createGateway({ logger: false, config: { strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.x': { $regex: '(' } }, then: 'a' }] }, targets } }),
    ).toThrow(/config\.strategy\.conditions\[0\]\.query\.metadata\.x\.\$regex/);
  });

  // Portkey: "targets: Array of target objects with unique names … referenced in the conditions".
  // llmux silently keeps the first of two targets called "b": a copied block whose name was not
  // changed makes the second target unreachable, with no error anywhere.
  // BUG: duplicate target names under a conditional strategy are accepted; the second can never be chosen
  it('two targets of one conditional strategy with the same name are refused at start-up, naming the second', () => {
    expect(() =>
      createGateway({
        logger: false,
        config: {
          strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': 'pro' }, then: 'b' }], default: 'a' },
          targets: [{ name: 'a', provider: 'mock' }, { name: 'b', provider: 'mock' }, { name: 'b', provider: 'mock', mock_response: 'the real pro' }],
        },
      }),
    ).toThrow(/config\.targets\[2\]/);
  });
});

describe('$regex in the server config', () => {
  // README: "$regex in the server's config only (… a pattern can take exponential time; a value over
  // 1024 characters never matches)". The 1024 bound does not bound an exponential pattern: here a
  // 28-character client-chosen metadata value blocks the event loop (every request of the process) for
  // about half a second, doubling with each further character (at 50 characters, weeks). The value is the client's, the pattern a common
  // "words separated by spaces" check.
  // BUG: a server $regex with nested quantifiers lets a client's short metadata value block the whole process
  it('a backtracking-prone $regex is refused at start-up, naming it; a linear one routes', async () => {
    const config = (pattern: string): GatewayConfig => ({
      strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.title': { $regex: pattern } }, then: 'a' }], default: 'b' },
      targets: [{ name: 'a', provider: 'mock', mock_response: 'a' }, { name: 'b', provider: 'mock', mock_response: 'b' }],
    });
    expect(() => gateway({ config: config('^(\\w+\\s?)+$') })).toThrow(/config\.strategy\.conditions\[0\]\.query\.metadata\.title\.\$regex.*nests quantifiers/);
    const g = gateway({ config: config('^[\\w ]+$') });
    const meta = (title: string) => ({ 'x-llmux-metadata': JSON.stringify({ title }) });
    expect(contentOf(await chat(g, { model: 'mock-1' }, meta('hello world')))).toBe('a');
    const started = performance.now();
    const res = await chat(g, { model: 'mock-1' }, meta(`${'a '.repeat(500)}!`));
    expect(res.status).toBe(200);
    expect(contentOf(res)).toBe('b');
    // Generous: the pattern is linear, so this is microseconds; the bound only catches backtracking.
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('model aliases', () => {
  // README: "`model_aliases`: { "fast": "gpt-4o-mini" }", and "A config without targets may still set …"
  // for the target the model name picks. With aliases but no targets, the alias is listed by
  // GET /v1/models, yet a chat with it is a 400 "cannot tell which provider serves model fast": the
  // provider is inferred from the alias instead of the model it stands for.
  // BUG: model_aliases do nothing without targets — the provider is inferred from the alias name, not its model
  it('an alias works in a config without targets: the model it names picks the provider', async () => {
    const g = gateway({
      providers: { openai: { baseURL: `${up.url}/auto/v1`, apiKey: 'sk-server' } },
      config: { model_aliases: { fast: 'gpt-4o-mini' } },
    });
    const list = await g.handle({ method: 'GET', path: '/v1/models', headers: {} });
    expect((list.body as { data: Array<{ id: string }> }).data.map((m) => m.id)).toContain('fast');
    const res = await chat(g, { model: 'fast' });
    expect(res.status).toBe(200);
    expect(callsTo('auto')[0]!.json.model).toBe('gpt-4o-mini');
  });

  it('with targets: the upstream gets the aliased model, a target override wins, and conditions see the name the client sent', async () => {
    const g = gateway({
      config: {
        model_aliases: { fast: 'gpt-4o-mini', smart: 'gpt-4o' },
        strategy: { mode: 'conditional', conditions: [{ query: { model: { $eq: 'smart' } }, then: 'smart' }], default: 'plain' },
        targets: [at('smart', { name: 'smart', override_params: { model: 'o3' } }), at('plain', { name: 'plain' })],
      },
    });
    const fast = await chat(g, { model: 'fast' });
    expect(contentOf(fast)).toBe('plain');
    expect(callsTo('plain')[0]!.json.model).toBe('gpt-4o-mini');
    const smart = await chat(g, { model: 'smart' });
    expect(contentOf(smart)).toBe('smart');
    expect(callsTo('smart')[0]!.json.model).toBe('o3');
  });

  // Two aliases of one model, routed apart by a condition on `model` (Portkey's documented
  // "model-based routing"). The exact-cache key holds the aliased model (gpt-4o-mini) and only the
  // metadata/identity fields conditions read, so the second alias is answered from the cache with the
  // other target's answer: x-llmux-cache HIT, content from "premium".
  // BUG: the cache key ignores the requested model name that a condition routes on when aliases share a model
  it('a cached answer of one alias never answers another alias that conditions route elsewhere', async () => {
    const g = gateway({
      config: {
        cache: { mode: 'simple' },
        model_aliases: { fast: 'gpt-4o-mini', cheap: 'gpt-4o-mini' },
        strategy: { mode: 'conditional', conditions: [{ query: { model: 'fast' }, then: 'premium' }], default: 'standard' },
        targets: [at('premium', { name: 'premium' }), at('standard', { name: 'standard' })],
      },
    });
    const first = await chat(g, { model: 'fast' });
    expect(contentOf(first)).toBe('premium');
    const second = await chat(g, { model: 'cheap' });
    expect(second.headers['x-llmux-cache']).toBe('MISS');
    expect(contentOf(second)).toBe('standard');
    expect(second.headers['x-llmux-target']).toBe('config.targets[1]');
  });
});

describe('caching and conditions on params', () => {
  // OpenAI's `user` field is the end-user id; routing VIP users to a dedicated deployment on it is a
  // natural `params.user` condition. `user` is left out of the cache key as "never changes the answer"
  // (cache-key.ts NOT_ANSWER), and conditional fields are added to the key only for metadata.* and
  // identity.*, so the non-VIP request is served the VIP target's cached answer.
  // BUG: a condition on params.user (or other key-excluded params) is not part of the cache key: answers cross targets
  it('a condition on params.user picks the target, so it is part of the cache key', async () => {
    const g = gateway({
      config: {
        cache: { mode: 'simple' },
        strategy: { mode: 'conditional', conditions: [{ query: { 'params.user': { $in: ['vip-1'] } }, then: 'vip' }], default: 'std' },
        targets: [at('vip', { name: 'vip' }), at('std', { name: 'std' })],
      },
    });
    expect(contentOf(await chat(g, { user: 'vip-1' }))).toBe('vip');
    const other = await chat(g, { user: 'someone-else' });
    expect(other.headers['x-llmux-cache']).toBe('MISS');
    expect(contentOf(other)).toBe('std');
    expect(callsTo('std')).toHaveLength(1);
  });
});

describe('GET /v1/models', () => {
  it('lists the aliases and the models the targets force, each once, and retrieves each', async () => {
    const a = await app({
      config: {
        model_aliases: { fast: 'gpt-4o-mini', 'gpt-4o': 'gpt-4o-2024-08-06' },
        strategy: { mode: 'fallback' },
        targets: [
          at('x', { override_params: { model: 'gpt-4o' } }),
          {
            strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.eu': 'yes' }, then: 'eu' }], default: 'us' },
            override_params: { model: 'claude-sonnet-4' },
            targets: [at('eu', { name: 'eu' }), at('us', { name: 'us', override_params: { model: 'gpt-4.1' } })],
          },
        ],
      },
    });
    const client = new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    // Aliases and forced models, including the one a strategy node gives its children; 'gpt-4o' (an
    // alias and a forced model) once.
    expect([...ids].sort()).toEqual(expect.arrayContaining(['claude-sonnet-4', 'fast', 'gpt-4.1', 'gpt-4o']));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect((await client.models.retrieve(id)).id).toBe(id);
    const missing = await client.models.retrieve('gpt-4o-mini').catch((e) => e);
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
  });
});
