/**
 * Several gateway instances sharing one Redis (@llmux/redis): budgets, rate limits, breaker, cache and
 * semantic index under concurrency, instance shutdown and Redis connections dropped mid-run.
 * Every test uses its own key prefix; nothing here flushes the shared Redis.
 */
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions, type GatewayResponse } from '@llmux/core';
import { createRedisStore, type RedisStore } from '@llmux/redis';
import { startMockUpstream, sleep, type MockUpstream } from './helpers/mock-upstream.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';

const prefixes: string[] = [];
const randomPrefix = () => {
  const p = `llmux-review-rce:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
  prefixes.push(p);
  return p;
};

let upstream: MockUpstream;
let admin: ReturnType<typeof createClient>;
beforeAll(async () => {
  upstream = await startMockUpstream();
  admin = createClient();
  await admin.connect();
});
afterAll(async () => {
  await upstream.close();
  for (const p of prefixes) {
    for await (const keys of admin.scanIterator({ MATCH: `${p}*`, COUNT: 500 })) if ((keys as unknown as string[]).length) await admin.del(keys as any);
  }
  await admin.quit();
});

const completion = (content = 'ok', tokens = 1, prompt = 7) => ({
  id: 'chatcmpl-rce',
  object: 'chat.completion',
  created: 1,
  model: 'budget-model',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: prompt, completion_tokens: tokens, total_tokens: prompt + tokens },
});
/** Streams when asked to, else JSON; `delayMs` before either. */
const answer =
  (content = 'ok', delayMs = 0, chunkDelayMs = 0) =>
  (req: { json: any }) =>
    req.json?.stream ? { chunks: streamChunks(content), delayMs, chunkDelayMs } : { json: completion(content), delayMs };
const streamChunks = (content = 'ok', tokens = 1, prompt = 7) => {
  const base = { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'budget-model' };
  return [
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`,
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`,
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: prompt, completion_tokens: tokens, total_tokens: prompt + tokens } })}\n\n`,
    'data: [DONE]\n\n',
  ];
};
/** $1 per output token, free input: `max_tokens: 1` reserves exactly $1 and costs $1. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const target = (extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1`, ...extra });

const gateways: Gateway[] = [];
const stores: RedisStore[] = [];
function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ logger: false, pricing, adminKey: 'admin-key-rce-0123456789', ...options });
  gateways.push(g);
  return g;
}
function redisStore(prefix: string, extra: Parameters<typeof createRedisStore>[0] = {}): RedisStore {
  const s = createRedisStore({ prefix, ...extra });
  stores.push(s);
  return s;
}
/** `n` gateways, each with its own Redis connection, on one prefix. */
function instances(n: number, options: Omit<GatewayOptions, 'store'>, storeExtra: Parameters<typeof createRedisStore>[0] = {}): Gateway[] {
  const prefix = randomPrefix();
  return Array.from({ length: n }, () => gateway({ ...options, store: redisStore(prefix, storeExtra) }));
}
beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/embeddings', topicEmbeddings);
  upstream.route('/v1/chat/completions', answer());
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close(500).catch(() => undefined)));
  await Promise.all(stores.splice(0).map((s) => s.close().catch(() => undefined)));
});

