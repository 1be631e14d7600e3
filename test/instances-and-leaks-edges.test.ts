/** Several instances on one Redis, and resources under faults: edges from an adversarial review; the regressions are marked. */
/**
 * Review: several gateway instances on one Redis, and resource leaks under faults.
 * Tests marked BUG fail because of a real bug (expected, actual and diagnosis in their comment); the
 * others pass and cover what the existing suites did not (3 instances, half-open trials, a private
 * redis-server killed and restarted, listeners/timers/sockets/heap after every way a request can end).
 */
import { execFileSync } from 'node:child_process';
import { getEventListeners, setMaxListeners } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions, type GatewayResponse } from '@llmux/core';
import { createRedisStore, type RedisStore } from '@llmux/redis';
import { sleep, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { appFactories, type TestApp } from './helpers/apps.js';
import OpenAI from 'openai';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// ---------- a private redis-server we may kill and restart ----------
let privatePort = 0;
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}
function startPrivateRedis(): void {
  execFileSync('redis-server', ['--port', String(privatePort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes']);
}
async function waitPrivateRedis(up: boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let ok = false;
    try {
      ok = execFileSync('redis-cli', ['-p', String(privatePort), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() === 'PONG';
    } catch {
      ok = false;
    }
    if (ok === up) return;
    await sleep(50);
  }
  throw new Error(`private redis did not become ${up ? 'up' : 'down'}`);
}
function killPrivateRedis(): void {
  try {
    execFileSync('redis-cli', ['-p', String(privatePort), 'shutdown', 'nosave'], { stdio: 'ignore' });
  } catch {
    // shutdown closes the connection: an error is expected
  }
}
const privateURL = () => `redis://127.0.0.1:${privatePort}`;

/**
 * A TCP proxy to the shared Redis that can lose the reply of one command: armed, it forwards the next
 * client chunk holding EVALSHA to Redis (which runs it) and cuts the client's connection before the
 * reply comes back — a network blip in the middle of a command.
 */
class CuttingProxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  armed = false;
  cuts = 0;
  port = 0;
  async start(): Promise<this> {
    this.server = createServer((client) => {
      const upstreamSocket = connect(6379, '127.0.0.1');
      this.sockets.add(client).add(upstreamSocket);
      const drop = () => {
        client.destroy();
        setTimeout(() => upstreamSocket.destroy(), 200);
        this.sockets.delete(client);
        this.sockets.delete(upstreamSocket);
      };
      client.on('error', drop).on('close', drop);
      upstreamSocket.on('error', drop).on('close', drop);
      client.on('data', (chunk: Buffer) => {
        upstreamSocket.write(chunk);
        if (this.armed && chunk.includes('EVALSHA')) {
          this.armed = false;
          this.cuts++;
          client.destroy(); // the reply is lost; Redis still runs the command
        }
      });
      upstreamSocket.on('data', (chunk: Buffer) => {
        if (!client.destroyed) client.write(chunk);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }
  async close() {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

// ---------- common ----------
const prefixes: string[] = [];
const randomPrefix = () => {
  const p = `llmux-review-il:${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}:`;
  prefixes.push(p);
  return p;
};

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
  privatePort = await freePort();
});
afterAll(async () => {
  await upstream.close();
  killPrivateRedis();
  const redis = createClient();
  await redis.connect();
  for (const p of prefixes) {
    for await (const keys of redis.scanIterator({ MATCH: `${p}*`, COUNT: 500 })) if ((keys as unknown as string[]).length) await redis.del(keys as any);
  }
  await redis.quit();
});

const completion = (content = 'ok', tokens = 1) => ({
  id: 'chatcmpl-review',
  object: 'chat.completion',
  created: 1,
  model: 'budget-model',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 7, completion_tokens: tokens, total_tokens: 7 + tokens },
});
const streamChunks = (content = 'ok', tokens = 1) => {
  const base = { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'budget-model' };
  return [
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`,
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`,
    `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
    `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 7, completion_tokens: tokens, total_tokens: 7 + tokens } })}\n\n`,
    'data: [DONE]\n\n',
  ];
};
/** $1 per output token, free input: `max_tokens: 1` reserves exactly $1 and costs $1. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const target = (extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1`, ...extra });

const gateways: Gateway[] = [];
const stores: RedisStore[] = [];
function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ logger: false, pricing, ...options });
  gateways.push(g);
  return g;
}
function redisStore(prefix: string, extra: Parameters<typeof createRedisStore>[0] = {}): RedisStore {
  const s = createRedisStore({ prefix, ...extra });
  stores.push(s);
  return s;
}
beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/chat/completions', { json: completion() });
});
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close(500).catch(() => undefined)));
  await Promise.all(stores.splice(0).map((s) => s.close().catch(() => undefined)));
});

