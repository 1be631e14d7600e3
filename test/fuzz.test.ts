import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions, type GatewayRequest, type RequestLogRecord } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * Thousands of random and mutated bodies, headers, paths and configs against every adapter and the
 * core: no 5xx unless a provider caused it, no crash, no unhandled rejection, and the app still answers
 * afterwards. Seeded, so a failure reproduces: `FUZZ_SEED=<seed> npx vitest run test/fuzz.test.ts`.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20260501);
const HTTP_CASES_PER_ADAPTER = 300;
const DIRECT_CASES = 2500;
const CONFIG_CASES = 250;

// ---------- seeded randomness ----------

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  /** mulberry32 */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const KEYS = [
  'model', 'messages', 'role', 'content', 'stream', 'stream_options', 'include_usage', 'tools', 'tool_choice', 'type', 'function',
  'name', 'arguments', 'parameters', 'tool_calls', 'tool_call_id', 'id', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p',
  'n', 'stop', 'input', 'system', 'metadata', 'cache_control', 'image_url', 'url', 'text', 'response_format', 'json_schema', 'schema',
  'input_schema', 'tool_use_id', 'source', 'data', 'media_type', 'thinking', 'budget_tokens', 'reasoning_effort', 'user', 'seed',
  'logprobs', 'dimensions', 'encoding_format', 'provider', 'targets', 'strategy', 'mode', 'weight', 'retry', 'attempts',
  'on_status_codes', 'override_params', 'request_timeout', 'cache', 'max_age', 'threshold', 'conditions', 'query', 'then',
  'default', 'model_aliases', 'deadline', 'forward_headers', '__proto__', 'constructor', 'prototype', 'toString', '',
];
const STRINGS = [
  '', ' ', 'Hi', 'user', 'assistant', 'system', 'tool', 'developer', 'function', 'text', 'image_url', 'tool_use', 'tool_result',
  'gpt-4o-mini', 'fast', 'mock-model', 'claude-3-5-haiku-latest', 'mock', 'openai', 'anthropic', 'nope', 'fallback', 'loadbalance',
  'conditional', 'single', 'simple', 'semantic', 'auto', 'none', 'required', 'json_object', 'json_schema', 'data:image/png;base64,iVBORw0KGgo=',
  'http://169.254.169.254/latest', 'https://example.invalid/v1', '\u0000', '\ud83d\ude00', '\u202e', 'ünïcödé', '%00', '../../etc/passwd',
  '{"a":1}', '[DONE]', 'null', 'NaN', '1e309', '-0', '\\', '"', '<script>',
];

function randomString(r: Rng): string {
  if (r.chance(0.6)) return r.pick(STRINGS);
  const n = r.chance(0.05) ? 2000 + r.int(3000) : r.int(24);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.9) ? 32 + r.int(95) : r.int(0x2fff));
  return s;
}

function randomNumber(r: Rng): number {
  return r.pick([0, -1, 1, 2, 0.5, 1e-9, 1e9, 2 ** 53, -(2 ** 31), 1.7976931348623157e308, r.int(100), r.next() * 4 - 2]);
}

function randomValue(r: Rng, depth = 0): unknown {
  const kind = depth > 4 ? r.int(4) : r.int(7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return randomNumber(r);
    case 3:
      return randomString(r);
    case 4:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--) Object.defineProperty(o, r.pick(KEYS), { value: randomValue(r, depth + 1), enumerable: true, writable: true, configurable: true });
      return o;
    }
  }
}

type Json = any;
const clone = (v: Json): Json => JSON.parse(JSON.stringify(v));

/** Every [parent, key] in a JSON tree, so a mutation can land anywhere. */
function slots(v: Json, out: Array<[Json, string | number]> = [], depth = 0): Array<[Json, string | number]> {
  if (depth > 8 || v === null || typeof v !== 'object') return out;
  for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) {
    out.push([v, k]);
    slots(v[k], out, depth + 1);
  }
  return out;
}