const chat = (content = 'hi', extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content }], ...extra },
});
const usage = async (g: Gateway) =>
  (await g.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin-key-rce-0123456789' } })).body as any;
const chatCalls = () => upstream.requests.filter((r) => r.path.startsWith('/v1/chat/completions')).length;

/** Reads a response body to the end (a stream's chunks, or the JSON), swallowing a stream error. */
async function drain(res: GatewayResponse): Promise<string> {
  const body = res.body as any;
  if (body && typeof body[Symbol.asyncIterator] === 'function') {
    let text = '';
    const dec = new TextDecoder();
    try {
      for await (const c of body as AsyncIterable<Uint8Array | string>) text += typeof c === 'string' ? c : dec.decode(c);
    } catch (e) {
      text += `\n<threw ${(e as Error).message}>`;
    }
    return text;
  }
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return JSON.stringify(body);
}


const statusCount = (xs: number[]) => xs.reduce((m: Record<number, number>, s) => ((m[s] = (m[s] ?? 0) + 1), m), {});

/** Redis' clock, ms (the limit scripts' clock). */
async function redisNow(): Promise<number> {
  const t = (await admin.sendCommand(['TIME'])) as string[];
  return Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
}

const failing500 = { status: 500, json: { error: { message: 'upstream down', type: 'server_error' } } };

describe('budgets hammered from three instances', () => {
  it('USD: 120 concurrent requests (half streamed) against $7 → exactly 7 answered, the rest 402, spend 7 and nothing left reserved', async () => {
    const gs = instances(3, { config: { targets: [target()], budget: { max_cost_per_day: 7 } } });
    upstream.route('/v1/chat/completions', answer('ok', 20, 5));
    const results = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const res = await gs[i % 3]!.handle(chat(`q${i}`, i % 2 ? { stream: true } : {}));
        return { res, text: await drain(res) };
      }),
    );
    const ok = results.filter((r) => r.res.status === 200);
    const refused = results.filter((r) => r.res.status !== 200);
    // $1 reserved and $1 spent per request: the reservation rule allows exactly 7, none more.
    expect(ok).toHaveLength(7);
    expect(chatCalls()).toBe(7);
    for (const r of ok) expect(r.text).toMatch(/"ok"|ok/);
    for (const { res, text } of refused) {
      expect(res.status).toBe(402);
      expect(JSON.parse(text).error).toMatchObject({ code: 'budget_exceeded', type: 'budget_exceeded', limit: 7, unit: 'usd' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(res.headers['x-llmux-cost']).toBe('0');
    }
    const u = await usage(gs[1]!);
    expect(u.budgets[0]).toMatchObject({ spent: 7, reserved: 0, remaining: 0 });
    // Spent: a later request on any instance is refused on spend alone, with Retry-After until the window ends.
    const late = await gs[2]!.handle(chat('late'));
    expect(late.status).toBe(402);
    expect(Number(late.headers['retry-after'])).toBeGreaterThan(1);
  });

  it('tokens: 60 concurrent requests against 100 tokens/day → admitted while spent + reservations fit, settled to real usage', async () => {
    // Each request reserves 11 tokens (2 bytes of text + 8 per message + max_tokens 1) and uses 8.
    const gs = instances(3, { config: { targets: [target()], budget: { max_tokens_per_day: 100 } } });
    upstream.route('/v1/chat/completions', answer('ok', 30, 5));
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => gs[i % 3]!.handle(chat('hi', i % 2 ? { stream: true } : {}))));
    await Promise.all(rs.map(drain));
    const counts = statusCount(rs.map((r) => r.status));
    expect(counts).toEqual({ 200: 9, 402: 51 });
    const u = await usage(gs[0]!);
    expect(u.budgets[0]).toMatchObject({ unit: 'tokens', spent: 72, reserved: 0 });
    // Sequentially, each settled at 8: 72 → 80 → 88 → 96 fit (spent + 11 ≤ 100), then 96 + 11 does not.
    const next = [];
    for (let i = 0; i < 4; i++) next.push((await gs[i % 3]!.handle(chat('hi'))).status);
    expect(next).toEqual([200, 200, 200, 402]);
  });
});

