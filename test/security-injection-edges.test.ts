/**
 * Edges from an adversarial review of client-controlled input: prototype pollution (`__proto__`,
 * `constructor.prototype`, and Object.prototype member names such as `constructor`, `toString`,
 * `valueOf` used as values that the gateway looks up in its own tables), SSRF through request configs
 * (the SSRF guard's refusals and decisions; only loopback is ever contacted), header and log
 * injection, JSON nested deep in headers, and the admin / gateway key checks.
 *
 * Real Express 5 / Koa 3 apps, the official `openai` and `@anthropic-ai/sdk` clients, raw fetch, and
 * `gateway.handle` for what Node's HTTP parser would never let through. Every upstream is the mock on
 * 127.0.0.1, answering with recorded provider bodies from ../shared/fixtures.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let up: MockUpstream;
const apps: TestApp[] = [];
const gateways: Gateway[] = [];

beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  for (const a of apps) await a.close();
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});

const OPENAI_TEXT = fixtureJson('openai/chat-completions.text.json');
const ANTHROPIC_TEXT = fixtureJson('anthropic/messages.text.json');
const GEMINI_TEXT = fixtureJson('gemini/generateContent.text.json');
const BEDROCK_TEXT = fixtureJson('bedrock/converse.text.json');
const COHERE_TEXT = fixtureJson('cohere/chat-v2.text.json');
const BEDROCK_MODEL = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
const CONVERSE = `/b/model/${encodeURIComponent(BEDROCK_MODEL)}/converse`;

/** Every provider path of this file, each under its own prefix so one mock serves them all. */
function routeAll(): void {
  up.route('/o/v1/chat/completions', { json: OPENAI_TEXT });
  up.route('/a/v1/messages', { json: ANTHROPIC_TEXT });
  up.route('/g/v1beta/models/gemini-2.5-flash:generateContent', { json: GEMINI_TEXT });
  up.route(CONVERSE, { json: BEDROCK_TEXT });
  up.route('/c/v2/chat', { json: COHERE_TEXT });
}
beforeEach(() => {
  up.reset();
  routeAll();
});

const target = {
  openai: () => ({ provider: 'openai', api_key: 'sk-o', custom_host: `${up.url}/o/v1` }),
  anthropic: () => ({ provider: 'anthropic', api_key: 'sk-ant-a', custom_host: `${up.url}/a/v1` }),
  google: () => ({ provider: 'google', api_key: 'AIza-g', custom_host: `${up.url}/g/v1beta` }),
  bedrock: () => ({ provider: 'bedrock', api_key: 'br-key', aws_region: 'us-east-1', custom_host: `${up.url}/b` }),
  cohere: () => ({ provider: 'cohere', api_key: 'co-key', custom_host: `${up.url}/c/v2` }),
};
const MODEL: Record<keyof typeof target, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-sonnet-4-5',
  google: 'gemini-2.5-flash',
  bedrock: BEDROCK_MODEL,
  cohere: 'command-a-03-2025',
};

async function app(options: AppOptions, factory = 'express5'): Promise<TestApp> {
  const a = await appFactories[factory]!({ env: {}, ...options } as never);
  apps.push(a);
  return a;
}
function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ env: {}, ...options });
  gateways.push(g);
  return g;
}
const openai = (a: TestApp, headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: headers });

