/**
 * "Production on a bad day": one Express 5 app with llmux (fallback over a load-balanced pair, exact
 * cache, per-user budgets and rate limits, the memory store), a storm of concurrent requests from
 * several users — streams and not, through the `openai` SDK and raw fetch, some clients leaving
 * mid-stream — while every upstream injects faults (503 bursts, 429 with Retry-After, hangs, resets,
 * streams cut or stalled mid-way, truncated bodies). After the storm, the invariants a user relies on.
 * Run twice: on the memory store, and on two instances sharing one Redis store (unique key prefix).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockReply, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';
import { completion, metricValue, scrape, streamEvents } from './helpers/observe.js';
import { until } from './helpers/until.js';
import { seeded } from './helpers/seeded-random.js';

const ADMIN = 'chaos-admin-key-0123456789';
const REQUEST_TIMEOUT = 1500;
const DEADLINE = 8000;
/** Generous: a request must never outlive the deadline by more than this (2-core machine, shared). */
const SLACK = 12_000;

const FULL_NONSTREAM = completion.choices[0].message.content as string;
const FULL_STREAM = streamEvents
  .filter((e) => e.startsWith('data: {'))
  .map((e) => JSON.parse(e.slice(6)) as { choices: Array<{ delta?: { content?: string } }> })
  .map((c) => c.choices[0]?.delta?.content ?? '')
  .join('');
const FULL_ANSWERS = [FULL_NONSTREAM, FULL_STREAM];


interface Faults {
  healthy: boolean;
  rand: () => number;
}

/** One upstream's answer: a fault most of the time during the storm, the fixture once healthy. */
function chaoticReply(f: Faults) {
  return (req: RecordedRequest): MockReply => {
    const stream = req.json?.stream === true;
    const okStream: MockReply = { chunks: streamEvents, chunkDelayMs: 25 };
    const ok: MockReply = stream ? okStream : { json: completion };
    if (f.healthy) return ok;
    // A client that will leave mid-stream gets a slow healthy stream: its leaving is what is tested.
    if (JSON.stringify(req.json?.messages ?? '').includes('LEAVER')) return { chunks: streamEvents, chunkDelayMs: 150 };
    const r = f.rand();
    if (r < 0.15) return ok;
    if (r < 0.3) return { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } };
    if (r < 0.42) return { status: 429, headers: { 'retry-after': '1' }, json: { error: { message: 'slow down', type: 'rate_limit_error' } } };
    if (r < 0.5) return { hang: true };
    if (r < 0.6) return { reset: true };
    if (stream) {
      if (r < 0.75) return { chunks: streamEvents, cutAfter: 4, chunkDelayMs: 10 };
      if (r < 0.85) return { chunks: streamEvents, stallAfter: 4, chunkDelayMs: 10 };
      // Ends cleanly (chunked terminator) after part of the answer, without finish_reason or [DONE].
      return { chunks: streamEvents.slice(0, 5), chunkDelayMs: 10 };
    }
    if (r < 0.8) return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(completion).slice(0, 200) };
    return { json: completion, delayMs: 300 };
  };
}

/** Counts upstream responses still open (neither finished nor closed), to prove the gateway let go of them. */
function trackOpen(up: MockUpstream): () => number {
  let open = 0;
  const server = (up as unknown as { server: Server }).server;
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    open++;
    res.once('close', () => open--);
  });
  return () => open;
}

type Seen =
  | { kind: 'answer'; traceId: string; user: string; status: 200; stream: boolean; content: string; ms: number }
  | { kind: 'error'; traceId: string; user: string; status: number; stream: boolean; midStream: boolean; ms: number; detail: string }
  | { kind: 'left'; traceId: string; user: string; stream: true; ms: number; early?: boolean }
  | { kind: 'broken'; traceId: string; user: string; why: string; ms: number };

interface Harness {
  app: TestApp;
  /** Every instance (one, or two sharing a Redis store); requests alternate between them. */
  apps: TestApp[];
  ups: MockUpstream[];
  openCount: Array<() => number>;
  faults: Faults;
  records: any[];
  processErrors: unknown[];
}