describe('rate limits shared by three instances', () => {
  it('exactly N of 60 concurrent requests pass a N/min limit; remaining counts down once per request; 429s are sane', async () => {
    const gs = instances(3, { config: { targets: [target()], rate_limit: { requests_per_minute: 10 } } });
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => gs[i % 3]!.handle(chat(`q${i}`, i % 2 ? { stream: true } : {}))));
    await Promise.all(rs.map(drain));
    const ok = rs.filter((r) => r.status === 200);
    expect(ok).toHaveLength(10);
    expect(ok.map((r) => Number(r.headers['x-ratelimit-remaining-requests'])).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of ok) expect(r.headers['x-ratelimit-limit-requests']).toBe('10');
    for (const r of rs.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(429);
      const retry = Number(r.headers['retry-after']);
      expect(retry).toBeGreaterThanOrEqual(59);
      // Until the oldest entry leaves the 60 s window (the script adds 1 ms, which may round up to 61 s).
      expect(retry).toBeLessThanOrEqual(61);
      expect(Number(r.headers['retry-after-ms'])).toBeLessThanOrEqual(60_001);
      expect(r.headers['x-ratelimit-remaining-requests']).toBe('0');
    }
  });

  it('the sliding window rolls over: a full window frees up when its oldest entry leaves, on every instance, and Retry-After says when', async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], rate_limit: { requests_per_minute: 4 } };
    const [a, b] = [0, 1].map(() => gateway({ config, store: redisStore(prefix) }));
    // Four requests made ~59.4 s ago (as an instance would have logged them), 100 ms apart.
    const w = `${prefix}{limits}:w:r:gateway:requests:60000`;
    const amounts = `${prefix}{limits}:a:r:gateway:requests:60000`;
    const now = await redisNow();
    for (let i = 0; i < 4; i++) await admin.zAdd(w, { score: now - 59_400 + i * 100, value: `old${i}` });
    await admin.hSet(amounts, { old0: '1', old1: '1', old2: '1', old3: '1', '#sum': '4', '#win': '60000' });
    await admin.pExpire(w, 60_000);
    await admin.pExpire(amounts, 60_000);
    const refused = await a!.handle(chat('now'));
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    const waitMs = Number(refused.headers['retry-after-ms']);
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(700);
    await sleep(waitMs + 20);
    const admitted = await b!.handle(chat('after the oldest left'));
    expect(admitted.status).toBe(200);
    expect(admitted.headers['x-ratelimit-remaining-requests']).toBe('0');
    // The window is full again until the next old entry leaves (~100 ms later).
    expect((await a!.handle(chat('again'))).status).toBe(429);
  });

  it("a request refused by one window (per user) consumes no other window (gateway) and reserves no budget", async () => {
    const gs = instances(3, {
      config: { targets: [target()], budget: { max_cost_per_day: 50 }, rate_limit: [{ requests_per_minute: 50 }, { requests_per_minute: 3, scope: 'user' }] },
    });
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => gs[i % 3]!.handle(chat(`q${i}`, i % 2 ? { stream: true } : {}), { user: 'alice' })));
    await Promise.all(rs.map(drain));
    expect(statusCount(rs.map((r) => r.status))).toEqual({ 200: 3, 429: 17 });
    const u = await usage(gs[0]!);
    expect(u.rate_limits.find((r: any) => r.scope === 'gateway')).toMatchObject({ used: 3 });
    expect(u.budgets[0]).toMatchObject({ spent: 3, reserved: 0 });
    const bob = await gs[1]!.handle(chat('bob'), { user: 'bob' });
    expect(bob.status).toBe(200);
    expect(bob.headers['x-ratelimit-remaining-requests']).toBe('2');
  });
});