async function raw(a: TestApp, body: string, headers: Record<string, string> = {}, path = '/v1/chat/completions') {
  const res = await fetch(`${a.gatewayURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const chatBody = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...extra });
const handleChat = (g: Gateway, headers: Record<string, string> = {}, body: Record<string, unknown> = chatBody()) =>
  g.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json', ...headers }, body });
const errorOf = (res: { body: unknown }) => (res.body as { error: { message: string; param: string | null; code: string; type: string } }).error;
const sentTo = (prefix: string) => up.requests.filter((r) => r.path.startsWith(prefix));

const pollutionFree = () => {
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(probe.pollutedByConstructor).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
  expect(Object.prototype).not.toHaveProperty('pollutedByConstructor');
};

// -----------------------------------------------------------------------------------------------
// Prototype pollution: JSON bodies and headers carry own `__proto__` keys (JSON.parse makes them own
// data properties); any merge or copy that assigns them with `obj[key] = value` would reach
// Object.prototype two levels down. None does.
// -----------------------------------------------------------------------------------------------
describe('prototype pollution through every client-controlled JSON input', () => {
  const POISON = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"pollutedByConstructor":1}}}';
  const schema =
    `{"type":"object","properties":{"__proto__":{"type":"string"},"constructor":{"type":"object","properties":{"prototype":{"type":"object","properties":{"polluted":{"type":"string"}}}}},"city":{"type":"string"}},` +
    `"required":["city"],"$defs":${POISON},"allOf":[${POISON},{"properties":${POISON}}]}`;
  const bodies = (model: string) => [
    `{"model":"${model}","messages":[{"role":"user","content":"hi","__proto__":{"polluted":1}}],"__proto__":{"polluted":1},"constructor":{"prototype":{"pollutedByConstructor":1}}}`,
    `{"model":"${model}","messages":[{"role":"user","content":[{"type":"text","text":"hi","__proto__":{"polluted":1}}]}],"tools":[{"type":"function","function":{"name":"f","parameters":${schema}}}]}`,
    `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${schema}}}}`,
    `{"model":"${model}","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"t1","type":"function","function":{"name":"f","arguments":${JSON.stringify(POISON)}}}]},{"role":"tool","tool_call_id":"t1","content":${JSON.stringify(POISON)}}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"string"}}}}}]}`,
    `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"additionalModelRequestFields":${POISON},"metadata":${POISON},"stream_options":${POISON},"thinking":${POISON}}`,
  ];
  const providers = Object.keys(target) as Array<keyof typeof target>;
  const config = () => ({
    cache: { mode: 'simple' as const },
    strategy: {
      mode: 'conditional' as const,
      conditions: providers.map((p) => ({ query: { 'metadata.p': { $eq: p } }, then: p })),
      default: 'openai',
    },
    targets: providers.map((p) => ({ name: p, ...target[p]() })),
  });

  it.each([
    ['express5 with express.json()', 'express5', true],
    ['express5, the gateway reading the body itself', 'express5', false],
    ['koa3 with @koa/bodyparser', 'koa3', true],
  ])('%s: bodies and metadata with __proto__ / constructor.prototype reach every translator, Object.prototype stays clean', async (_l, factory, bodyParser) => {
    const a = await app({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], bodyParser: bodyParser as boolean, config: config() as never }, factory as string);
    for (const p of providers) {
      for (const body of bodies(MODEL[p])) {
        for (const md of [`{"p":"${p}"}`, `{"p":"${p}","__proto__":{"polluted":1},"constructor":{"prototype":{"pollutedByConstructor":1}}}`]) {
          const res = await raw(a, body, { 'x-portkey-metadata': md });
          expect(res.status, `${p}: ${res.text.slice(0, 200)}`).toBeLessThan(500);
          pollutionFree();
        }
      }
    }
    // The same app answers an ordinary request normally afterwards.
    const ok = await openai(a).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(ok.choices[0]!.message.content).toBe(OPENAI_TEXT.choices[0].message.content);
  });

  it('x-portkey-config with __proto__ at the root, in targets, override_params, strategy and cache: nothing polluted, no host smuggled in', async () => {
    const g = gateway({ allowRequestConfig: true, resolveHost: async () => ['203.0.113.7'], config: { provider: 'mock' } });
    const configs = [
      `{"provider":"mock","__proto__":{"custom_host":"http://10.0.0.1/v1","polluted":1}}`,
      `{"targets":[{"provider":"mock","__proto__":{"custom_host":"http://169.254.169.254/v1","polluted":1}}]}`,
      `{"provider":"mock","override_params":{"__proto__":{"polluted":1},"constructor":{"prototype":{"pollutedByConstructor":1}}}}`,
      `{"strategy":{"mode":"conditional","conditions":[{"query":{"metadata.__proto__":{"$eq":1},"constructor.prototype":1},"then":"m"}],"default":"m"},"targets":[{"name":"m","provider":"mock"}]}`,
      `{"strategy":{"mode":"conditional","conditions":[{"query":{"metadata.constructor":{"$exists":true}},"then":"m"}]},"targets":[{"name":"m","provider":"mock"}]}`,
      `{"provider":"mock","cache":{"mode":"simple","__proto__":{"polluted":1}},"model_aliases":{"__proto__":"gpt-4o","constructor":"x"}}`,
    ];
    const statuses: number[] = [];
    for (const cfg of configs) {
      const res = await handleChat(g, { 'x-portkey-config': cfg, 'x-portkey-metadata': '{"__proto__":{"polluted":1}}' });
      statuses.push(res.status);
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
      pollutionFree();
    }
    // A `__proto__` key is no custom_host: the mock target answers, nothing resolved, nothing refused as a host.
    expect(statuses[0]).toBe(200);
    expect(statuses[1]).toBe(200);
    // `metadata.constructor` is an own-property test: the inherited `constructor` does not exist.
    expect(statuses[4]).toBe(400);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('x-portkey-provider / model prefix / alias named %s: a 4xx, never a 500 or an inherited member', async (name) => {
    const g = gateway({ allowRequestConfig: true, config: { provider: 'mock', model_aliases: { fast: 'gpt-4o-mini' } } });
    const viaHeader = await handleChat(g, { 'x-portkey-provider': name, authorization: 'Bearer k' });
    expect(viaHeader.status).toBe(400);
    expect(errorOf(viaHeader).message).toContain('unknown provider');
    const auto = gateway({ config: {} as never });
    const viaModel = await handleChat(auto, {}, chatBody({ model: `${name}/gpt-4o` }));
    expect(viaModel.status).toBeGreaterThanOrEqual(400);
    expect(viaModel.status).toBeLessThan(500);
    pollutionFree();
  });

  it('/v1/messages (Anthropic SDK) with __proto__ in the body, its tools and metadata, to an Anthropic and an OpenAI target', async () => {
    for (const t of [target.anthropic(), target.openai()]) {
      const a = await app({ config: { targets: [t] } as never });
      const res = await raw(
        a,
        `{"model":"claude-sonnet-4-5","max_tokens":64,"__proto__":{"polluted":1},"metadata":{"user_id":"u","__proto__":{"polluted":1}},` +
          `"messages":[{"role":"user","content":[{"type":"text","text":"hi","__proto__":{"polluted":1}}]}],` +
          `"tools":[{"name":"f","input_schema":{"type":"object","properties":{"__proto__":{"type":"string"},"constructor":{"type":"object"}}}}]}`,
        { 'anthropic-version': '2023-06-01' },
        '/v1/messages',
      );
      expect(res.status, res.text.slice(0, 200)).toBe(200);
      pollutionFree();
    }
  });
});