const chat = (content = 'hi', extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, signal?: AbortSignal) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content }], ...extra },
  ...(signal ? { signal } : {}),
});
const usage = async (g: Gateway) => (await g.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin' } })).body as any;
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

/** Resource types (process.getActiveResourcesInfo) of which there are more now than before. */
function grown(before: string[], after: string[]): Record<string, number> {
  const count = (l: string[]) => l.reduce<Record<string, number>>((m, k) => ((m[k] = (m[k] ?? 0) + 1), m), {});
  const b = count(before);
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(count(after))) if (n > (b[k] ?? 0)) out[k] = n - (b[k] ?? 0);
  return out;
}


describe('three instances on one Redis prefix', () => {
  it('half-open: after the cooldown exactly one trial goes upstream across 3 instances; its success closes the circuit for all', async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], circuit_breaker: { failure_threshold: 2, window: 60, cooldown: 1 } };
    const gs = [0, 1, 2].map(() => gateway({ store: redisStore(prefix), config }));
    upstream.reset();
    upstream.route('/v1/chat/completions', { status: 500, json: { error: { message: 'boom', type: 'server_error' } } });
    expect((await gs[0]!.handle(chat())).status).toBe(500);
    expect((await gs[1]!.handle(chat())).status).toBe(500);
    expect(chatCalls()).toBe(2);
    // Open everywhere.
    for (const g of gs) expect((await g.handle(chat())).status).toBeGreaterThanOrEqual(500);
    expect(chatCalls()).toBe(2);
    await sleep(1100);
    upstream.reset();
    upstream.route('/v1/chat/completions', { json: completion(), delayMs: 300 });
    const results = await Promise.all(Array.from({ length: 9 }, (_, i) => gs[i % 3]!.handle(chat())));
    expect(chatCalls()).toBe(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    // The trial succeeded: closed for every instance.
    for (const g of gs) expect((await g.handle(chat())).status).toBe(200);
    expect(chatCalls()).toBe(4);
  });

  it('x-ratelimit-remaining-requests counts down exactly once per request across 3 instances under concurrency', async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], rate_limit: { requests_per_minute: 12 } };
    const gs = [0, 1, 2].map(() => gateway({ store: redisStore(prefix), config }));
    const results = await Promise.all(Array.from({ length: 18 }, (_, i) => gs[i % 3]!.handle(chat(`r${i}`))));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(12);
    expect(ok.map((r) => Number(r.headers['x-ratelimit-remaining-requests'])).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('half-open: a failed trial on one instance re-opens the circuit for all, and the next cooldown again lets exactly one trial through', async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], circuit_breaker: { failure_threshold: 1, window: 60, cooldown: 1 } };
    const gs = [0, 1, 2].map(() => gateway({ store: redisStore(prefix), config }));
    upstream.reset();
    upstream.route('/v1/chat/completions', { status: 500, json: { error: { message: 'boom', type: 'server_error' } }, delayMs: 200 });
    expect((await gs[0]!.handle(chat())).status).toBe(500);
    await sleep(1100);
    let results = await Promise.all(Array.from({ length: 9 }, (_, i) => gs[i % 3]!.handle(chat())));
    expect(chatCalls()).toBe(2); // the opening failure + one failed trial
    expect(results.filter((r) => r.status === 500)).toHaveLength(1);
    // Re-opened: nobody calls during the new cooldown.
    for (const g of gs) await g.handle(chat());
    expect(chatCalls()).toBe(2);
    await sleep(1100);
    results = await Promise.all(Array.from({ length: 9 }, (_, i) => gs[i % 3]!.handle(chat())));
    expect(chatCalls()).toBe(3);
  });

  it('usage view on instance B shows what instance A spent and what C holds in flight', async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], budget: { max_cost_per_day: 10 }, rate_limit: { requests_per_minute: 100 } };
    const [a, b, c] = [0, 1, 2].map(() => gateway({ store: redisStore(prefix), config, adminKey: 'admin' }));
    expect((await a!.handle(chat())).status).toBe(200);
    expect((await a!.handle(chat())).status).toBe(200);
    upstream.reset();
    // C's answer is held until the usage view was read: C is in flight then however slow the machine.
    const held = upstream.hold('/v1/chat/completions', { json: completion() });
    const pending = c!.handle(chat());
    await held.arrived;
    const u = await usage(b!);
    held.release();
    expect(u.budgets[0]).toMatchObject({ spent: 2, reserved: 1, remaining: 7 });
    expect(u.rate_limits[0]).toMatchObject({ used: 3 });
    expect((await pending).status).toBe(200);
    const after = await usage(b!);
    expect(after.budgets[0]).toMatchObject({ spent: 3, reserved: 0, remaining: 7 });
  });

  it('streams: 3 instances, 60 concurrent streams, a $5 budget: at most 5 answered, spend counted once each', async () => {
    const prefix = randomPrefix();
    const config = { targets: [target()], budget: { max_cost_per_day: 5 } };
    const gs = [0, 1, 2].map(() => gateway({ store: redisStore(prefix), config, adminKey: 'admin' }));
    upstream.reset();
    upstream.route('/v1/chat/completions', { chunks: streamChunks(), chunkDelayMs: 20 });
    const results = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const res = await gs[i % 3]!.handle(chat('s', { stream: true, stream_options: { include_usage: true } }));
        const text = await drain(res);
        return { status: res.status, text };
      }),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeLessThanOrEqual(5);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(chatCalls()).toBe(ok.length);
    for (const r of ok) expect(r.text).toContain('[DONE]');
    await sleep(100);
    const u = await usage(gs[1]!);
    expect(u.budgets[0]).toMatchObject({ spent: ok.length, reserved: 0 });
  });

  it('a streamed answer cached by A is a HIT on B and C, streamed and not', async () => {
    const prefix = randomPrefix();
    const config = { cache: { mode: 'simple' as const }, targets: [target()] };
    const [a, b, c] = [0, 1, 2].map(() => gateway({ store: redisStore(prefix), config }));
    upstream.reset();
    upstream.route('/v1/chat/completions', { chunks: streamChunks('cached words') });
    const first = await a!.handle(chat('cache me', { stream: true }));
    expect(first.headers['x-llmux-cache']).toBe('MISS');
    await drain(first);
    await sleep(100);
    const onB = await b!.handle(chat('cache me', { stream: true }));
    expect(onB.headers['x-llmux-cache']).toBe('HIT');
    expect(await drain(onB)).toContain('cached words');
    const onC = await c!.handle(chat('cache me'));
    expect(onC.headers['x-llmux-cache']).toBe('HIT');
    expect(await drain(onC)).toContain('cached words');
    expect(chatCalls()).toBe(1);
  });
});

