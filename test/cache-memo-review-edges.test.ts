/**
 * Review of two cache performance changes: hits copy a kept parse of the stored entry
 * (`cache/decoded-entries.ts`) instead of parsing it again, and the exact key's text is written faster
 * (`cache/canonical-key.ts`, `cache/cache-key.ts`) while staying byte-identical to the released keying.
 * `works` holds what was verified correct; each test in `bugs` asserts the correct behaviour and fails today.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createGateway, type CacheScratch, type Gateway, type GatewayConfig, type GatewayOptions } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { exactKey, type KeyInput } from '../packages/core/src/cache/cache-key.js';
import { canonicalJson } from '../packages/core/src/cache/canonical-key.js';
import type { PlanNode } from '../packages/core/src/config/plan.js';
import type { ResolvedTarget } from '../packages/core/src/providers/types.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { seeded } from './helpers/seeded-random.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';
import { createHash } from 'node:crypto';

const CHAT = '/v1/chat/completions';
const EMBED = '/v1/embeddings';
const TEXT = fixtureJson('openai/chat-completions.text.json');
const FLOAT = fixtureJson('openai/embeddings.float.json');
const BASE64 = fixtureJson('openai/embeddings.base64.json');

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const apps: TestApp[] = [];
const gateways: Gateway[] = [];
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await Promise.all(gateways.splice(0).map((g) => g.close(100)));
  await Promise.all(closers.splice(0).map((c) => c()));
});

const chatCalls = () => upstream.requests.filter((r) => r.path.startsWith(CHAT)).length;
const embedCalls = () => upstream.requests.filter((r) => r.path.startsWith(EMBED)).length;
const target = () => ({ provider: 'openai', api_key: 'sk-test-upstream', custom_host: `${upstream.url}/v1` });
const config = (cache: Record<string, unknown> = { mode: 'simple' }): GatewayConfig => ({ cache, targets: [target()] }) as GatewayConfig;

/** A completion whose text says which upstream call made it. */
const answer = (content: string) => ({ ...TEXT, id: `chatcmpl-${content}`, choices: [{ ...TEXT.choices[0], message: { role: 'assistant', content, refusal: null } }] });

async function startApp(options: AppOptions): Promise<{ app: TestApp; client: OpenAI; seen: CacheScratch[] }> {
  const app = await appFactories.express5!(options);
  apps.push(app);
  const seen: CacheScratch[] = [];
  app.gateway.internals.stages.push({ name: 'spy', after: (state) => void seen.push({ ...(state.scratch.cache as CacheScratch) }) });
  return { app, client: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }), seen };
}

function gateway(options: Partial<GatewayOptions>): Gateway {
  const g = createGateway({ env: {}, ...options } as GatewayOptions);
  gateways.push(g);
  return g;
}

const chatReq = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: CHAT,
  headers: { 'content-type': 'application/json', ...headers },
  body,
});
const embedReq = (body: Record<string, unknown>, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: EMBED,
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'text-embedding-3-small', input: 'The food was delicious', ...body },
});

const ask = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }] });

// ---------------------------------------------------------------------------------------------
// The released keying (6069076), copied as the reference.
// ---------------------------------------------------------------------------------------------

function oldSortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

function oldCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i) out += ',';
      const v: unknown = value[i];
      out += v === undefined || typeof v === 'function' ? 'null' : oldCanonicalJson(v);
    }
    return out + ']';
  }
  out = '{';
  let first = true;
  for (const key of oldSortedKeys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out += ',';
    first = false;
    out += JSON.stringify(key) + ':' + oldCanonicalJson(v);
  }
  return out + '}';
}

const OLD_NOT_ANSWER = new Set(['model', 'messages', 'stream', 'stream_options', 'user', 'metadata', 'store']);
function oldAnswerFields(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!OLD_NOT_ANSWER.has(k)) out[k] = v;
  return out;
}
function oldScopeOf(identity: Record<string, unknown>, shared: boolean): Record<string, unknown> | null {
  if (shared) return null;
  const scope: Record<string, unknown> = {};
  for (const field of ['key', 'user', 'team', 'tenant'] as const) {
    const v = identity[field];
    if (v !== undefined && v !== null) scope[field] = String(v);
  }
  return scope;
}