describe('circuit breaker shared through Redis', () => {
  it('A and B trip it together, C sees it open without calling upstream, and after the cooldown exactly one trial runs across instances', async () => {
    const gs = instances(3, { config: { targets: [target()], circuit_breaker: { failure_threshold: 2, window: 60, cooldown: 1 } } });
    upstream.route('/v1/chat/completions', failing500);
    expect((await gs[0]!.handle(chat('a'))).status).toBe(500);
    expect((await gs[1]!.handle(chat('b'))).status).toBe(500);
    const open = await gs[2]!.handle(chat('c'));
    expect(open.status).toBe(503);
    expect(Number(open.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(chatCalls()).toBe(2);
    await sleep(1050);
    upstream.reset();
    upstream.route('/v1/chat/completions', answer('back', 200));
    const rs = await Promise.all(Array.from({ length: 9 }, (_, i) => gs[i % 3]!.handle(chat(`t${i}`, i % 2 ? { stream: true } : {}))));
    await Promise.all(rs.map(drain));
    expect(chatCalls()).toBe(1);
    expect(statusCount(rs.map((r) => r.status))).toEqual({ 200: 1, 503: 8 });
    for (const g of gs) expect((await g.handle(chat('closed again'))).status).toBe(200);
  });

  // BUG: a half-open trial that the gateway itself refuses (a 400 from a translator, no upstream call) is recorded as a success and closes the circuit for every instance
  it('a half-open trial refused by the gateway before any upstream call does not close the circuit for the other instances', async () => {
    const prefix = randomPrefix();
    const config = {
      targets: [{ provider: 'anthropic', api_key: 'sk-ant-upstream', custom_host: `${upstream.url}/v1` }],
      circuit_breaker: { failure_threshold: 1, window: 60, cooldown: 1 },
    };
    const a = gateway({ config, store: redisStore(prefix) });
    const b = gateway({ config, store: redisStore(prefix) });
    upstream.route('/v1/messages', { status: 500, json: { type: 'error', error: { type: 'api_error', message: 'upstream down' } } });
    const calls = () => upstream.requests.filter((r) => r.path.startsWith('/v1/messages')).length;
    const claude = { model: 'claude-3-5-haiku-latest' };
    expect((await a.handle(chat('opens it', claude))).status).toBe(500);
    await sleep(1100); // cooldown over: the next caller gets the half-open trial
    // A client's malformed request takes the trial on A; the gateway refuses it (400) without calling Anthropic.
    const bad = await a.handle(chat('bad', { ...claude, reasoning_effort: 'bogus' }));
    expect(bad.status).toBe(400);
    expect(calls()).toBe(1);
    // Nothing has shown the upstream is back: B's requests must not all be let through to the dead upstream.
    const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => b.handle(chat(`b${i}`, claude))));
    expect(calls() - 1).toBeLessThanOrEqual(1);
    expect(rs.filter((r) => r.status === 500).length).toBeLessThanOrEqual(1);
  });

  // BUG: an instance shutting down cuts its in-flight half-open trial, and the cut is recorded as a successful trial: the shared circuit closes for every other instance
  it('close() of the instance holding the half-open trial does not close the circuit for the other instances', async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], circuit_breaker: { failure_threshold: 1, window: 60, cooldown: 1 } };
    const a = gateway({ config, store: redisStore(prefix) });
    const b = gateway({ config, store: redisStore(prefix) });
    let n = 0;
    // The upstream stays down; the trial call hangs.
    upstream.route('/v1/chat/completions', () => (++n === 2 ? { hang: true } : failing500));
    expect((await a.handle(chat('opens it'))).status).toBe(500);
    await sleep(1100);
    const trial = a.handle(chat('trial'));
    await sleep(100);
    expect(n).toBe(2);
    await a.close(200); // a rolling deploy: the deadline passes, the trial is cut
    expect((await trial).status).toBe(503);
    const rs = await Promise.all(Array.from({ length: 5 }, (_, i) => b.handle(chat(`b${i}`))));
    // The trial lease (1 s) still runs and nothing proved the upstream healthy: B should be skipped, not flood it.
    expect(n - 2).toBeLessThanOrEqual(1);
    expect(rs.filter((r) => r.status === 500).length).toBeLessThanOrEqual(1);
  });

  // BUG: circuits are keyed by target path + provider/URL/model only, so one tenant's 429s on its own key open the circuit for another tenant's key on every instance
  it("a tenant's quota 429s on its own key do not open the circuit for another tenant's key (x-portkey-provider + Authorization)", async () => {
    const prefix = randomPrefix();
    const options = {
      config: { targets: [target()], circuit_breaker: { failure_threshold: 2, window: 60, cooldown: 30 } },
      allowRequestConfig: true,
      allowedHosts: ['127.0.0.1'],
    };
    const a = gateway({ ...options, store: redisStore(prefix) });
    const b = gateway({ ...options, store: redisStore(prefix) });
    upstream.route('/v1/chat/completions', (req) =>
      req.headers.authorization === 'Bearer sk-tenant-a'
        ? { status: 429, json: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } } }
        : { json: completion('for tenant b') },
    );
    const as = (key: string) => ({ 'x-portkey-provider': 'openai', authorization: `Bearer ${key}`, 'x-portkey-custom-host': `${upstream.url}/v1` });
    expect((await a.handle(chat('a1', {}, as('sk-tenant-a')))).status).toBe(429);
    expect((await a.handle(chat('a2', {}, as('sk-tenant-a')))).status).toBe(429);
    const forB = await b.handle(chat('b', {}, as('sk-tenant-b')));
    expect(forB.status, JSON.stringify(forB.body)).toBe(200);
    expect(JSON.stringify(forB.body)).toContain('for tenant b');
  });
});