describe('Express, Koa and NestJS apps as three instances on one Redis prefix', () => {
  it('through the OpenAI SDK: a budget holds under concurrency across the apps, a cached answer is a HIT on the others, and closing the apps leaves nothing running', async () => {
    await sleep(50);
    const baseline = process.getActiveResourcesInfo();
    const prefix = randomPrefix();
    const config = { cache: { mode: 'simple' as const }, targets: [target()], budget: { max_cost_per_day: 5 } };
    const apps: TestApp[] = [];
    for (const name of ['express5', 'koa3', 'nestjs']) {
      apps.push(await appFactories[name]!({ logger: false, pricing, store: createRedisStore({ prefix }), config } as never));
    }
    try {
      upstream.reset();
      upstream.route('/v1/chat/completions', (req) => (req.json?.stream ? { chunks: streamChunks(), chunkDelayMs: 10 } : { json: completion(), delayMs: 30 }));
      const clients = apps.map((a) => new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }));
      const shared = [{ role: 'user' as const, content: 'shared prompt' }];
      const statuses: string[] = [];
      for (const client of clients) {
        const { data, response } = await client.chat.completions.create({ model: 'budget-model', max_tokens: 1, messages: shared }).withResponse();
        expect(data.choices[0]!.message.content).toBe('ok');
        statuses.push(`${response.headers.get('x-llmux-cache')} ${response.headers.get('x-llmux-cost')}`);
      }
      expect(statuses).toEqual(['MISS 1', 'HIT 0', 'HIT 0']);
      expect(chatCalls()).toBe(1);
      upstream.requests.length = 0;
      // $4 of the $5 left.
      const outcomes = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const client = clients[i % 3]!;
          const messages = [{ role: 'user' as const, content: `distinct ${i}` }];
          try {
            if (i % 2) {
              const stream = await client.chat.completions.create({ model: 'budget-model', max_tokens: 1, messages, stream: true });
              let text = '';
              for await (const c of stream) text += c.choices[0]?.delta?.content ?? '';
              return text === 'ok' ? 'ok' : `bad ${text}`;
            }
            const r = await client.chat.completions.create({ model: 'budget-model', max_tokens: 1, messages });
            return r.choices[0]!.message.content === 'ok' ? 'ok' : 'bad';
          } catch (e) {
            return (e as { status?: number }).status === 402 ? '402' : `error ${(e as Error).message}`;
          }
        }),
      );
      expect(outcomes.filter((o) => o !== 'ok' && o !== '402')).toEqual([]);
      expect(outcomes.filter((o) => o === 'ok').length).toBeLessThanOrEqual(4);
      expect(chatCalls()).toBe(outcomes.filter((o) => o === 'ok').length);
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
    await sleep(300);
    expect(grown(baseline, process.getActiveResourcesInfo())).toEqual({});
  }, 30_000);
});