function mutate(r: Rng, base: Json, times = 1 + r.int(4)): Json {
  let v = clone(base);
  for (let i = 0; i < times; i++) {
    const all = slots(v);
    const op = r.int(7);
    if (all.length === 0 || op === 0) {
      if (v && typeof v === 'object' && !Array.isArray(v)) Object.defineProperty(v, r.pick(KEYS), { value: randomValue(r), enumerable: true, writable: true, configurable: true });
      else v = randomValue(r);
      continue;
    }
    const [parent, key] = r.pick(all);
    const old = parent[key];
    if (op === 1) Array.isArray(parent) ? parent.splice(key as number, 1) : delete parent[key];
    else if (op === 2) parent[key] = randomValue(r);
    else if (op === 3) parent[key] = typeof old === 'string' ? randomNumber(r) : typeof old === 'number' ? String(old) : Array.isArray(old) ? { ...old } : [old];
    else if (op === 4 && Array.isArray(old) && old.length) parent[key] = [...old, ...Array.from({ length: 1 + r.int(20) }, () => clone(r.pick(old)))];
    else if (op === 5) parent[key] = randomString(r);
    else parent[key] = null;
  }
  return v;
}

// ---------- valid starting points ----------

const tool = { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
const CHAT_BODIES: Json[] = [
  { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] },
  { model: 'fast', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] },
  {
    model: 'mock-model',
    max_tokens: 50,
    temperature: 0.3,
    n: 1,
    stop: ['\n'],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }],
  },
  {
    model: 'gpt-4o-mini',
    tools: [tool],
    tool_choice: 'auto',
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":21}' },
    ],
  },
  { model: 'gpt-4o-mini', response_format: { type: 'json_object' }, stream: true, messages: [{ role: 'developer', content: 'JSON only' }, { role: 'user', content: 'Hi' }] },
];
const MESSAGES_BODIES: Json[] = [
  { model: 'claude-3-5-haiku-latest', max_tokens: 64, messages: [{ role: 'user', content: 'Hi' }] },
  { model: 'gpt-4o-mini', max_tokens: 64, stream: true, system: [{ type: 'text', text: 'Brief.' }], messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] },
  {
    model: 'claude-3-5-haiku-latest',
    max_tokens: 64,
    tools: [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
    messages: [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: '21C' }] },
    ],
  },
];
const EMBEDDING_BODIES: Json[] = [{ model: 'text-embedding-3-small', input: 'hello' }, { model: 'mock-embed', input: ['a', 'b'], dimensions: 8 }];
const CONFIGS: Json[] = [
  { provider: 'mock' },
  { provider: 'openai', override_params: { model: 'gpt-4o-mini', temperature: 0 } },
  { strategy: { mode: 'fallback', on_status_codes: [429, 500] }, targets: [{ provider: 'mock' }, { provider: 'openai' }] },
  { strategy: { mode: 'loadbalance' }, targets: [{ provider: 'mock', weight: 0.7 }, { provider: 'anthropic', weight: 0.3 }] },
  {
    strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': { $eq: 'pro' } }, then: 'a' }], default: 'b' },
    targets: [{ name: 'a', provider: 'mock' }, { name: 'b', provider: 'openai', retry: { attempts: 2, on_status_codes: [503] } }],
  },
  { cache: { mode: 'simple', max_age: 60 }, request_timeout: 5000, targets: [{ provider: 'mock' }] },
  { cache: { mode: 'semantic', threshold: 0.9 }, targets: [{ provider: 'openai' }] },
  { targets: [{ strategy: { mode: 'fallback' }, targets: [{ provider: 'openai', forward_headers: ['x-foo'] }, { provider: 'mock' }] }], model_aliases: { fast: 'gpt-4o-mini' } },
  { provider: 'openai', custom_host: 'http://10.0.0.1:8080/v1' },
];

// ---------- the environment under test ----------

let up: MockUpstream;
const records = new Map<string, RequestLogRecord>();

function serverOptions(): GatewayOptions {
  return {
    env: {},
    config: {
      strategy: { mode: 'fallback' },
      targets: [{ provider: 'mock' }, { provider: 'openai', override_params: { model: 'gpt-4o-mini' } }],
      model_aliases: { fast: 'gpt-4o-mini' },
      cache: { mode: 'simple', max_age: 30 },
      budget: { max_cost_per_day: 1_000_000 },
      rate_limit: { requests_per_minute: 1_000_000 },
    },
    providers: {
      openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-fuzz-openai-0000' },
      anthropic: { baseURL: `${up.url}/v1`, apiKey: 'sk-ant-fuzz-0000' },
    },
    allowRequestConfig: true,
    // Client-chosen hosts resolve to a private address, so the SSRF guard refuses them without DNS.
    resolveHost: async () => ['10.0.0.1'],
    limits: { maxBodyBytes: 64 * 1024 },
    onLog: (r) => void records.set(r.trace_id, r),
  };
}