describe('cache shared through Redis', () => {
  it('exact: a stream cached by A is a HIT on B (non-stream); a force refresh on C rewrites it for A (stream)', async () => {
    const gs = instances(3, { config: { cache: { mode: 'simple' }, targets: [target()] } });
    upstream.route('/v1/chat/completions', answer('first'));
    const a = await gs[0]!.handle(chat('cache me', { stream: true }));
    expect(a.headers['x-llmux-cache']).toBe('MISS');
    expect(await drain(a)).toContain('first');
    const b = await gs[1]!.handle(chat('cache me'));
    expect(b.headers['x-llmux-cache']).toBe('HIT');
    expect((b.body as any).choices[0].message.content).toBe('first');
    upstream.route('/v1/chat/completions', answer('second'));
    const c = await gs[2]!.handle(chat('cache me', {}, { 'x-portkey-cache-force-refresh': 'true' }));
    expect(c.headers['x-llmux-cache']).toBe('REFRESH');
    expect((c.body as any).choices[0].message.content).toBe('second');
    const again = await gs[0]!.handle(chat('cache me', { stream: true }));
    expect(again.headers['x-llmux-cache']).toBe('HIT');
    const text = await drain(again);
    expect(text).toContain('second');
    expect(text).toContain('[DONE]');
    expect(chatCalls()).toBe(2);
  });

  it('semantic: a prompt cached by A answers a similar one on B; a refresh on C is seen by A and B', async () => {
    const gs = instances(3, { config: { cache: { mode: 'semantic', threshold: 0.9 }, targets: [target()] } });
    upstream.route('/v1/chat/completions', answer('python v1'));
    const a = await gs[0]!.handle(chat('What is Python?', { stream: true }));
    expect(a.headers['x-llmux-cache']).toBe('MISS');
    await drain(a);
    const b = await gs[1]!.handle(chat('Tell me about Python'));
    expect(b.headers['x-llmux-cache']).toBe('SEMANTIC_HIT');
    expect((b.body as any).choices[0].message.content).toBe('python v1');
    upstream.route('/v1/chat/completions', answer('python v2'));
    const c = await gs[2]!.handle(chat('What is Python?', {}, { 'x-llmux-cache-force-refresh': 'true' }));
    expect(c.headers['x-llmux-cache']).toBe('REFRESH');
    const onA = await gs[0]!.handle(chat('What is Python?'));
    expect(onA.headers['x-llmux-cache']).toBe('HIT');
    expect((onA.body as any).choices[0].message.content).toBe('python v2');
    const onB = await gs[1]!.handle(chat('Python please', { stream: true }));
    expect(onB.headers['x-llmux-cache']).toBe('SEMANTIC_HIT');
    expect(await drain(onB)).toContain('python v2');
    expect(chatCalls()).toBe(2);
  });
});