describe('a connection cut while Redis runs the admission', () => {
  // Regression (fixed). README: "With Redis down, budgets fail closed … nothing hangs"; DESIGN.md: "A budget admits a
  // request while spent + its reservation ≤ the limit". A request refused with a 503 (store_unavailable)
  // was never answered and must hold nothing.
  // Expected: after the blip, the $2 budget with $1 spent admits the next request (on any instance).
  // Was: the next request gets 402 budget_exceeded, and /usage shows reserved: 1 — a phantom
  // reservation held for `reservationTtl` (default 600 s) on every instance.
  // Diagnosis: packages/redis/src/limits.ts:74 — when the admission fails without a reply (here the
  // connection dropped after Redis received the EVALSHA, so Redis ran it and reserved), the release is
  // fired once with `void settle(...).catch(() => undefined)`. That covers a slow reply (the release queues
  // behind it on the same connection), but with the connection gone and `disableOfflineQueue` the release
  // fails at once and is dropped. It should be retried in the background while the reservation lives,
  // as `settleClaims` (packages/core/src/limits/settle.ts) does for settlements.
  it('a request refused with 503 because its admission reply was lost holds no budget: the next request is admitted', async () => {
    const proxy = await new CuttingProxy().start();
    try {
      const prefix = randomPrefix();
      const config = { targets: [target()], budget: { max_cost_per_day: 2 } };
      const a = gateway({ store: redisStore(prefix, { url: proxy.url, connectTimeout: 500, commandTimeout: 500 }), config, adminKey: 'admin' });
      // A second instance on the same prefix, on a healthy connection.
      const b = gateway({ store: redisStore(prefix), config, adminKey: 'admin' });
      expect((await a.handle(chat('warm'))).status).toBe(200); // $1 of $2 spent; scripts loaded
      upstream.requests.length = 0;
      proxy.armed = true;
      const refused = await a.handle(chat('lost reply'));
      expect(proxy.cuts).toBe(1);
      expect(refused.status).toBe(503);
      expect(chatCalls()).toBe(0);
      await sleep(1500); // reconnected, and time for any background release
      const next = await b.handle(chat('after the blip'));
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      expect((await usage(b)).budgets[0]).toMatchObject({ spent: 2, reserved: 0 });
    } finally {
      await proxy.close();
    }
  });
});