// -----------------------------------------------------------------------------------------------
// SSRF: router/ssrf-guard.ts. Only refusals and the guard's decisions are exercised; a request that
// is let through goes to the loopback mock only where allowedHosts lists 127.0.0.1.
// -----------------------------------------------------------------------------------------------
describe('SSRF guard on client-chosen hosts', () => {
  const dns: Record<string, string[]> = {
    'localhost.': ['127.0.0.1'],
    'localhost.localdomain': ['127.0.0.1'],
    'ip6-localhost': ['::1'],
    'mapped.example': ['::ffff:169.254.169.254'],
    'nat64.example': ['64:ff9b::a9fe:a9fe'],
    'sixtofour.example': ['2002:7f00:1::1'],
    'cgnat.example': ['100.100.100.200'],
    'ec2v6.example': ['fd00:ec2::254'],
    'zero.example': ['0.0.0.0'],
    'garbage.example': ['not-an-address'],
    'mixed.example': ['203.0.113.5', '10.0.0.9'],
    'public.example': ['203.0.113.5'],
  };
  const resolveHost = async (host: string) => {
    const found = dns[host];
    if (!found) throw new Error(`ENOTFOUND ${host}`);
    return found;
  };
  const guarded = (extra: Partial<GatewayOptions> = {}) => gateway({ allowRequestConfig: true, resolveHost, config: { provider: 'mock' }, ...extra });
  const viaConfig = (custom_host: string) => ({ 'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'sk-client', custom_host }) });

  it.each([
    'http://127.1/v1',
    'http://0/v1',
    'http://017700000001/v1',
    'http://0x7f000001/v1',
    'http://2130706433/v1',
    'http://127.0.0.1./v1',
    'http://127。0。0。1/v1',
    'http://①②⑦.0.0.1/v1',
    'http://[::ffff:127.0.0.1]/v1',
    'http://[0:0:0:0:0:ffff:7f00:1]/v1',
    'http://[::ffff:0:7f00:1]/v1',
    'http://[::127.0.0.1]/v1',
    'http://[::]/v1',
    'http://[::1]:80/v1',
    'http://[64:ff9b::a9fe:a9fe]/v1',
    'http://[2002:a9fe:a9fe::]/v1',
    'http://[fec0::1]/v1',
    'http://[fd00:ec2::254]/v1',
    'http://169.254.169.254/latest/meta-data',
    'http://100.100.100.200/v1',
    'http://255.255.255.255/v1',
    'http://224.0.0.1/v1',
    'http://LOCALHOST/v1',
    'http://%6c%6f%63%61%6c%68%6f%73%74/v1',
    'http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/v1',
    'http://api.localhost/v1',
    'http://localhost./v1',
    'http://localhost.localdomain/v1',
    'http://ip6-localhost/v1',
    'http://mapped.example/v1',
    'http://nat64.example/v1',
    'http://sixtofour.example/v1',
    'http://cgnat.example/v1',
    'http://ec2v6.example/v1',
    'http://zero.example/v1',
    'http://garbage.example/v1',
    'http://mixed.example/v1',
  ])('%s is refused with 403 naming custom_host, before any connection', async (host) => {
    const res = await handleChat(guarded(), viaConfig(host));
    expect(res.status, JSON.stringify(res.body)).toBe(403);
    expect(errorOf(res).param).toBe('x-portkey-config.custom_host');
    expect(up.requests).toHaveLength(0);
  });

  it.each([
    ['http://127.0.0.1:80@public.example/v1', 'credentials'],
    ['http://public.example#@127.0.0.1/v1', 'a fragment'],
    ['http://[fe80::1%25lo]/v1', 'a zone id'],
    ['http://unknown.example/v1', 'a name that does not resolve'],
  ])('%s (%s) is a 400, never reached', async (host) => {
    const res = await handleChat(guarded(), viaConfig(host));
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('x-portkey-config.custom_host');
  });

  it('the same refusals for x-portkey-custom-host, a nested target, an inherited host and a semantic-cache embedding host', async () => {
    const g = guarded();
    const header = await handleChat(g, { 'x-portkey-provider': 'openai', authorization: 'Bearer k', 'x-portkey-custom-host': 'http://[::ffff:7f00:1]/v1' });
    expect(header.status).toBe(403);
    const nested = await handleChat(g, {
      'x-portkey-config': JSON.stringify({ provider: 'openai', custom_host: 'http://localhost.localdomain/v1', targets: [{ api_key: 'a' }, { provider: 'mock' }] }),
    });
    expect(nested.status).toBe(403);
    const embedding = await handleChat(g, {
      'x-portkey-config': JSON.stringify({
        provider: 'mock',
        cache: { mode: 'semantic', embedding: { provider: 'openai', api_key: 'k', model: 'text-embedding-3-small', custom_host: 'http://0x7f.1/v1' } },
      }),
    });
    expect(embedding.status).toBe(403);
    expect(errorOf(embedding).param).toContain('custom_host');
    const localHome = await handleChat(g, { 'x-portkey-config': JSON.stringify({ provider: 'ollama' }) });
    expect(localHome.status).toBe(403);
    expect(up.requests).toHaveLength(0);
  });

  it('allowedHosts with a port opens that port only; the listed loopback mock then answers', async () => {
    const port = new URL(up.url).port;
    const g = guarded({ allowedHosts: [`127.0.0.1:${port}`] });
    const ok = await handleChat(g, viaConfig(`${up.url}/o/v1`));
    expect(ok.status).toBe(200);
    const otherPort = await handleChat(g, viaConfig(`http://127.0.0.1:${Number(port) === 65535 ? 1 : Number(port) + 1}/o/v1`));
    expect(otherPort.status).toBe(403);
    const otherSpelling = await handleChat(g, viaConfig(`http://[::ffff:127.0.0.1]:${port}/o/v1`));
    expect(otherSpelling.status).toBe(403);
    expect(sentTo('/o/')).toHaveLength(1);
  });

  it('a redirect from an allowed host is never followed (client config and server config alike)', async () => {
    up.route('/secret/v1/chat/completions', { json: OPENAI_TEXT });
    up.route('/r/v1/chat/completions', { status: 302, headers: { location: `${up.url}/secret/v1/chat/completions` }, body: '' });
    const client = guarded({ allowedHosts: ['127.0.0.1'] });
    const viaClient = await handleChat(client, viaConfig(`${up.url}/r/v1`));
    expect(viaClient.status).toBe(502);
    const server = gateway({ config: { provider: 'openai', api_key: 'k', custom_host: `${up.url}/r/v1` } });
    const viaServer = await handleChat(server);
    expect(viaServer.status).toBe(502);
    expect(sentTo('/secret/')).toHaveLength(0);
    expect(sentTo('/r/')).toHaveLength(2);
  });
});

// -----------------------------------------------------------------------------------------------
// Header and log injection
// -----------------------------------------------------------------------------------------------
describe('header and log injection', () => {
  it('a trace id with CR/LF (a direct handle call) or non-ASCII bytes (over HTTP) is a 400 and never echoed', async () => {
    const g = gateway({ config: { provider: 'mock' } });
    const res = await handleChat(g, { 'x-llmux-trace-id': 'abc\r\nset-cookie: session=stolen' });
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('x-llmux-trace-id');
    expect(res.headers['x-llmux-trace-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(res.headers)).not.toContain('set-cookie');
    const a = await app({ config: { provider: 'mock' } });
    const http = await fetch(`${a.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-portkey-trace-id': Buffer.from('trace-\xe9\xff', 'latin1').toString('latin1') },
      body: JSON.stringify(chatBody()),
    });
    expect(http.status).toBe(400);
    expect(http.headers.get('x-portkey-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('model names and metadata with line breaks stay inside one JSON log line and one escaped metric label', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (lines.push(...String(c).split('\n').filter(Boolean)), done()) }));
    const g = gateway({ config: { provider: 'mock' }, logger, adminKey: 'admin-0123456789abcdef' });
    const evil = 'evil"} 1\nllmux_fake_total{a="b';
    const res = await handleChat(g, { 'x-portkey-metadata': JSON.stringify({ note: '\n{"level":60,"msg":"forged"}\n' }) }, chatBody({ model: evil }));
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.some((l) => JSON.parse(l).msg === 'forged')).toBe(false);
    const metrics = await g.handle({ method: 'GET', path: '/metrics', headers: { authorization: 'Bearer admin-0123456789abcdef' } });
    expect(metrics.status).toBe(200);
    expect(String(metrics.body).split('\n').some((l) => l.startsWith('llmux_fake_total'))).toBe(false);
  });
});

// -----------------------------------------------------------------------------------------------
// Admin and gateway keys (limits/admin-key.ts sameKey, auth/keyring.ts digests)
// -----------------------------------------------------------------------------------------------
describe('admin and gateway key checks', () => {
  const ADMIN = 'admin-key-0123456789abcdef';
  const KEY = 'llmux-team-a-0123456789abcdef';
  it('near misses (prefix, one more char, last char off, case) are 401 with WWW-Authenticate; the exact key passes, by any header it may come in', async () => {
    const g = gateway({ config: { provider: 'mock' }, adminKey: ADMIN, auth: { keys: [{ key: KEY, name: 'a' }] } });
    const misses = [ADMIN.slice(0, -1), `${ADMIN}x`, `${ADMIN.slice(0, -1)}g`, ADMIN.toUpperCase(), '', ` ${ADMIN}x`];
    for (const k of misses) {
      const res = await g.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': k, authorization: `Bearer ${k}` } });
      expect(res.status, k).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="llmux"');
    }
    expect((await g.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': ADMIN } })).status).toBe(200);
    expect((await g.handle({ method: 'GET', path: '/usage', headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(200);
    for (const k of [KEY.slice(0, -1), `${KEY}x`, `${KEY.slice(0, -1)}g`, ADMIN]) {
      expect((await handleChat(g, { authorization: `Bearer ${k}` })).status, k).toBe(401);
    }
    expect((await handleChat(g, { authorization: `Bearer ${KEY}` })).status).toBe(200);
    expect((await handleChat(g, { 'x-portkey-api-key': KEY })).status).toBe(200);
  });
});

// -----------------------------------------------------------------------------------------------
// What the bug tests below rely on, pinned as it works today.
// -----------------------------------------------------------------------------------------------
describe('premises of the bug tests (passing)', () => {
  it('a token budget of 1000/day refuses the second request reserving 900 tokens (402)', async () => {
    const a = await app({ config: { ...target.openai(), budget: { max_tokens_per_day: 1000 } } as never });
    const client = openai(a);
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 900 });
    await expect(client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 900 })).rejects.toMatchObject({ status: 402 });
  });

  it('after a request with an unknown reasoning_effort ("extreme"), the token budget still refuses what no longer fits', async () => {
    const { second, remaining } = await budgetAfterBadEffort('extreme');
    expect(second).toBe(402);
    expect(remaining).toMatch(/^\d+$/);
  });

  it.each(['anthropic', 'bedrock', 'google', 'cohere'] as const)('%s: an unknown reasoning_effort ("extreme") is a 400 naming reasoning_effort, nothing sent', async (p) => {
    const g = gateway({ config: target[p]() as never });
    const res = await handleChat(g, {}, chatBody({ model: MODEL[p], reasoning_effort: 'extreme' }));
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('reasoning_effort');
    expect(up.requests).toHaveLength(0);
  });

  it('gemini: an unknown tool type is a 400 naming tools[0].type; a schema type Gemini lacks is sent for Gemini to judge', async () => {
    const g = gateway({ config: target.google() as never });
    const tool = await handleChat(g, {}, chatBody({ model: 'gemini-2.5-flash', tools: [{ type: 'retrieval_x' }] }));
    expect(tool.status).toBe(400);
    expect(errorOf(tool).param).toBe('tools[0].type');
    const foo = await handleChat(g, {}, chatBody({ model: 'gemini-2.5-flash', tools: [fnTool('foo')] }));
    expect(foo.status).toBe(200);
    expect(JSON.stringify(sentTo('/g/')[0]!.json.tools)).toContain('"type":"foo"');
  });

  it('/v1/messages to an OpenAI target: override_params keys named like Object.prototype members are sent as given', async () => {
    const a = await app({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], config: { provider: 'mock' } });
    const client = new Anthropic({
      baseURL: a.gatewayURL,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: { 'x-portkey-config': JSON.stringify({ ...target.openai(), override_params: { valueOf: 'x' } }) },
    });
    const msg = await client.messages.create({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(msg.type).toBe('message');
    expect(sentTo('/o/')[0]!.json).toMatchObject({ valueOf: 'x' });
  });
});

/** A function tool whose one property has the given JSON Schema `type` and a `format`. */
const fnTool = (type: string) => ({
  type: 'function',
  function: { name: 'when', parameters: { type: 'object', properties: { at: { type, format: 'date' } }, required: ['at'] } },
});

/**
 * A token budget of 1000/day behind an OpenAI target; one request with a bad `reasoning_effort`
 * (OpenAI refuses it with a 400, as the mock does), then two reserving 900 tokens each: the first fits,
 * spends 379 (the recorded usage), and the second no longer fits.
 */
async function budgetAfterBadEffort(effort: string): Promise<{ second: number | undefined; remaining: string | null }> {
  up.route('/o/v1/chat/completions', (req) =>
    req.json?.reasoning_effort
      ? {
          status: 400,
          json: { error: { message: `Invalid value: '${req.json.reasoning_effort}'. Supported values are: 'low', 'medium', and 'high'.`, type: 'invalid_request_error', param: 'reasoning_effort', code: 'invalid_value' } },
        }
      : { json: OPENAI_TEXT },
  );
  // A small default output reservation, so the bad request itself fits the budget.
  const a = await app({
    limitOptions: { defaultMaxTokens: 50 },
    config: { ...target.openai(), budget: { max_tokens_per_day: 1000 }, rate_limit: { tokens_per_minute: 100_000 } },
  } as never);
  const client = openai(a);
  const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
  await expect(client.chat.completions.create({ ...ask, reasoning_effort: effort as never })).rejects.toMatchObject({ status: 400 });
  const first = await client.chat.completions.create({ ...ask, max_tokens: 900 }).withResponse();
  const second = await client.chat.completions.create({ ...ask, max_tokens: 900 }).then(
    () => 200,
    (e) => (e as { status?: number }).status,
  );
  return { second, remaining: first.response.headers.get('x-ratelimit-remaining-tokens') };
}

describe('Object.prototype names, nested metadata and $in operands (fixed bugs)', () => {
  // Guards: a reasoning_effort named like an Object.prototype member is no thinking budget, so the token estimate stays a number.
  it('a reasoning_effort named like an Object.prototype member does not switch off the token budget for everyone after it', async () => {
    const { second, remaining } = await budgetAfterBadEffort('constructor');
    expect(second).toBe(402);
    expect(remaining).toMatch(/^\d+$/);
  });

  // Guards: the translators look efforts up by own keys only, so Object.prototype member names are refused like any unknown effort.
  it.each(['anthropic', 'bedrock', 'google', 'cohere'] as const)('%s: reasoning_effort "constructor" is a 400 naming reasoning_effort like any unknown effort, nothing sent', async (p) => {
    const g = gateway({ config: target[p]() as never });
    const res = await handleChat(g, {}, chatBody({ model: MODEL[p], reasoning_effort: 'constructor' }));
    expect(res.status, JSON.stringify(up.requests[0]?.json ?? null)).toBe(400);
    expect(errorOf(res).param).toBe('reasoning_effort');
    expect(up.requests).toHaveLength(0);
  });

  // Guards: media types and file extensions are looked up by own keys: a data URL of type "constructor"
  // is refused by Bedrock like any type it does not take; a Gemini file URL ending in ".constructor" gets the fallback type.
  it('media named like an Object.prototype member: Bedrock refuses the type, Gemini sends a real MIME type', async () => {
    const image = (url: string) => chatBody({ messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url } }] }] });
    const bedrock = gateway({ config: target.bedrock() as never });
    const refused = await handleChat(bedrock, {}, { ...image('data:constructor;base64,AAAA'), model: MODEL.bedrock });
    expect(refused.status).toBe(400);
    expect(errorOf(refused).param).toBe('messages[0].content[1].image_url.url');
    expect(up.requests).toHaveLength(0);
    const google = gateway({ config: target.google() as never });
    await handleChat(google, {}, { ...image('https://files.example/picture.constructor'), model: MODEL.google });
    const part = (up.requests[0]?.json.contents as Array<{ parts: Array<{ fileData?: { mimeType?: unknown } }> }>)[0]!.parts.find((p) => p.fileData);
    expect(typeof part?.fileData?.mimeType).toBe('string');
  });

  // Guards: x-portkey-metadata gets the maxJsonDepth bound bodies and config headers get (400 naming the header).
  it('x-portkey-metadata nested thousands of levels deep is a 400 naming the header, not a 500 (conditional routing + simple cache)', async () => {
    const a = await app({
      config: {
        cache: { mode: 'simple' },
        strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': { $eq: { plan: 'pro' } } }, then: 'm' }], default: 'm' },
        targets: [{ name: 'm', provider: 'mock' }],
      } as never,
    });
    const depth = 7500;
    const res = await raw(a, JSON.stringify(chatBody()), { 'x-portkey-metadata': `{"tier":${'['.repeat(depth)}${']'.repeat(depth)}}` });
    expect(res.status, res.text.slice(0, 200)).toBe(400);
    expect(res.json?.error?.param).toBe('x-portkey-metadata');
  });

  // Guards: the Gemini schema converter looks formats up by own keys only.
  it.each(['toString', 'constructor', '__proto__'])('gemini: a tool property of type "%s" with a format is handled like an unknown type, not a 500', async (type) => {
    const a = await app({ config: target.google() as never });
    const res = await raw(a, JSON.stringify(chatBody({ model: 'gemini-2.5-flash', tools: [fnTool(type)] })));
    expect(res.status, res.text.slice(0, 200)).toBe(200);
    expect(JSON.stringify(sentTo('/g/')[0]?.json?.tools)).toContain(`"type":"${type}"`);
  });

  // Guards: the Gemini tool translator looks built-in tools up by own keys only.
  it.each(['constructor', '__proto__'])('gemini: a tool of type "%s" is a 400 naming tools[0].type, nothing sent', async (type) => {
    const g = gateway({ config: target.google() as never });
    const res = await handleChat(g, {}, chatBody({ model: 'gemini-2.5-flash', tools: [{ type }] }));
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('tools[0].type');
    expect(up.requests).toHaveLength(0);
  });

  // Guards: conditional $in serialises object operands once at compile time and the value once per test.
  it('a client config $in over params.messages costs the same whether it lists 1 or 300 object operands', async () => {
    const g = gateway({ allowRequestConfig: true, config: { provider: 'mock' } });
    const body = chatBody({ messages: [{ role: 'user', content: 'x'.repeat(50_000) }] });
    const serialised = async (operands: number) => {
      const cfg = JSON.stringify({
        strategy: { mode: 'conditional', conditions: [{ query: { 'params.messages': { $in: new Array(operands).fill({}) } }, then: 'm' }], default: 'm' },
        targets: [{ name: 'm', provider: 'mock' }],
      });
      const original = JSON.stringify;
      let chars = 0;
      JSON.stringify = function (...args: Parameters<typeof JSON.stringify>) {
        const out = original.apply(JSON, args);
        if (typeof out === 'string') chars += out.length;
        return out;
      } as typeof JSON.stringify;
      try {
        const res = await handleChat(g, { 'x-portkey-config': cfg }, body);
        expect(res.status).toBe(200);
      } finally {
        JSON.stringify = original;
      }
      return chars;
    };
    const one = await serialised(1);
    const many = await serialised(300);
    expect(many).toBeLessThan(one * 3);
  });
});

describe('anthropic headers and /v1/messages override keys (fixed bugs)', () => {
  // Guards: an `anthropic_beta` body field used to go holding a line break (or any character outside Latin-1) is put in the anthropic-beta header as is; undici refuses it, the gateway reports "anthropic could not be reached" (502) and the server target's circuit opens for every client.
  it('anthropic_beta with CR/LF in the body is a 400 naming it, and does not open the circuit of the server target', async () => {
    const a = await app({ config: { ...target.anthropic(), circuit_breaker: { failure_threshold: 2, cooldown: 60 } } as never });
    const client = openai(a);
    const ask = { model: 'claude-sonnet-4-5', messages: [{ role: 'user' as const, content: 'Hi' }] };
    for (let i = 0; i < 2; i++) {
      const err = await client.chat.completions.create({ ...ask, anthropic_beta: 'prompt-caching-2024-07-31\r\nx-injected: 1' } as never).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err.status).toBe(400);
      expect(err.error?.param).toBe('anthropic_beta');
    }
    const ok = await client.chat.completions.create(ask);
    expect(ok.choices[0]!.message.content).toBeTruthy();
    expect(sentTo('/a/').every((r) => !String(r.headers['anthropic-beta'] ?? '').includes('x-injected'))).toBe(true);
  });

  // Guards: /v1/messages to an Anthropic target used to apply override_params through RENAMED[key] on a plain object: "valueOf", "hasOwnProperty", "isPrototypeOf"… call an Object.prototype method on undefined (500); "constructor" and "toString" are silently dropped.
  it.each(['valueOf', 'hasOwnProperty', 'constructor'])('/v1/messages to an Anthropic target: override_params key "%s" is sent as given (as it is to an OpenAI target), not a 500 or a silent drop', async (key) => {
    const a = await app({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], config: { provider: 'mock' } });
    const client = new Anthropic({
      baseURL: a.gatewayURL,
      apiKey: 'unused',
      maxRetries: 0,
      defaultHeaders: { 'x-portkey-config': JSON.stringify({ ...target.anthropic(), override_params: { [key]: 'x' } }) },
    });
    const msg = await client.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] });
    expect(msg.type).toBe('message');
    const sent = sentTo('/a/')[0]!.json as Record<string, unknown>;
    expect(Object.hasOwn(sent, key) && sent[key]).toBe('x');
  });
});