beforeAll(async () => {
  up = await startMockUpstream();
  const chat = fixtureJson('openai/chat-completions.text.json');
  const chatStream = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
  const message = fixtureJson('anthropic/messages.text.json');
  const messageStream = splitSse(fixtureText('anthropic/messages.text.stream.sse'));
  up.route('/v1/chat/completions', (req) => (req.json?.stream ? { chunks: chatStream } : { json: chat }));
  up.route('/v1/messages', (req) => (req.json?.stream ? { chunks: messageStream } : { json: message }));
  up.route('/v1/embeddings', { json: fixtureJson('openai/embeddings.float-trimmed.json') });
});
afterAll(() => up.close());

// ---------- one fuzz case ----------

interface Case {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const PATHS = ['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions', '/chat/completions', '/v1/messages', '/v1/messages', '/v1/embeddings', '/v1/models'];
const PROVIDERS = ['mock', 'openai', 'anthropic', 'nope', ''];

/** Header values fetch can send: printable ASCII only. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, '').slice(0, 2000);
/** JSON for a header: still valid JSON, with anything beyond ASCII escaped as `\uXXXX`. */
const asciiJson = (v: unknown) => (JSON.stringify(v) ?? 'null').replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

function makeCase(r: Rng, n: number): Case {
  const path = r.chance(0.05) ? r.pick(['/', '/v1', '/v2/chat/completions', '/v1/chat/completions/', '/v1/chat/completions?x=1', '/usage', '/metrics', `/${randomString(r)}`]) : r.pick(PATHS);
  const method = r.chance(0.05) ? r.pick(['GET', 'PUT', 'DELETE', 'PATCH']) : path.endsWith('models') ? 'GET' : 'POST';
  const base = path.includes('messages') ? r.pick(MESSAGES_BODIES) : path.includes('embeddings') ? r.pick(EMBEDDING_BODIES) : r.pick(CHAT_BODIES);
  const shape = r.int(10);
  let body: string | undefined;
  if (shape === 0) body = JSON.stringify(randomValue(r));
  else if (shape === 1) body = r.pick(['', '{', '[]', 'null', '{"model":', '\u0000\u0001', 'x'.repeat(70 * 1024), `${'['.repeat(200)}${']'.repeat(200)}`]);
  else if (shape < 4) body = JSON.stringify(base);
  else body = JSON.stringify(mutate(r, base));
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-llmux-trace-id': `fuzz-${SEED}-${n}` };
  for (let i = r.int(4); i > 0; i--) {
    switch (r.int(11)) {
      case 0:
        headers[r.pick(['x-llmux-config', 'x-portkey-config'])] = r.chance(0.8) ? asciiJson(mutate(r, r.pick(CONFIGS), r.int(3))) : headerSafe(randomString(r));
        break;
      case 1:
        headers[r.pick(['x-llmux-provider', 'x-portkey-provider'])] = r.pick(PROVIDERS);
        break;
      case 2:
        headers['x-portkey-custom-host'] = r.pick(['http://127.0.0.1:1/v1', 'https://metadata.google.internal', 'ftp://x', headerSafe(randomString(r))]);
        break;
      case 3:
        headers[r.pick(['x-llmux-metadata', 'x-portkey-metadata'])] = r.chance(0.7) ? asciiJson(randomValue(r)) : headerSafe(randomString(r));
        break;
      case 4:
        headers['x-llmux-trace-id'] = headerSafe(randomString(r));
        break;
      case 5:
        headers['x-llmux-cache-force-refresh'] = r.pick(['true', '1', 'no', '']);
        break;
      case 6:
        headers.authorization = `Bearer ${headerSafe(randomString(r))}`;
        break;
      case 7:
        headers['content-type'] = r.pick(['text/plain', 'application/json; charset=utf-16', 'multipart/form-data', '']);
        break;
      case 8:
        headers.traceparent = r.pick(['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'garbage', '00-00000000000000000000000000000000-0000000000000000-00']);
        break;
      case 9:
        headers[r.pick(['anthropic-version', 'anthropic-beta', 'x-foo', 'x-llmux-api-key'])] = headerSafe(randomString(r));
        break;
      default:
        headers[`x-random-${r.int(1000)}`] = headerSafe(randomString(r));
    }
  }
  return { method, path, headers, ...(method === 'GET' || method === 'DELETE' ? {} : { body }) };
}

/** A 5xx is acceptable only when a provider caused it (as the request's own log record says). */
function judge(c: Case, status: number, traceId: string | null, fromGateway: boolean, where: string): string | undefined {
  if (status < 500) return undefined;
  const record = traceId ? records.get(traceId) : undefined;
  const providerCaused = record?.error?.source === 'provider' || (record?.error?.code === 'all_targets_failed' && record.status !== 500);
  if (fromGateway && record && providerCaused && record.error?.code !== 'internal_error') return undefined;
  return `${where}: ${status} for ${c.method} ${c.path} headers=${JSON.stringify(c.headers)} body=${c.body?.slice(0, 2000)} record=${JSON.stringify(record?.error)}`;
}

async function settleRecords(): Promise<void> {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 10));
}

const internalErrors = () => [...records.values()].filter((r) => r.error?.code === 'internal_error' || r.status === 500);

// ---------- the suites ----------

describe.each(Object.keys(appFactories))('fuzzing %s', (name) => {
  let app: TestApp;
  // Half the adapters read raw bodies themselves, half get them from the host's body parser.
  const bodyParser = ['express5', 'koa3', 'nestjs'].includes(name);
  beforeAll(async () => {
    app = await appFactories[name]!({ ...serverOptions(), bodyParser });
  });
  afterAll(() => app.close());

  it(`${HTTP_CASES_PER_ADAPTER} random requests: never a gateway 5xx, and the app keeps answering`, async () => {
    const r = new Rng(SEED ^ name.length * 7919 ^ name.charCodeAt(0));
    const failures: string[] = [];
    const seen: Array<{ c: Case; status: number; traceId: string | null; fromGateway: boolean; n: number }> = [];
    for (let start = 0; start < HTTP_CASES_PER_ADAPTER; start += 8) {
      const batch = Array.from({ length: Math.min(8, HTTP_CASES_PER_ADAPTER - start) }, (_, i) => makeCase(r, start + i));
      await Promise.all(
        batch.map(async (c, i) => {
          const res = await fetch(`${app.gatewayURL}${c.path}`, { method: c.method, headers: c.headers, ...(c.body !== undefined ? { body: c.body } : {}) });
          const text = await res.text();
          const traceId = res.headers.get('x-llmux-trace-id');
          // The gateway's own errors are JSON in the OpenAI (or, on /v1/messages, Anthropic) shape.
          if (traceId && res.status >= 400 && !/"error"\s*:\s*\{[^]*"message"\s*:\s*"/.test(text)) {
            failures.push(`${name} #${start + i}: ${res.status} without an error message: ${text.slice(0, 200)}`);
          }
          seen.push({ c, status: res.status, traceId, fromGateway: traceId !== null, n: start + i });
        }),
      );
    }
    await settleRecords();
    for (const s of seen) {
      const problem = judge(s.c, s.status, s.traceId, s.fromGateway, `${name} seed ${SEED} case #${s.n}`);
      if (problem) failures.push(problem);
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(seen.filter((s) => s.status === 200).length).toBeGreaterThan(HTTP_CASES_PER_ADAPTER / 20);
    // Still alive and answering, for the host's routes and the gateway's.
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
    const ok = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(CHAT_BODIES[0]),
    });
    expect(ok.status).toBe(200);
  });
});

describe('fuzzing the core directly', () => {
  let plain: Gateway;
  let keyed: Gateway;
  beforeAll(() => {
    plain = createGateway(serverOptions());
    keyed = createGateway({ ...serverOptions(), auth: { keys: [{ key: 'llmux-fuzz-key-000000', name: 'fuzz', models: ['gpt-4o-mini', 'mock-*'], rate_limit: { requests_per_minute: 100000 } }] } });
  });
  afterAll(async () => {
    await plain.close(100);
    await keyed.close(100);
  });

  /** Bodies as adapters may hand them over: parsed objects, strings, bytes, chunked streams, nothing. */
  function bodyFor(r: Rng, c: Case): unknown {
    if (c.body === undefined) return undefined;
    switch (r.int(5)) {
      case 0: {
        try {
          return JSON.parse(c.body);
        } catch {
          return c.body;
        }
      }
      case 1:
        return new TextEncoder().encode(c.body);
      case 2: {
        const bytes = new TextEncoder().encode(c.body);
        return (async function* () {
          for (let i = 0; i < bytes.length; i += 1 + r.int(4096)) yield bytes.subarray(i, i + 4096);
        })();
      }
      case 3:
        return r.chance(0.5) ? null : undefined;
      default:
        return c.body;
    }
  }

  it(`${DIRECT_CASES} requests through handle(): never a gateway 5xx, never a rejection`, async () => {
    const r = new Rng(SEED ^ 0x9e3779b9);
    const failures: string[] = [];
    const seen: Array<{ c: Case; status: number; traceId: string; n: number }> = [];
    for (let start = 0; start < DIRECT_CASES; start += 16) {
      await Promise.all(
        Array.from({ length: Math.min(16, DIRECT_CASES - start) }, async (_, i) => {
          const n = start + i;
          const c = makeCase(r, 100_000 + n);
          const headers: GatewayRequest['headers'] = { ...c.headers };
          if (r.chance(0.1)) headers[r.pick(['x-llmux-metadata', 'x-llmux-trace-id', 'authorization'])] = [headerSafe(randomString(r)), 'second'];
          if (r.chance(0.3)) headers.authorization = r.chance(0.5) ? 'Bearer llmux-fuzz-key-000000' : headerSafe(randomString(r));
          const gateway = r.chance(0.3) ? keyed : plain;
          const res = await gateway.handle({ method: r.chance(0.05) ? c.method.toLowerCase() : c.method, path: c.path, headers, body: bodyFor(r, c) });
          const traceId = res.headers['x-llmux-trace-id']!;
          expect(typeof traceId).toBe('string');
          if (res.body && typeof res.body === 'object' && Symbol.asyncIterator in res.body) {
            for await (const _ of res.body as AsyncIterable<unknown>);
          } else if (res.status >= 400 && !(res.body as any)?.error?.message) {
            failures.push(`direct #${n}: ${res.status} without an error message: ${JSON.stringify(res.body).slice(0, 200)}`);
          }
          seen.push({ c, status: res.status, traceId, n });
        }),
      );
    }
    await settleRecords();
    for (const s of seen) {
      const problem = judge(s.c, s.status, s.traceId, true, `direct seed ${SEED} case #${s.n}`);
      if (problem) failures.push(problem);
    }
    expect(failures.slice(0, 5)).toEqual([]);
    expect(internalErrors().map((x) => JSON.stringify(x.error))).toEqual([]);
    expect((await plain.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: CHAT_BODIES[0] })).status).toBe(200);
  });