describe('a private Redis that dies mid-run and comes back', () => {
  it('two instances: requests in flight and during the outage answer quickly (200 or 503), nothing crashes, and all recovers after the restart', async () => {
    startPrivateRedis();
    await waitPrivateRedis(true);
    const prefix = randomPrefix();
    const config = {
      cache: { mode: 'simple' as const },
      targets: [target()],
      budget: { max_cost_per_day: 1000 },
      rate_limit: { requests_per_minute: 1000 },
      circuit_breaker: { failure_threshold: 50, cooldown: 30 },
    };
    const opts = { url: privateURL(), connectTimeout: 300, commandTimeout: 300 };
    const a = gateway({ store: redisStore(prefix, opts), config, adminKey: 'admin' });
    const b = gateway({ store: redisStore(prefix, opts), config, adminKey: 'admin' });
    expect((await a.handle(chat('warm a'))).status).toBe(200);
    expect((await b.handle(chat('warm b'))).status).toBe(200);
    upstream.reset();
    upstream.route('/v1/chat/completions', { json: completion(), delayMs: 300 });
    const timed = async (g: Gateway, i: number, stream = false) => {
      const started = Date.now();
      const res = await g.handle(chat(`q${i}-${Math.random()}`, stream ? { stream: true } : {}));
      const text = await drain(res);
      return { status: res.status, ms: Date.now() - started, text };
    };
    const inFlight = Array.from({ length: 10 }, (_, i) => timed(i % 2 ? a : b, i));
    await sleep(100);
    killPrivateRedis();
    await waitPrivateRedis(false);
    const during = await Promise.all(Array.from({ length: 10 }, (_, i) => timed(i % 2 ? a : b, 100 + i, i % 3 === 0)));
    const first = await Promise.all(inFlight);
    for (const r of [...first, ...during]) {
      expect([200, 503]).toContain(r.status);
      expect(r.ms).toBeLessThan(3000);
    }
    expect(first.every((r) => r.status === 200)).toBe(true);
    startPrivateRedis();
    await waitPrivateRedis(true);
    let okA = 0;
    let okB = 0;
    for (let i = 0; i < 40 && !(okA && okB); i++) {
      await sleep(150);
      if ((await a.handle(chat(`after a ${i}`))).status === 200) okA++;
      if ((await b.handle(chat(`after b ${i}`))).status === 200) okB++;
    }
    expect(okA).toBeGreaterThan(0);
    expect(okB).toBeGreaterThan(0);
    const started = Date.now();
    await Promise.all([a.close(2000), b.close(2000)]);
    expect(Date.now() - started).toBeLessThan(3000);
    killPrivateRedis();
    await waitPrivateRedis(false);
  }, 40_000);

  it('an answer whose settlement cannot reach Redis before close(): close() resolves within its deadline and the loss is logged as an error, not silent', async () => {
    startPrivateRedis();
    await waitPrivateRedis(true);
    const logs: Array<{ level: string; msg: string }> = [];
    const logger: any = {
      level: 'info',
      info: (_o: unknown, msg: string) => logs.push({ level: 'info', msg }),
      warn: (_o: unknown, msg: string) => logs.push({ level: 'warn', msg }),
      error: (_o: unknown, msg: string) => logs.push({ level: 'error', msg }),
      debug: () => undefined,
      trace: () => undefined,
      fatal: () => undefined,
      child() {
        return logger;
      },
    };
    const store = createRedisStore({ prefix: randomPrefix(), url: privateURL(), connectTimeout: 300, commandTimeout: 300 });
    const g = createGateway({ logger, pricing, store, config: { targets: [target()], budget: { max_cost_per_day: 100 } } });
    upstream.reset();
    // Held at the upstream until Redis is gone: admitted before, settled after, however slow the machine.
    const held = upstream.hold('/v1/chat/completions', { json: completion() });
    const pending = g.handle(chat());
    await held.arrived;
    killPrivateRedis();
    await waitPrivateRedis(false);
    held.release();
    const res = await pending;
    expect(res.status).toBe(200);
    const started = Date.now();
    await g.close(500);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(logs.some((l) => l.level === 'error' && /settlement lost/.test(l.msg))).toBe(true);
  }, 20_000);

  // Regression (fixed). DESIGN/README: `gateway.close()` "waits for in-flight ones up to `deadlineMs` … then frees sockets
  // and the store"; README: "With Redis down, … nothing hangs". A Redis that stalls (paused, a stuck
  // fork, a half-open TCP connection after a failover) while connected is the common outage shape.
  // Expected: close(500) resolves within about its deadline.
  // Was: close() never resolves while Redis stays stalled (still pending after 5 s here); a NestJS
  // app's shutdown hook or an Express app's graceful shutdown hangs with it.
  // Diagnosis: packages/redis/src/create-redis-store.ts:76 `if (client.isReady) await client.close()` —
  // node-redis 5's close() "waits for pending commands" (@redis/client client/index.js close()), and the
  // commands this store gave up on after `commandTimeout` (the timed-out admission and its release)
  // are still in its queue, waiting for replies that never come; packages/core/src/gateway.ts:200
  // awaits it without any bound. Fix: race client.close() against `commandTimeout` (or the rest of
  // close's deadline) and call client.destroy() when it loses.
  it('close() of a gateway whose Redis stalls (connected, but answers nothing) resolves within its deadline', async () => {
    startPrivateRedis();
    await waitPrivateRedis(true);
    const pid = Number(/process_id:(\d+)/.exec(execFileSync('redis-cli', ['-p', String(privatePort), 'info', 'server']).toString())![1]);
    const store = createRedisStore({ prefix: randomPrefix(), url: privateURL(), connectTimeout: 300, commandTimeout: 300 });
    const g = createGateway({ logger: false, pricing, store, config: { targets: [target()], budget: { max_cost_per_day: 100 } } });
    try {
      expect((await g.handle(chat())).status).toBe(200);
      process.kill(pid, 'SIGSTOP');
      const started = Date.now();
      expect((await g.handle(chat())).status).toBe(503);
      expect(Date.now() - started).toBeLessThan(1500);
      const closing = Date.now();
      const closed = await Promise.race([g.close(500).then(() => 'closed'), sleep(5000).then(() => 'still closing after 5 s')]);
      expect(closed).toBe('closed');
      expect(Date.now() - closing).toBeLessThan(3000);
    } finally {
      process.kill(pid, 'SIGCONT');
      await sleep(100);
      killPrivateRedis();
      await waitPrivateRedis(false);
    }
  }, 20_000);

  it('close() of a gateway whose Redis is down resolves and leaves no reconnect loop running', async () => {
    startPrivateRedis();
    await waitPrivateRedis(true);
    await sleep(50);
    const before = process.getActiveResourcesInfo();
    const store = createRedisStore({ prefix: randomPrefix(), url: privateURL(), connectTimeout: 300, commandTimeout: 300 });
    const g = createGateway({ logger: false, pricing, store, config: { targets: [target()], budget: { max_cost_per_day: 100 } } });
    expect((await g.handle(chat())).status).toBe(200);
    killPrivateRedis();
    await waitPrivateRedis(false);
    expect((await g.handle(chat())).status).toBe(503);
    const started = Date.now();
    await g.close(1000);
    expect(Date.now() - started).toBeLessThan(2000);
    await sleep(2500); // a reconnect attempt would be due by now
    expect(grown(before, process.getActiveResourcesInfo())).toEqual({});
  }, 20_000);
});

