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

const chat = (content = 'hi', extra: Record<string, unknown> = {}, headers: Record<string, string> = {}, signal?: AbortSignal) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content }], ...extra },
  ...(signal ? { signal } : {}),
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


/** Redis' clock, ms. */
async function redisNow(): Promise<number> {
  const t = (await admin.sendCommand(['TIME'])) as string[];
  return Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
}




function captureLogger(logs: Array<{ level: string; msg: string; obj: any }>): any {
  const mk = (level: string) => (obj: any, msg: string) => logs.push({ level, msg, obj });
  const logger: any = { level: 'info', info: mk('info'), warn: mk('warn'), error: mk('error'), debug: () => undefined, trace: () => undefined, fatal: mk('fatal'), child: () => logger };
  return logger;
}

// PROBES
describe('probe', () => {
  it('P10 combined', async () => {
    const gs = instances(3, {
      config: { targets: [target()], budget: { max_cost_per_day: 5 }, rate_limit: [{ requests_per_minute: 100 }, { requests_per_minute: 3, scope: 'user' }] },
      identify: undefined,
    });
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => gs[i % 3]!.handle(chat(`q${i}`, i % 2 ? { stream: true } : {}), { user: i % 4 === 0 ? 'alice' : `u${i}` })));
    await Promise.all(rs.map(drain));
    console.log(statusCount(rs.map((r) => r.status)));
    const u = await usage(gs[0]!);
    console.log(JSON.stringify(u.budgets), JSON.stringify(u.rate_limits));
    const r402 = rs.find((r) => r.status === 402)!;
    console.log(r402.headers);
    const r429 = rs.find((r) => r.status === 429)!;
    console.log(r429?.headers, await drain(r429));
    const s = rs.find((r) => r.status === 200 && r.headers['content-type']?.includes('event-stream'));
    console.log(s?.headers);
  });
});