  it(`${CONFIG_CASES} mutated server configs: a TypeError naming the field, or a gateway that answers without a 5xx`, async () => {
    const r = new Rng(SEED ^ 0x85ebca6b);
    const failures: string[] = [];
    for (let n = 0; n < CONFIG_CASES; n++) {
      const config = mutate(r, r.pick(CONFIGS.slice(0, 8)), 1 + r.int(3));
      let g: Gateway;
      try {
        g = createGateway({ ...serverOptions(), config });
      } catch (e) {
        if (!(e instanceof TypeError) || !/^llmux: /.test(e.message)) failures.push(`config #${n}: threw ${String(e)} for ${JSON.stringify(config)}`);
        continue;
      }
      try {
        const c = makeCase(r, 200_000 + n);
        const res = await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-llmux-trace-id': `cfg-${n}` }, body: c.path.includes('chat') ? JSON.parse(c.body ?? '{}') : CHAT_BODIES[0] }).catch((e) => {
          failures.push(`config #${n}: handle rejected: ${String(e)}`);
          return undefined;
        });
        if (res && res.body && typeof res.body === 'object' && Symbol.asyncIterator in res.body) for await (const _ of res.body as AsyncIterable<unknown>);
        await settleRecords();
        if (res) {
          const problem = judge({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: JSON.stringify(config) }, res.status, `cfg-${n}`, true, `config seed ${SEED} #${n}`);
          if (problem) failures.push(problem);
        }
      } catch {
        // A body the case generator could not parse: the config itself was what we tested.
      } finally {
        await g.close(100);
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
  });
});