async function startHarness(makeStore?: () => unknown, instances = 1): Promise<Harness> {
  const faults: Faults = { healthy: false, rand: seeded(20260101) };
  const ups = [await startMockUpstream(), await startMockUpstream(), await startMockUpstream()];
  const openCount = ups.map(trackOpen);
  for (const up of ups) up.route('/v1/chat/completions', chaoticReply(faults));
  const target = (up: MockUpstream) => ({
    provider: 'openai',
    api_key: 'sk-chaos-upstream-key-000000',
    custom_host: `${up.url}/v1`,
    request_timeout: REQUEST_TIMEOUT,
    retry: { attempts: 1 },
  });
  const records: any[] = [];
  const processErrors: unknown[] = [];
  const apps: TestApp[] = [];
  for (let i = 0; i < instances; i++) apps.push(await appFactories.express5!({
    env: {},
    ...(makeStore ? { store: makeStore() } : {}),
    logger: false,
    adminKey: ADMIN,
    identify: (req: any) => ({ user: String(req.headers['x-user'] ?? 'anon') }),
    onLog: (r: any) => void records.push(r),
    recentRequests: 0,
    config: {
      strategy: { mode: 'fallback' },
      targets: [{ strategy: { mode: 'loadbalance' }, targets: [target(ups[0]!), target(ups[1]!)] }, target(ups[2]!)],
      cache: { mode: 'simple' },
      budget: [{ max_cost_per_day: 5, scope: 'user' }],
      rate_limit: [{ requests_per_minute: 50, scope: 'user' }],
      deadline: DEADLINE,
    },
  } as never));
  return { app: apps[0]!, apps, ups, openCount, faults, records, processErrors };
}

const USERS = ['alice', 'bob', 'carol'];
const PROMPTS = ['What is the capital of the UK?', 'Plan a holiday', 'Name a galaxy', 'Tell me a fact'];

/** Reads an SSE body to its end; with `controller`, aborts once the first content delta arrived. */
async function readSse(res: Response, controller?: AbortController): Promise<{ events: string[]; left: boolean; text: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (controller && /"content":"[^"]+"/.test(text)) {
        controller.abort();
        await reader.cancel().catch(() => {});
        return { events: [], left: true, text };
      }
    }
  } catch (e) {
    if (controller?.signal.aborted) return { events: [], left: true, text };
    throw e;
  }
  return { events: text.split(/\n\n/).filter((e) => e.trim()), left: false, text };
}

function wellFormedError(body: any): string | undefined {
  const e = body?.error;
  if (!e || typeof e !== 'object') return `no error object: ${JSON.stringify(body)?.slice(0, 200)}`;
  if (typeof e.message !== 'string' || !e.message) return 'error.message missing';
  if (typeof e.type !== 'string') return 'error.type missing';
  if (!('code' in e) || !('param' in e)) return 'error.code/param missing';
  return undefined;
}

/** Classifies an SSE transcript: a full answer ending in [DONE], or an error event with no [DONE] after it. */
function classifySse(events: string[]): { ok: true; content: string } | { ok: false; why: string; errorEvent?: any } {
  const last = events[events.length - 1];
  let content = '';
  let finish: string | undefined;
  let errorEvent: any;
  for (const ev of events) {
    const data = ev
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6))
      .join('\n');
    if (!data || data === '[DONE]') continue;
    const json = JSON.parse(data);
    if (json.error) errorEvent = json;
    for (const c of json.choices ?? []) {
      content += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  if (errorEvent) {
    if (events.some((e) => e.includes('data: [DONE]'))) return { ok: false, why: 'error event followed by [DONE]' };
    const bad = wellFormedError(errorEvent);
    return bad ? { ok: false, why: `malformed error event: ${bad}` } : { ok: false, why: 'error-event', errorEvent };
  }
  if (!last?.includes('data: [DONE]')) return { ok: false, why: `stream ended without [DONE] or error: …${JSON.stringify(events.slice(-2))}` };
  if (!finish) return { ok: false, why: `[DONE] without a finish_reason (content "${content}")` };
  return { ok: true, content };
}