describe('leaks under faults', () => {
  const STREAM = (n = 6) => streamChunks('x').slice(0, 1).concat(Array.from({ length: n }, () => streamChunks('word ')[1]!), streamChunks().slice(2));
  const failing = { status: 500, json: { error: { message: 'boom', type: 'server_error' } } };
  type Kind = 'ok' | 'ok-stream' | '500' | 'reset' | 'cut-stream' | 'abort-stream' | 'timeout' | 'stall-stream' | 'circuit-open';
  const KINDS: Kind[] = ['ok', 'ok-stream', '500', 'reset', 'cut-stream', 'abort-stream', 'timeout', 'stall-stream', 'circuit-open'];

  /** One gateway with every stage on (budget, rate limit, cache off, breaker), one target per kind (by model name). */
  function leakGateway(store?: RedisStore): Gateway {
    const t = (model: string) => target({ override_params: { model }, request_timeout: 150 });
    return gateway({
      ...(store ? { store } : {}),
      pricing: Object.fromEntries(KINDS.map((k) => [k, { input: 0, output: 1 }])),
      config: {
        strategy: { mode: 'conditional', conditions: KINDS.map((k) => ({ query: { 'params.model': { $eq: k } }, then: k })), default: 'ok' },
        targets: KINDS.map((k) => ({ ...t(k), name: k })),
        budget: { max_cost_per_day: 1_000_000 },
        rate_limit: { requests_per_minute: 1_000_000 },
        circuit_breaker: { failure_threshold: 1_000_000, cooldown: 30 },
      } as any,
    });
  }

  /** The upstream answers by the model the gateway sent. */
  function scriptUpstream(): void {
    upstream.reset();
    upstream.route('/v1/chat/completions', (req) => {
      const model = req.json?.model as Kind;
      switch (model) {
        case 'ok':
          return { json: completion() };
        case 'ok-stream':
          return { chunks: STREAM() };
        case '500':
        case 'circuit-open':
          return failing;
        case 'reset':
          return { reset: true };
        case 'cut-stream':
          return { chunks: STREAM(), cutAfter: 3 };
        case 'abort-stream':
          return { chunks: STREAM(50), chunkDelayMs: 10 };
        case 'timeout':
          return { hang: true };
        case 'stall-stream':
          return { chunks: STREAM(), stallAfter: 3 };
        default:
          return failing;
      }
    });
  }

  /** A gateway whose one target's circuit opens at its first failure: every later call is refused by the breaker. */
  const openGateways = new WeakMap<Gateway, Gateway>();
  function circuitGateway(g: Gateway, store?: RedisStore): Gateway {
    const o = gateway({
      ...(store ? { store } : {}),
      config: { targets: [target({ override_params: { model: 'circuit-open' } })], circuit_breaker: { failure_threshold: 1, cooldown: 600 } } as any,
    });
    openGateways.set(g, o);
    return o;
  }

  async function once(main: Gateway, kind: Kind, shared: AbortSignal): Promise<number> {
    const g = kind === 'circuit-open' ? openGateways.get(main) ?? main : main;
    const stream = kind.endsWith('stream');
    const own = kind === 'abort-stream' ? new AbortController() : undefined;
    const res = await g.handle(chat(`leak ${kind}`, { model: kind, ...(stream ? { stream: true } : {}) }, {}, own?.signal ?? shared));
    const body = res.body as any;
    if (body && typeof body[Symbol.asyncIterator] === 'function') {
      try {
        let n = 0;
        for await (const _ of body as AsyncIterable<unknown>) {
          if (own && ++n === 2) {
            own.abort();
            break;
          }
        }
      } catch {
        // a broken stream
      }
    }
    return res.status;
  }

  async function rounds(g: Gateway, n: number, shared: AbortSignal): Promise<Record<string, Set<number>>> {
    const seen: Record<string, Set<number>> = {};
    for (let i = 0; i < n; i++) {
      const statuses = await Promise.all(KINDS.map((k) => once(g, k, shared)));
      KINDS.forEach((k, j) => (seen[k] ??= new Set()).add(statuses[j]!));
      upstream.requests.length = 0; // the mock's own log is not the gateway's memory
    }
    return seen;
  }

  for (const storeKind of ['memory', 'redis'] as const) {
    it(`${storeKind}: after requests ending every way, a shared signal keeps no listeners, no timers or sockets pile up, and close() frees everything`, async () => {
      scriptUpstream();
      await sleep(50);
      const baseline = process.getActiveResourcesInfo();
      const store = storeKind === 'redis' ? createRedisStore({ prefix: randomPrefix() }) : undefined;
      const g = leakGateway(store);
      const o = circuitGateway(g, storeKind === 'redis' ? createRedisStore({ prefix: randomPrefix() }) : undefined);
      const shared = new AbortController();
      // Many calls in flight at once share this one signal, each with its listener while it runs: Node
      // would warn past 10. What is checked is that none is left afterwards.
      setMaxListeners(100, shared.signal);
      const seen = await rounds(g, 15, shared.signal);
      // The kinds ended as scripted.
      expect([...seen.ok!]).toEqual([200]);
      expect([...seen['ok-stream']!]).toEqual([200]);
      expect([...seen['500']!]).toEqual([500]);
      expect([...seen.timeout!].every((s) => s >= 500)).toBe(true);
      expect(seen['circuit-open']!.size).toBe(2); // the failure that opened it, then the breaker's refusals
      await sleep(300);
      const beforeGc = getEventListeners(shared.signal, 'abort').length;
      gc();
      await sleep(50);
      gc();
      await sleep(50);
      expect(getEventListeners(shared.signal, 'abort'), `before gc: ${beforeGc}`).toHaveLength(0);
      const during = grown(baseline, process.getActiveResourcesInfo());
      // Keep-alive sockets to the upstream (both ends live in this process), at most one per concurrent request.
      expect(Object.keys(during).filter((k) => !['TCPSocketWrap', 'Timeout'].includes(k))).toEqual([]);
      expect(during.TCPSocketWrap ?? 0).toBeLessThanOrEqual(2 * KINDS.length + 2);
      expect(during.Timeout ?? 0).toBeLessThanOrEqual(3);
      const started = Date.now();
      await Promise.all([g.close(2000), o.close(2000)]);
      expect(Date.now() - started).toBeLessThan(2500);
      await sleep(300);
      expect(grown(baseline, process.getActiveResourcesInfo())).toEqual({});
    }, 60_000);
  }

  // BUG (minor). The run.ts comment (packages/core/src/router/run.ts:19-23) names the case: "one
  // long-lived signal serves many calls (`gateway.chat(body, { signal })`)", and
  // test/adapters-edge-cases.test.ts asserts "a finished stream leaves no listener on it".
  // Expected: a call that returned its whole completion leaves no listener on the caller's signal.
  // Was: every finished non-stream call (gateway.chat, or handle() with a signal) leaves one 'abort'
  // listener until a major GC collects its link: 20 calls leave 20 listeners, Node prints
  // "MaxListenersExceededWarning: Possible EventTarget memory leak detected. 11 abort listeners" into
  // the app's log after the 11th call, and under load thousands pile up between major GCs (measured:
  // 15,000 after 15,000 calls, ~1 KB of heap each).
  // Diagnosis: packages/core/src/router/execute.ts:167 `run.stop(answered)` (in `route`) keeps the client link for
  // every answered run (run.ts:117, `if (!answered) this.unlinkClient?.()`) because a stream may still
  // be read; a non-stream answer is complete when routing returns, so nothing needs the link and it is
  // left to the FinalizationRegistry (run.ts:24). Unlink at once when the routed value is not a stream
  // (or when the non-stream pipeline finishes), keeping the registry only for streams.
  it('finished non-stream calls leave no listener on a long-lived caller signal (gateway.chat and handle)', async () => {
    const g = gateway({ config: { targets: [target()] } });
    const longLived = new AbortController();
    for (let i = 0; i < 10; i++) {
      const completionBody = await g.chat({ model: 'budget-model', messages: [{ role: 'user', content: `c${i}` }] } as any, { signal: longLived.signal });
      expect(completionBody.choices[0]!.message.content).toBe('ok');
      expect((await g.handle(chat(`h${i}`, {}, {}, longLived.signal))).status).toBe(200);
    }
    expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(0);
  });

  // BUG (minor). README/DESIGN: `close(deadlineMs)` "waits for in-flight ones up to `deadlineMs` … then
  // frees sockets and the store"; past the deadline "upstream calls still running are cut".
  // Expected: when close(300) resolves, a request that was waiting out a Retry-After backoff has been
  // answered (503 gateway_closing) and no timer of the gateway is left.
  // Was: close() resolves after ~1.3 s while the request still sleeps; its ref'd backoff timer keeps
  // the process alive and the client gets its 503 only when the backoff ends (2.5 s after close here;
  // up to `maxRetryAfter` = 10 s, or the 5 s backoff cap, in general) — a graceful shutdown lingers.
  // Diagnosis: packages/core/src/gateway.ts:189-196 cuts only upstream calls (`gw.client.destroy()`,
  // `gw.cutting`); a run sleeping in `abortableSleep` (packages/core/src/router/routing-options.ts:27)
  // between attempts is not on the agent and is not woken. Fix: keep the live runs' links (or one
  // gateway-wide AbortLink each run follows) and abort them with a gateway_closing error when cutting.
  it('close() during a retry backoff (Retry-After) answers the request and leaves no timer running', async () => {
    upstream.reset();
    upstream.route('/v1/chat/completions', { status: 429, headers: { 'retry-after': '4' }, json: { error: { message: 'slow down', type: 'rate_limit' } } });
    await sleep(50);
    const baseline = process.getActiveResourcesInfo();
    const g = createGateway({ logger: false, pricing, config: { targets: [target({ retry: { attempts: 1, use_retry_after_header: true } })] } as any });
    let answered = false;
    const pending = g.handle(chat()).then((r) => {
      answered = true;
      return r;
    });
    await sleep(200);
    expect(chatCalls()).toBe(1);
    const started = Date.now();
    await g.close(300);
    expect(Date.now() - started).toBeLessThan(2000);
    await sleep(10);
    const leftRunning = grown(baseline, process.getActiveResourcesInfo());
    const answeredByClose = answered;
    const res = await pending;
    expect(res.status).toBe(503);
    expect(chatCalls()).toBe(1); // a closed gateway calls no upstream
    expect({ answeredByClose, leftRunning }).toEqual({ answeredByClose: true, leftRunning: {} });
  }, 20_000);

  it('heap does not grow with requests ending every way', async () => {
    scriptUpstream();
    const g = leakGateway();
    circuitGateway(g);
    const shared = new AbortController();
    setMaxListeners(100, shared.signal);
    await rounds(g, 30, shared.signal); // warm: JIT code and the recent-requests ring fill up first
    await sleep(300);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    await rounds(g, 60, shared.signal);
    await sleep(300);
    gc();
    gc();
    const grownMB = (process.memoryUsage().heapUsed - before) / 1e6;
    expect(grownMB, `heap grew by ${grownMB.toFixed(2)} MB over 540 requests`).toBeLessThan(3);
  }, 60_000);
});