const TARGET_NODE: PlanNode = {
  kind: 'target',
  path: 'config',
  target: { path: 'config', index: 0, provider: 'openai', baseURL: 'https://openai.example/v1', overrideParams: { temperature: 0 }, forwardHeaders: [], weight: 1, extra: { organization: 'o' }, apiKey: 'sk-1' } as unknown as ResolvedTarget,
};
/** The route tree `routeOf` builds for TARGET_NODE, without keys (no fields, no headers). */
const OLD_ROUTE = { provider: 'openai', url: 'https://openai.example/v1', params: { temperature: 0 }, settings: { organization: 'o' } };

/** The released `exactKey` for a plain target route. */
function oldExactKey(input: KeyInput, kind: 'chat' | 'embeddings' = 'chat'): string {
  let text = '{';
  if (kind !== 'chat') text += `"kind":${JSON.stringify(kind)},`;
  else if (input.body.messages !== undefined) text += `"messages":${oldCanonicalJson(input.body.messages)},`;
  if (input.model !== undefined) text += `"model":${oldCanonicalJson(input.model)},`;
  if (input.namespace !== undefined) text += `"namespace":${JSON.stringify(input.namespace)},`;
  text += `"params":${oldCanonicalJson(oldAnswerFields(input.body))},"route":${oldCanonicalJson(OLD_ROUTE)},"scope":${oldCanonicalJson(oldScopeOf(input.identity as never, input.shared))},"v":1}`;
  return createHash('sha256').update(text).digest('hex');
}

function keyInput(body: Record<string, unknown>, over: Partial<KeyInput> = {}): KeyInput {
  return { body: body as KeyInput['body'], model: 'gpt-4o', root: TARGET_NODE, identity: {}, metadata: {}, shared: false, includeApiKeys: false, ...over };
}

// A seeded generator of odd JSON-ish values.
function generator(seed: number) {
  const rnd = seeded(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const NAMES = ['role', 'content', 'type', 'a', 'b', 'B', '0', '1', '10', '2', '-1', '01', '1.5', '4294967295', '4294967294', '', ' ', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'é', 'e\u0301', '😀', '\ud800', '\udfff', 'a"b', 'a\\b', '\n', '\u2028', '\u0000', 'ä', 'Z', 'z', '__defineGetter__', 'valueOf'];
  const STRINGS = ['', 'hi', 'é😀', '\ud800', 'x\udc00y', '"quoted"', '\\', '\u2028\u2029', '\u0000\u001f', '</script>', 'a'.repeat(300), '\t\r\n', '0', 'null', 'true'];
  const NUMBERS = [0, -0, 1, -1, 0.1, 1e21, 1e-7, -1e-7, 123456789012345680000, Number.MAX_SAFE_INTEGER + 2, Number.MAX_VALUE, Number.MIN_VALUE, 5e-324, 1.7976931348623157e308, 2 ** 53, 0.1 + 0.2, NaN, Infinity, -Infinity, 1e300 * 10];
  const name = (): string => (rnd() < 0.75 ? pick(NAMES) : String.fromCharCode(...Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => Math.floor(rnd() * 0xffff))));
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 3 || r < 0.35) {
      const p = rnd();
      if (p < 0.3) return pick(STRINGS);
      if (p < 0.6) return pick(NUMBERS);
      if (p < 0.7) return rnd() < 0.5;
      if (p < 0.8) return null;
      if (p < 0.87) return undefined;
      if (p < 0.93) return () => 1;
      if (p < 0.97) return Symbol('s');
      return new Date(0);
    }
    if (r < 0.65) {
      const n = Math.floor(rnd() * 5);
      const arr = Array.from({ length: n }, () => value(depth + 1));
      if (rnd() < 0.1) arr.length += 2; // holes
      return arr;
    }
    const obj: Record<string, unknown> = {};
    const n = Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) obj[name()] = value(depth + 1);
    return obj;
  };
  const identityValue = (): unknown => pick([undefined, null, 'k', '', 0, -0, 12, NaN, true, false, { a: 1 }, ['x', 'y'], 10n, Symbol('id'), '😀\ud800']);
  return { rnd, pick, name, value, identityValue };
}