/** One request of the storm, as a client sees it. */
async function fire(h: Harness, n: number, user: string, prompt: string, kind: number): Promise<Seen> {
  const traceId = `storm-${n}`;
  const started = Date.now();
  const ms = () => Date.now() - started;
  const headers = { 'x-user': user, 'x-llmux-trace-id': traceId };
  const base = `${h.apps[n % h.apps.length]!.gatewayURL}/v1`;
  const messages = [{ role: 'user' as const, content: prompt }];
  try {
    switch (kind % 8) {
      case 0: {
        // SDK, non-stream.
        const client = new OpenAI({ baseURL: base, apiKey: 'unused', maxRetries: 0, timeout: DEADLINE + SLACK, defaultHeaders: headers });
        try {
          const c = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
          return { kind: 'answer', traceId, user, status: 200, stream: false, content: c.choices[0]?.message.content ?? '', ms: ms() };
        } catch (e) {
          if (e instanceof OpenAI.APIError && e.status) {
            const bad = wellFormedError({ error: e.error });
            if (bad) return { kind: 'broken', traceId, user, why: `SDK error ${e.status}: ${bad}`, ms: ms() };
            return { kind: 'error', traceId, user, status: e.status, stream: false, midStream: false, ms: ms(), detail: e.message };
          }
          return { kind: 'broken', traceId, user, why: `SDK threw ${String(e)}`, ms: ms() };
        }
      }
      case 1: {
        // SDK, stream.
        const client = new OpenAI({ baseURL: base, apiKey: 'unused', maxRetries: 0, timeout: DEADLINE + SLACK, defaultHeaders: headers });
        let content = '';
        let finish: string | null | undefined;
        let started200 = false;
        try {
          const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
          started200 = true;
          for await (const chunk of stream) {
            content += chunk.choices[0]?.delta?.content ?? '';
            finish = chunk.choices[0]?.finish_reason ?? finish;
          }
          if (!finish) return { kind: 'broken', traceId, user, why: `SDK stream ended cleanly without finish_reason: "${content}"`, ms: ms() };
          return { kind: 'answer', traceId, user, status: 200, stream: true, content, ms: ms() };
        } catch (e) {
          if (e instanceof OpenAI.APIError) {
            const bad = wellFormedError({ error: e.error });
            if (bad && e.status) return { kind: 'broken', traceId, user, why: `SDK error ${e.status}: ${bad}`, ms: ms() };
            return { kind: 'error', traceId, user, status: e.status ?? 502, stream: true, midStream: started200, ms: ms(), detail: e.message };
          }
          return { kind: 'broken', traceId, user, why: `SDK stream threw ${String(e)}`, ms: ms() };
        }
      }
      case 2: {
        // Raw fetch, non-stream.
        const res = await fetch(`${base}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages }),
        });
        const text = await res.text();
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          return { kind: 'broken', traceId, user, why: `status ${res.status} with a body that is not JSON: ${text.slice(0, 120)}`, ms: ms() };
        }
        if (res.status === 200) {
          const c = body.choices?.[0];
          if (!c?.finish_reason) return { kind: 'broken', traceId, user, why: '200 without finish_reason', ms: ms() };
          return { kind: 'answer', traceId, user, status: 200, stream: false, content: c.message?.content ?? '', ms: ms() };
        }
        const bad = wellFormedError(body);
        if (bad) return { kind: 'broken', traceId, user, why: `${res.status}: ${bad}`, ms: ms() };
        return { kind: 'error', traceId, user, status: res.status, stream: false, midStream: false, ms: ms(), detail: body.error.message };
      }
      case 3: {
        // Raw fetch, stream read to its end.
        const res = await fetch(`${base}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages, stream: true }),
        });
        if (res.status !== 200) {
          const body = await res.json();
          const bad = wellFormedError(body);
          if (bad) return { kind: 'broken', traceId, user, why: `${res.status}: ${bad}`, ms: ms() };
          return { kind: 'error', traceId, user, status: res.status, stream: true, midStream: false, ms: ms(), detail: body.error.message };
        }
        const { events } = await readSse(res);
        const verdict = classifySse(events);
        if (verdict.ok) return { kind: 'answer', traceId, user, status: 200, stream: true, content: verdict.content, ms: ms() };
        if (verdict.why !== 'error-event') return { kind: 'broken', traceId, user, why: verdict.why, ms: ms() };
        return { kind: 'error', traceId, user, status: 502, stream: true, midStream: true, ms: ms(), detail: verdict.errorEvent.error.message };
      }
      case 5:
      case 6: {
        // Raw fetch, the client leaves early, whatever it got by then (often before any answer: a hang, a retry's wait).
        const controller = new AbortController();
        const stream = kind % 8 === 5;
        setTimeout(() => controller.abort(), 150 + (n % 7) * 120);
        try {
          const res = await fetch(`${base}/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify({ model: 'gpt-4o-mini', messages, stream }),
            signal: controller.signal,
          });
          const text = await res.text();
          if (res.status !== 200) {
            const bad = wellFormedError(JSON.parse(text));
            if (bad) return { kind: 'broken', traceId, user, why: `${res.status}: ${bad}`, ms: ms() };
            return { kind: 'error', traceId, user, status: res.status, stream, midStream: false, ms: ms(), detail: 'early' };
          }
          if (!stream) {
            const c = JSON.parse(text).choices[0];
            return { kind: 'answer', traceId, user, status: 200, stream, content: c.message.content, ms: ms() };
          }
          const verdict = classifySse(text.split(/\n\n/).filter((e) => e.trim()));
          if (verdict.ok) return { kind: 'answer', traceId, user, status: 200, stream, content: verdict.content, ms: ms() };
          if (verdict.why !== 'error-event') return { kind: 'broken', traceId, user, why: verdict.why, ms: ms() };
          return { kind: 'error', traceId, user, status: 502, stream, midStream: true, ms: ms(), detail: verdict.errorEvent.error.message };
        } catch (e) {
          if (controller.signal.aborted) return { kind: 'left', traceId, user, stream: true, ms: ms(), early: true };
          throw e;
        }
      }
      default: {
        // Raw fetch, stream, the client leaves after the first content token.
        const controller = new AbortController();
        const res = await fetch(`${base}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `LEAVER ${prompt}` }], stream: true }),
          signal: controller.signal,
        });
        if (res.status !== 200) {
          const body = await res.json();
          const bad = wellFormedError(body);
          if (bad) return { kind: 'broken', traceId, user, why: `${res.status}: ${bad}`, ms: ms() };
          return { kind: 'error', traceId, user, status: res.status, stream: true, midStream: false, ms: ms(), detail: body.error.message };
        }
        const { left, events } = await readSse(res, controller);
        if (left) return { kind: 'left', traceId, user, stream: true, ms: ms() };
        const verdict = classifySse(events);
        if (verdict.ok) return { kind: 'answer', traceId, user, status: 200, stream: true, content: verdict.content, ms: ms() };
        return { kind: 'broken', traceId, user, why: `leaver saw no content: ${verdict.why}`, ms: ms() };
      }
    }
  } catch (e) {
    return { kind: 'broken', traceId, user, why: `client failed: ${String(e)}`, ms: ms() };
  }
}