describe('instances leaving and Redis connections dropping mid-run', () => {
  it('close() of A while its streams run and B keeps serving: every stream ends, each is charged once, A refuses new work with 503', async () => {
    const prefix = randomPrefix();
    const config = { cache: { mode: 'simple' as const }, targets: [target()], budget: { max_cost_per_day: 20 }, rate_limit: { requests_per_minute: 100 } };
    const a = gateway({ config, store: redisStore(prefix) });
    const b = gateway({ config, store: redisStore(prefix) });
    upstream.route('/v1/chat/completions', answer('slow', 0, 80));
    const onA = await Promise.all(Array.from({ length: 4 }, (_, i) => a.handle(chat(`a${i}`, { stream: true }))));
    const reading = onA.map(drain);
    const closing = a.close(3000);
    const onB = await Promise.all(Array.from({ length: 6 }, async (_, i) => drain(await b.handle(chat(`b${i}`, i % 2 ? { stream: true } : {})))));
    for (const t of await Promise.all(reading)) expect(t).toContain('[DONE]');
    await closing;
    expect(onB.every((t) => t.includes('slow'))).toBe(true);
    const late = await a.handle(chat('late'));
    expect(late.status).toBe(503);
    expect((late.body as any).error.code).toBe('gateway_closing');
    const u = await usage(b);
    expect(u.budgets[0]).toMatchObject({ spent: 10, reserved: 0 });
    expect(u.rate_limits[0]).toMatchObject({ used: 10 });
    // A's streams were cached before it closed: B serves them.
    const hit = await b.handle(chat('a0', { stream: true }));
    expect(hit.headers['x-llmux-cache']).toBe('HIT');
    await drain(hit);
  });

  it("CLIENT KILL of A's connection mid-run: streams in flight finish, new requests fail fast (503) or pass, and spend stays exact after reconnecting", async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], budget: { max_cost_per_day: 20 }, rate_limit: { requests_per_minute: 100 } };
    const sa = redisStore(prefix);
    const a = gateway({ config, store: sa });
    const b = gateway({ config, store: redisStore(prefix) });
    await sa.ready;
    expect((await a.handle(chat('warm'))).status).toBe(200);
    const id = await sa.client.clientId();
    upstream.route('/v1/chat/completions', answer('slow', 0, 80));
    const streams = await Promise.all(Array.from({ length: 4 }, (_, i) => a.handle(chat(`s${i}`, { stream: true }))));
    const reading = streams.map(drain);
    await admin.sendCommand(['CLIENT', 'KILL', 'ID', String(id)]);
    const during = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const started = Date.now();
        const res = await a.handle(chat(`d${i}`));
        await drain(res);
        return { status: res.status, ms: Date.now() - started, retry: res.headers['retry-after'] };
      }),
    );
    for (const r of during) {
      expect([200, 503]).toContain(r.status);
      if (r.status === 503) expect(r.retry).toBe('1');
      expect(r.ms).toBeLessThan(1500);
    }
    for (const t of await Promise.all(reading)) expect(t).toContain('[DONE]');
    await sleep(700); // reconnected; failed settlements retried
    const after = await Promise.all(Array.from({ length: 3 }, (_, i) => a.handle(chat(`after${i}`))));
    expect(after.map((r) => r.status)).toEqual([200, 200, 200]);
    const answered = 1 + 4 + during.filter((r) => r.status === 200).length + 3;
    const u = await usage(b);
    expect(u.budgets[0]).toMatchObject({ spent: answered, reserved: 0 });
  });

  it('an instance pointed at a closed port: budgets fail closed quickly (503 + Retry-After), a cache-only instance fails open, the others are unaffected', async () => {
    const prefix = randomPrefix();
    const dead = { url: 'redis://127.0.0.1:1', connectTimeout: 400, commandTimeout: 300 };
    const config = { cache: { mode: 'simple' as const }, targets: [target()], budget: { max_cost_per_day: 20 }, circuit_breaker: { failure_threshold: 2 } };
    const a = gateway({ config, store: redisStore(prefix, dead) });
    const b = gateway({ config, store: redisStore(prefix) });
    for (const stream of [false, true, false]) {
      const started = Date.now();
      const res = await a.handle(chat('x', stream ? { stream: true } : {}));
      expect(Date.now() - started).toBeLessThan(1500);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(JSON.parse(await drain(res)).error.code).toBe('store_unavailable');
    }
    expect(chatCalls()).toBe(0);
    expect((await b.handle(chat('y'))).status).toBe(200);
    const cacheOnly = gateway({ config: { cache: { mode: 'simple' }, targets: [target()] }, store: redisStore(prefix, dead) });
    for (const stream of [false, true]) {
      const started = Date.now();
      const res = await cacheOnly.handle(chat('z', stream ? { stream: true } : {}));
      expect(res.status).toBe(200);
      expect(res.headers['x-llmux-cache']).toBe('MISS');
      expect(await drain(res)).toContain('ok');
      expect(Date.now() - started).toBeLessThan(1500);
    }
  });
});