// ---------------------------------------------------------------------------------------------

describe('works', () => {
  it('keys: new exactKey equals the released keying on 3000 generated bodies (odd names, values, identities)', async () => {
    const gen = generator(0x5eed);
    let compared = 0;
    for (let i = 0; i < 3000; i++) {
      const body: Record<string, unknown> = { model: 'gpt-4o' };
      if (gen.rnd() < 0.9) body.messages = [{ role: 'user', content: gen.value(1) }, ...(gen.value(0) instanceof Array ? [gen.value(1)] : [])];
      const extra = Math.floor(gen.rnd() * 6);
      for (let j = 0; j < extra; j++) body[gen.rnd() < 0.3 ? gen.pick(['temperature', 'stream', 'user', 'metadata', 'tools', 'n', 'seed', 'store', 'stop']) : gen.name()] = gen.value(1);
      const identity: Record<string, unknown> = {};
      for (const f of ['key', 'user', 'team', 'tenant', 'other']) if (gen.rnd() < 0.6) identity[f] = gen.identityValue();
      const over: Partial<KeyInput> = {
        identity: identity as never,
        shared: gen.rnd() < 0.2,
        ...(gen.rnd() < 0.3 ? { namespace: gen.pick(['ns', '', 'é😀', '\ud800']) } : {}),
      };
      const kind = gen.rnd() < 0.2 ? 'embeddings' : 'chat';
      const input = keyInput(body, over);
      expect(await exactKey(input, kind), JSON.stringify(oldCanonicalJson(body))).toBe(oldExactKey(input, kind));
      compared++;
    }
    expect(compared).toBe(3000);
  });

  it('keys: canonicalJson equals the released one on generated values, nested __proto__ (own, from JSON.parse) included', () => {
    const gen = generator(42);
    for (let i = 0; i < 3000; i++) {
      const v = gen.value(0);
      expect(canonicalJson(v)).toBe(oldCanonicalJson(v));
    }
    const parsed = JSON.parse('{"a":{"__proto__":{"x":1},"constructor":2},"b":[{"__proto__":null}]}');
    expect(canonicalJson(parsed)).toBe(oldCanonicalJson(parsed));
    for (const v of [-0, 1e21, 1e-7, NaN, Infinity, '\ud800', true, null, undefined, Symbol('x'), () => 1, new Number(3), new String('ab'), Object.create(null)]) {
      expect(canonicalJson(v)).toBe(oldCanonicalJson(v));
    }
    // bigint throws in both
    expect(() => canonicalJson(1n)).toThrow(TypeError);
    expect(() => oldCanonicalJson(1n)).toThrow(TypeError);
  });

  it('keys: a body member named constructor / toString / numeric-like keys the released way', async () => {
    for (const text of ['{"model":"m","messages":[],"constructor":1,"toString":"x","10":1,"2":2,"01":3}', '{"model":"m","messages":[{"role":"user","content":"hi","__proto__":{"a":1}}]}']) {
      const input = keyInput(JSON.parse(text));
      expect(await exactKey(input)).toBe(oldExactKey(input));
    }
  });

  it('force-refresh then hit serves the refreshed answer; the refreshed text replaces the kept parse', async () => {
    const { client, seen } = await startApp({ config: config() });
    upstream.enqueue(CHAT, { json: answer('one') }, { json: answer('two') }, { json: answer('three') });
    expect((await client.chat.completions.create(ask('q'))).choices[0]!.message.content).toBe('one');
    expect((await client.chat.completions.create(ask('q'))).choices[0]!.message.content).toBe('one');
    const refreshed = await client.chat.completions.create(ask('q'), { headers: { 'x-llmux-cache-force-refresh': 'true' } });
    expect(refreshed.choices[0]!.message.content).toBe('two');
    for (let i = 0; i < 3; i++) {
      const hit = await client.chat.completions.create(ask('q')).withResponse();
      expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
      expect(hit.data.choices[0]!.message.content).toBe('two');
    }
    expect(chatCalls()).toBe(2);
    expect(seen.map((s) => s.status)).toEqual(['MISS', 'HIT', 'REFRESH', 'HIT', 'HIT', 'HIT']);
  });

  it('max_age: a kept parse is not served past the entry age (clock moved forward)', async () => {
    let clock = 1_000_000;
    const g = gateway({ config: config({ mode: 'simple', max_age: 60 }), cache: { now: () => clock } });
    upstream.enqueue(CHAT, { json: answer('old') }, { json: answer('new') });
    const body = () => ask('age');
    expect(((await g.handle(chatReq(body()))).body as any).choices[0].message.content).toBe('old');
    clock += 30_000;
    const hit = await g.handle(chatReq(body()));
    expect(hit.headers['x-llmux-cache']).toBe('HIT');
    clock += 31_000;
    const expired = await g.handle(chatReq(body()));
    expect(expired.headers['x-llmux-cache']).toBe('MISS');
    expect((expired.body as any).choices[0].message.content).toBe('new');
  });

  it('two gateways on one Redis: an overwrite, a refresh and a delete by one are seen by the other on its next read', async () => {
    const prefix = `llmux-memo-review-${process.pid}-${Date.now().toString(36)}:`;
    const storeA = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix });
    const storeB = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix });
    closers.push(async () => {
      await storeA.close?.();
      await storeB.close?.();
    });
    const a = gateway({ config: config(), cache: { store: storeA } as never });
    const b = gateway({ config: config(), cache: { store: storeB } as never });
    upstream.enqueue(CHAT, { json: answer('from-a') }, { json: answer('from-b') });
    const content = (r: any) => r.body.choices[0].message.content;
    const miss = await a.handle(chatReq(ask('shared')));
    expect(miss.headers['x-llmux-cache']).toBe('MISS');
    expect(content(await a.handle(chatReq(ask('shared'))))).toBe('from-a');
    const bHit = await b.handle(chatReq(ask('shared')));
    expect([bHit.headers['x-llmux-cache'], content(bHit)]).toEqual(['HIT', 'from-a']);
    // B refreshes: A (which kept a parse of 'from-a') must now serve B's answer.
    const bRefresh = await b.handle(chatReq(ask('shared'), { 'x-llmux-cache-force-refresh': 'true' }));
    expect(content(bRefresh)).toBe('from-b');
    await new Promise((r) => setTimeout(r, 20));
    const aAfter = await a.handle(chatReq(ask('shared')));
    expect([aAfter.headers['x-llmux-cache'], content(aAfter)]).toEqual(['HIT', 'from-b']);
    // Deleted under the key: a miss on A too.
    upstream.enqueue(CHAT, { json: answer('after-delete') });
    const scratchKey = await keyOf(a, ask('shared'));
    await storeB.cacheDelete(scratchKey);
    const aMiss = await a.handle(chatReq(ask('shared')));
    expect([aMiss.headers['x-llmux-cache'], content(aMiss)]).toEqual(['MISS', 'after-delete']);
  });

  it('a completion hit taken as an object (gateway.chat) and changed in place does not change the next hit', async () => {
    const g = gateway({ config: config() });
    upstream.enqueue(CHAT, { json: answer('pristine') });
    const first = await g.chat(ask('mutate'));
    first.choices[0]!.message.content = 'EDITED';
    const hit1 = await g.chat(ask('mutate'));
    expect(hit1.choices[0]!.message.content).toBe('pristine');
    hit1.choices[0]!.message.content = 'EDITED AGAIN';
    (hit1.usage as any).total_tokens = -1;
    hit1.choices.push(hit1.choices[0]!);
    const hit2 = await g.chat(ask('mutate'));
    expect(hit2.choices).toHaveLength(1);
    expect(hit2.choices[0]!.message.content).toBe('pristine');
    expect(hit2.usage!.total_tokens).toBe(TEXT.usage.total_tokens);
    expect(hit2).not.toBe(hit1);
    expect(chatCalls()).toBe(1);
  });

  it('a completion hit over HTTP sends the stored bytes, and the same bytes on every hit', async () => {
    const { app } = await startApp({ config: config() });
    const raw = JSON.stringify(answer('bytes'), null, 1); // odd spacing: only the stored text has it
    upstream.enqueue(CHAT, { body: raw, headers: { 'content-type': 'application/json' } });
    const post = () => fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask('bytes')) });
    const miss = await (await post()).text();
    const hits = [await post(), await post(), await post()];
    expect(hits.map((h) => h.headers.get('x-llmux-cache'))).toEqual(['HIT', 'HIT', 'HIT']);
    const texts = await Promise.all(hits.map((h) => h.text()));
    expect(new Set(texts).size).toBe(1);
    // The stored text is the upstream's own bytes: the hit sends them as they came.
    expect(texts[0]).toBe(raw);
    expect(JSON.parse(texts[0]!)).toEqual(JSON.parse(miss));
  });

  it('embeddings hits (float and base64) are each a fresh body: changing one served via handle() does not change the next', async () => {
    const g = gateway({ config: config() });
    upstream.enqueue(EMBED, { json: FLOAT }, { json: BASE64 });
    for (const [format, fixture] of [['float', FLOAT], ['base64', BASE64]] as const) {
      const miss = await g.handle(embedReq({ encoding_format: format }));
      expect(miss.status).toBe(200);
      const hit = await g.handle(embedReq({ encoding_format: format }));
      expect(hit.headers['x-llmux-cache']).toBe('HIT');
      expect(hit.body).toEqual(fixture);
      const body = hit.body as any;
      if (format === 'float') body.data[0].embedding[0] = 12345;
      else body.data[0].embedding = 'AAAA';
      body.data.push({ object: 'embedding', index: 9, embedding: [1] });
      body.usage.prompt_tokens = -5;
      const again = await g.handle(embedReq({ encoding_format: format }));
      expect(again.headers['x-llmux-cache']).toBe('HIT');
      expect(again.body).toEqual(fixture);
    }
    expect(embedCalls()).toBe(2);
  });

  it('embeddings through the OpenAI SDK (base64 default, decoded by the SDK) hit with the same vectors', async () => {
    const { client } = await startApp({ config: config() });
    upstream.enqueue(EMBED, { json: BASE64 });
    const first = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'The food was delicious' });
    const second = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'The food was delicious' }).withResponse();
    const third = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'The food was delicious' });
    expect(second.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(second.data.data[0]!.embedding).toEqual(first.data[0]!.embedding);
    expect(third.data[0]!.embedding).toEqual(first.data[0]!.embedding);
    expect(embedCalls()).toBe(1);
  });

  it('a stored stream replayed as a stream, then served to a non-stream request, then streamed again, stays whole', async () => {
    const { client } = await startApp({ config: config() });
    const head = { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini' };
    const chunks = [
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      { ...head, choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } },
    ];
    upstream.enqueue(CHAT, { chunks: [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'] });
    const body = { ...ask('stream me'), stream_options: { include_usage: true } };
    const streamText = async () => {
      const { data, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
      let text = '';
      let usage: unknown;
      for await (const c of data) {
        text += c.choices[0]?.delta.content ?? '';
        if (c.usage) usage = c.usage;
      }
      return { text, usage, cache: response.headers.get('x-llmux-cache') };
    };
    expect(await streamText()).toMatchObject({ text: 'Hello', cache: 'MISS' });
    expect(await streamText()).toMatchObject({ text: 'Hello', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, cache: 'HIT' });
    const whole = await client.chat.completions.create(ask('stream me')).withResponse();
    expect(whole.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(whole.data.choices[0]!.message.content).toBe('Hello');
    expect(await streamText()).toMatchObject({ text: 'Hello', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }, cache: 'HIT' });
    const whole2 = await client.chat.completions.create(ask('stream me'));
    expect(whole2.choices[0]!.message.content).toBe('Hello');
    expect(chatCalls()).toBe(1);
  });

  it('/v1/messages (Anthropic SDK) hits, non-stream and stream, repeatedly, from one OpenAI-target entry', async () => {
    const { app } = await startApp({ config: config() });
    upstream.enqueue(CHAT, { json: answer('from openai') });
    const anthropic = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    const req = { model: 'gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user' as const, content: 'messages hit' }] };
    const first = await anthropic.messages.create(req);
    expect(first.content).toEqual([{ type: 'text', text: 'from openai' }]);
    for (let i = 0; i < 2; i++) {
      const hit = await anthropic.messages.create(req).withResponse();
      expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
      expect(hit.data.content).toEqual([{ type: 'text', text: 'from openai' }]);
      const streamed = await anthropic.messages.stream(req).finalMessage();
      expect(streamed.content).toEqual([{ type: 'text', text: 'from openai' }]);
    }
    expect(chatCalls()).toBe(1);
  });

  it('semantic hits are each a fresh answer; the exact hit after a semantic one is right too', async () => {
    upstream.route(EMBED, topicEmbeddings);
    const { client, seen } = await startApp({ config: config({ mode: 'semantic' }) });
    upstream.enqueue(CHAT, { json: answer('python answer') });
    await client.chat.completions.create(ask('What is Python?'));
    for (let i = 0; i < 3; i++) {
      const sem = await client.chat.completions.create(ask('Tell me about Python')).withResponse();
      expect(sem.response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
      expect(sem.data.choices[0]!.message.content).toBe('python answer');
    }
    const exact = await client.chat.completions.create(ask('What is Python?'));
    expect(exact.choices[0]!.message.content).toBe('python answer');
    expect(chatCalls()).toBe(1);
    expect(seen.map((s) => s.status)).toEqual(['MISS', 'SEMANTIC_HIT', 'SEMANTIC_HIT', 'SEMANTIC_HIT', 'HIT']);
  });

  it('an answer with own "__proto__" members is served as JSON.parse would give it, on every hit', async () => {
    const g = gateway({ config: config() });
    const raw = JSON.stringify(answer('proto')).replace('"usage":', '"__proto__":{"polluted":true,"constructor":{"x":1}},"usage":');
    upstream.enqueue(CHAT, { body: raw, headers: { 'content-type': 'application/json' } });
    await g.handle(chatReq(ask('proto')));
    for (let i = 0; i < 2; i++) {
      const c = (await g.chat(ask('proto'))) as any;
      expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
      expect(Object.prototype.hasOwnProperty.call(c, '__proto__')).toBe(true);
      expect(c.polluted).toBeUndefined();
      expect(Object.getOwnPropertyDescriptor(c, '__proto__')!.value).toEqual({ polluted: true, constructor: { x: 1 } });
    }
    expect(({} as any).polluted).toBeUndefined();
  });

  it('chatStream hits are fresh chunks: a caller editing what it relays does not change the next hit', async () => {
    const g = gateway({ config: config() });
    upstream.enqueue(CHAT, { json: answer('streamed pristine') });
    await g.chat(ask('relay'));
    const collect = async (edit: boolean) => {
      let text = '';
      for await (const c of g.chatStream(ask('relay'))) {
        text += c.choices[0]?.delta.content ?? '';
        if (edit && c.choices[0]?.delta.content) c.choices[0].delta.content = 'REDACTED';
      }
      return text;
    };
    expect(await collect(true)).toBe('streamed pristine');
    expect(await collect(false)).toBe('streamed pristine');
    expect(chatCalls()).toBe(1);
  });

  it('a chat entry then /v1/messages (Anthropic SDK) with the same ask, then chat again: every answer is the stored one', async () => {
    const { app, client } = await startApp({ config: config() });
    upstream.route(CHAT, { json: answer('shared answer') });
    const chat = () => client.chat.completions.create({ ...ask('cross route'), max_tokens: 64 }).withResponse();
    const first = await chat();
    expect(first.data.choices[0]!.message.content).toBe('shared answer');
    const anthropic = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    const msg = await anthropic.messages.create({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: 'cross route' }] }).withResponse();
    expect(msg.data.content).toEqual([{ type: 'text', text: 'shared answer' }]);
    const msg2 = await anthropic.messages.create({ model: 'gpt-4o-mini', max_tokens: 64, messages: [{ role: 'user', content: 'cross route' }] }).withResponse();
    expect(msg2.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(msg2.data.content).toEqual([{ type: 'text', text: 'shared answer' }]);
    const again = await chat();
    expect(again.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(again.data).toEqual(first.data);
    expect(chatCalls()).toBeLessThanOrEqual(2);
  });
});

/** The key the gateway used for a request: read off a spy stage's scratch. */
async function keyOf(g: Gateway, body: unknown): Promise<string> {
  let key = '';
  const spy = { name: 'key-spy', after: (state: any) => void (key = (state.scratch.cache as CacheScratch).key) };
  g.internals.stages.push(spy as never);
  await g.handle(chatReq(body));
  g.internals.stages.splice(g.internals.stages.indexOf(spy as never), 1);
  return key;
}

describe('changed on purpose', () => {
  it('a body with an own top-level "__proto__" member is keyed by it, as nested members always were', async () => {
    // The released keying dropped it (its copy's assignment set a prototype instead), so a body that sent
    // `"__proto__": {...}` upstream could be answered with the entry of the body without it. Such bodies
    // now get keys of their own: one miss each after the upgrade, for a member no SDK sends.
    const plain = keyInput(JSON.parse('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'));
    const keys = new Set([await exactKey(plain)]);
    for (const text of ['{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"__proto__":{"temperature":1}}', '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"__proto__":null}', '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"__proto__":5}']) {
      const input = keyInput(JSON.parse(text));
      expect(oldExactKey(input)).toBe(oldExactKey(plain));
      keys.add(await exactKey(input));
    }
    expect(keys.size).toBe(4);
  });
});

describe('fixed bugs (each test failed before its fix)', () => {

  it('an upstream answer nested 100,000 levels deep is served from the cache as the released version served it (200 HIT, not 500)', async () => {
    // BUG: copyJson recurses once per nesting level, so a kept entry whose answer nests deeply (JSON.parse and the stored-bytes writer handle it; the released hit path did) throws RangeError on every hit: each request for that key is a 500 until the entry expires (max_age, 7 days by default), instead of a hit or, at worst, a fail-open miss — packages/core/src/cache/decoded-entries.ts:5-20 (called from copyOf, :23-30, via cache-stage.ts read())
    const g = gateway({ config: config() });
    const depth = 100_000;
    const raw = JSON.stringify(answer('deep')).replace('"usage":', `"x_extra":${'['.repeat(depth)}${']'.repeat(depth)},"usage":`);
    upstream.route(CHAT, { body: raw, headers: { 'content-type': 'application/json' } });
    const miss = await g.handle(chatReq(ask('deep')));
    expect([miss.status, miss.headers['x-llmux-cache']]).toEqual([200, 'MISS']);
    const statuses: unknown[] = [];
    for (let i = 0; i < 2; i++) {
      const hit = await g.handle(chatReq(ask('deep')));
      statuses.push([hit.status, hit.headers['x-llmux-cache'], (hit.body as any)?.choices?.[0]?.message?.content]);
    }
    expect(statuses).toEqual([
      [200, 'HIT', 'deep'],
      [200, 'HIT', 'deep'],
    ]);
  });

  it('member names quoted for keys do not pin client-sent text: 48 requests with one unique 1 MiB schema property name each retain < 16 MiB', async () => {
    // BUG: quotedName keeps the first 4096 distinct member names (and their quoted copies) forever in a module-level Map, bounded by count but not length: any client of a cached route can pin up to 4096 × 2 × the body limit (10 MiB default) — ~80 GB — with names it chooses (a tool's JSON-schema property names); measured ~98 MiB retained for 48 requests, 1.4 MiB on the released version — packages/core/src/cache/canonical-key.ts:16-28
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heap = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    // A fresh module graph: other tests in this file already filled the name memo with short names.
    vi.resetModules();
    const fresh = (await import('@llmux/core')) as typeof import('@llmux/core');
    const g = fresh.createGateway({ env: {}, config: config() } as GatewayOptions);
    gateways.push(g);
    upstream.route(CHAT, { json: answer('tools') });
    const filler = 'p'.repeat(1 << 20);
    const body = (i: number) =>
      `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"${i}${filler}":{"type":"string"}}}}}]}`;
    expect((await g.handle(chatReq(body(-1)))).status).toBe(200);
    upstream.requests.length = 0;
    const before = heap();
    for (let i = 0; i < 48; i++) {
      const r = await g.handle(chatReq(body(i)));
      expect(r.status).toBe(200);
      upstream.requests.length = 0; // the mock keeps every request's text: not the gateway's memory
    }
    await new Promise((r) => setTimeout(r, 50));
    const retainedMiB = (heap() - before) / 2 ** 20;
    expect(retainedMiB).toBeLessThan(16);
  });
});