async function usage(h: Harness): Promise<any> {
  const res = await fetch(`${h.app.gatewayURL}/usage`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** Output price of gpt-4o-mini (USD per token): what a usage-less answer is charged, 4096 tokens of it. */
const RESERVED_OUTPUT_USD = 4096 * 0.6e-6;

/** One prefix for both instances (they share budgets and limits), unique to this run. */
const REDIS_PREFIX = `llmux-chaos-${process.pid}-${Date.now()}:`;

function stormSuite(name: string, makeStore?: () => { close?: () => Promise<void> }, instances = 1) {
describe(name, () => {
  let h: Harness;
  const stores: Array<{ close?: () => Promise<void> }> = [];
  let seen: Seen[] = [];
  const onRejection = (e: unknown) => h?.processErrors.push(e);
  const onException = (e: unknown) => h?.processErrors.push(e);

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    h = await startHarness(makeStore && (() => {
      const store = makeStore();
      stores.push(store);
      return store;
    }), instances);
    // 3 users × 20 requests (under their 50 a minute), plus one greedy user over its limit.
    const jobs: Array<Promise<Seen>> = [];
    let n = 0;
    for (let round = 0; round < 20; round++) {
      for (const user of USERS) {
        const i = n++;
        jobs.push(fire(h, i, user, `${PROMPTS[(round + i) % PROMPTS.length]!} #${i % 3}`, round + USERS.indexOf(user)));
      }
      if (round % 4 === 3) await new Promise((r) => setTimeout(r, 50));
    }
    for (let i = 0; i < 60; i++) jobs.push(fire(h, n++, 'greedy', PROMPTS[i % PROMPTS.length]!, 2));
    seen = await Promise.all(jobs);
    // Settled: every record written, every upstream response closed.
    await until(() => h.records.filter((r) => r.route === 'chat').length >= seen.length, 20_000);
    await until(() => h.openCount.every((c) => c() === 0), 20_000);
  }, 180_000);

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    for (const app of h?.apps ?? []) await app.close();
    for (const store of stores) await store.close?.();
    for (const up of h?.ups ?? []) await up.close();
  });

  describe('works', () => {
    it('every request got a complete answer or a well-formed OpenAI error, within the deadline', () => {
      const broken = seen.filter((s) => s.kind === 'broken');
      expect(broken).toEqual([]);
      for (const s of seen) expect(s.ms).toBeLessThan(DEADLINE + SLACK);
      for (const s of seen) if (s.kind === 'answer') expect(FULL_ANSWERS).toContain(s.content);
      // The storm did hit both sides.
      expect(seen.filter((s) => s.kind === 'answer').length).toBeGreaterThan(10);
      expect(seen.filter((s) => s.kind === 'error').length).toBeGreaterThan(5);
      expect(seen.filter((s) => s.kind === 'left').length).toBeGreaterThan(3);
    });

    it('the greedy user got exactly its 50 admissions; the rest were 429 rate_limited', () => {
      const greedy = seen.filter((s) => s.user === 'greedy');
      const refused = h.records.filter((r) => r.identity?.user === 'greedy' && r.limit?.kind === 'rate_limit');
      expect(refused.length).toBe(greedy.length - 50);
      for (const r of refused) expect(r.status).toBe(429);
    });

    it('no unhandled rejection or uncaught exception', () => {
      expect(h.processErrors).toEqual([]);
    });

    it('every upstream response was closed: none left open by a client that left, a hang or a stall', () => {
      expect(h.openCount.map((c) => c())).toEqual([0, 0, 0]);
    });

    it('one record per request, with the status the client saw', () => {
      const chat = h.records.filter((r) => r.route === 'chat');
      const byTrace = new Map<string, any[]>();
      for (const r of chat) byTrace.set(r.trace_id, [...(byTrace.get(r.trace_id) ?? []), r]);
      expect(chat.length).toBe(seen.length);
      for (const s of seen) {
        const recs = byTrace.get(s.traceId) ?? [];
        expect(recs.length, s.traceId).toBe(1);
        const r = recs[0];
        if (s.kind === 'answer') expect([r.status, r.outcome], s.traceId).toEqual([200, 'success']);
        if (s.kind === 'left' && !s.early) expect([r.status, r.outcome], s.traceId).toEqual([499, 'client_closed']);
        if (s.kind === 'error' && s.midStream) expect([r.status, r.outcome], s.traceId).toEqual([502, 'stream_cut']);
        if (s.kind === 'error' && !s.midStream) expect([r.status, r.outcome], s.traceId).toEqual([s.status, 'error']);
      }
    });

    it('metrics agree with the records', async () => {
      // Each instance counts its own requests: summed, they are every request.
      const texts = await Promise.all(h.apps.map((a) => scrape(a.gateway, { authorization: `Bearer ${ADMIN}` })));
      const metric = (labels: Record<string, string>) => texts.reduce((sum, t) => sum + metricValue(t, 'llmux_requests_total', labels), 0);
      const chat = h.records.filter((r) => r.route === 'chat');
      expect(metric({ route: 'chat' })).toBe(chat.length);
      for (const outcome of ['success', 'error', 'stream_cut', 'client_closed']) {
        expect(metric({ route: 'chat', outcome }), outcome).toBe(chat.filter((r) => r.outcome === outcome).length);
      }
      for (const t of texts) expect(metricValue(t, 'llmux_requests_in_flight')).toBe(0);
    });

    it('nothing stays reserved, and no user spent less than the costs its answers reported', async () => {
      const report = await usage(h);
      const rows = report.budgets.filter((b: any) => b.scope === 'user');
      expect(rows.length).toBeGreaterThanOrEqual(USERS.length);
      for (const row of rows) {
        expect(row.reserved, row.scope_value).toBe(0);
        const reported = h.records
          .filter((r) => r.route === 'chat' && r.identity?.user === row.scope_value && typeof r.cost_usd === 'number')
          .reduce((a, r) => a + r.cost_usd, 0);
        expect(row.spent, row.scope_value).toBeGreaterThanOrEqual(reported - 1e-9);
        // The rest is the reservations of answers whose usage never came (cut, or the client left after content).
        const usageless = h.records.filter(
          (r) => r.route === 'chat' && r.identity?.user === row.scope_value && r.cost_usd === undefined && r.ttft_ms !== undefined,
        ).length;
        const extra = row.spent - reported;
        expect(extra, row.scope_value).toBeGreaterThanOrEqual(usageless * RESERVED_OUTPUT_USD - 1e-9);
        expect(extra, row.scope_value).toBeLessThanOrEqual(usageless * (RESERVED_OUTPUT_USD + 0.0002) + 1e-9);
      }
    });

    it('once healthy, every repeated prompt is a full fixture answer (nothing truncated was cached)', async () => {
      h.faults.healthy = true;
      const client = (user: string) => new OpenAI({ baseURL: `${h.apps[h.apps.length - 1]!.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-user': user } });
      for (const user of USERS) {
        for (const prompt of PROMPTS) {
         for (const variant of [0, 1, 2]) {
          const content = `${prompt} #${variant}`;
          const c = await client(user).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });
          expect(FULL_ANSWERS).toContain(c.choices[0]!.message.content);
          let streamed = '';
          const s = await client(user).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], stream: true });
          for await (const chunk of s) streamed += chunk.choices[0]?.delta?.content ?? '';
          expect(FULL_ANSWERS).toContain(streamed);
         }
        }
      }
    });
  });
});
}

stormSuite('storm over a fallback/loadbalance gateway (memory store)');
stormSuite(
  'storm over two instances sharing a Redis store',
  () => createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: REDIS_PREFIX }),
  2,
);
