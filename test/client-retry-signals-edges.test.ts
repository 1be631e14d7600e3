/**
 * How the gateway's refusals and failures drive the official SDK clients' own retries.
 *
 * openai (6.x) and @anthropic-ai/sdk (1.x) retry 408, 409, 429 and every 5xx (Anthropic's 529 too) and
 * connection errors, `maxRetries` 2 by default; `x-should-retry: true|false` overrides the status; the
 * wait is `retry-after-ms`, else `Retry-After` (seconds or an HTTP date), else 0.5 s doubling with jitter.
 * openai 6 waits whatever the header says (no 60 s cap any more), so a Retry-After of a day is a call
 * that hangs for a day. portkey-ai retries a 5xx once, and never one that carries `x-portkey-trace-id`
 * (the gateway already routed it).
 *
 * Each test counts the requests that reach the host app (an Express app with a counting middleware
 * before the gateway) and the waits the SDK asked for. The SDKs' own `sleep` is shortened (the wait it
 * asked for is recorded, the timer runs for at most `sleepCap` ms), so a test that retries after
 * "60 s" runs in milliseconds; every other timer runs as it is.
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { Portkey } from 'portkey-ai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryStore } from '@llmux/core';
import { gatewayMiddleware, type ExpressGatewayOptions } from '@llmux/express';
import { appFactories, closeServer, listen } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { fixtureJson } from './helpers/fixtures.js';
import { until } from './helpers/until.js';
import { memoryLimits } from '../packages/core/src/store/memory/limits.js';

// ---------------------------------------------------------------------------------------------------
// The SDKs' sleeps: recorded, and cut short.

const realSetTimeout = globalThis.setTimeout;
/** Waits (ms) the SDKs asked for between attempts, in order. */
const sdkSleeps: number[] = [];
/** Longest real timer an SDK sleep gets. */
let sleepCap = 5;
/** The clock of `clockStore()`'s limits: every SDK sleep moves it on by the wait the SDK asked for. */
let fakeNow = Date.now();
const SDK_SLEEP = /[\\/](openai|@anthropic-ai[\\/]sdk)[\\/]internal[\\/]utils[\\/]sleep\.m?js/;

beforeAll(() => {
  globalThis.setTimeout = function patched(this: unknown, fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) {
    if (SDK_SLEEP.test(new Error().stack ?? '')) {
      sdkSleeps.push(ms ?? 0);
      fakeNow += ms ?? 0;
      return realSetTimeout(fn, Math.min(ms ?? 0, sleepCap), ...args);
    }
    return realSetTimeout(fn, ms, ...args);
  } as typeof setTimeout;
});
afterAll(() => {
  globalThis.setTimeout = realSetTimeout;
});

// ---------------------------------------------------------------------------------------------------
// A host app that counts what reaches it, and the upstream.

interface CountingApp {
  url: string;
  /** Requests that reached the host app under the gateway's mount point, in order. */
  hits: string[];
  /** Status and headers of each answer the host app sent. */
  answers: Array<{ status: number; headers: Record<string, string> }>;
  close(): Promise<void>;
}

let upstream: MockUpstream;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  upstream.reset();
  sdkSleeps.length = 0;
  sleepCap = 5;
});

async function countingApp(options: ExpressGatewayOptions<any> & { bodyLimit?: string }): Promise<CountingApp> {
  const { bodyLimit = '20mb', ...gatewayOptions } = options;
  const hits: string[] = [];
  const answers: CountingApp['answers'] = [];
  const app = express();
  app.use((req, res, next) => {
    if (req.path.startsWith('/llm/')) {
      hits.push(`${req.method} ${req.path}`);
      res.on('finish', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.getHeaders())) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
        answers.push({ status: res.statusCode, headers });
      });
    }
    next();
  });
  app.use(express.json({ limit: bodyLimit }));
  const mw = gatewayMiddleware({ env: {}, logger: false, ...gatewayOptions });
  app.use(mw);
  const server: Server = createServer(app);
  const url = await listen(server);
  const handle: CountingApp = {
    url,
    hits,
    answers,
    async close() {
      await closeServer(server);
      await mw.close(500);
    },
  };
  cleanups.push(() => handle.close());
  return handle;
}

/** The memory store, its rate windows on `fakeNow`: a retry after the wait the SDK was told finds the window as it would then be. */
const clockStore = () => ({ ...createMemoryStore(), ...memoryLimits(() => fakeNow) });

const openaiClient = (app: CountingApp, opts: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
  new OpenAI({ baseURL: `${app.url}/llm/v1`, apiKey: 'client-key', ...opts });
const anthropicClient = (app: CountingApp) => new Anthropic({ baseURL: `${app.url}/llm`, apiKey: 'client-key' });

const MODEL = 'budget-model';
/** $1 per output token, input free. */
const pricing = { [MODEL]: { input: 0, output: 1_000_000 } };
const target = (path = '/v1') => ({ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}${path}` });
const completion = (completionTokens = 1) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: completionTokens, total_tokens: 3 + completionTokens },
});
const body = (extra: object = {}) => ({ model: MODEL, max_tokens: 1, messages: [{ role: 'user' as const, content: 'hi' }], ...extra });

/** The SDK call's error (it must fail). */
async function failure<T>(p: Promise<T>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

// ---------------------------------------------------------------------------------------------------

describe('openai SDK: refusals it must not retry', () => {
  it('a daily cost budget spent: 402, one attempt, Retry-After = seconds until resets_at', async () => {
    upstream.route('/v1/chat/completions', { json: completion(5) });
    const app = await countingApp({ pricing, config: { targets: [target()], budget: { max_cost_per_day: 5 } } });
    const client = openaiClient(app);
    await client.chat.completions.create(body({ max_tokens: 5 }));
    const e = await failure(client.chat.completions.create(body()));
    expect(e).toBeInstanceOf(OpenAI.APIError);
    expect(e.status).toBe(402);
    expect(app.hits).toHaveLength(2);
    expect(sdkSleeps).toEqual([]);
    expect(upstream.requests).toHaveLength(1);
    const resetsAt = Date.parse(e.error.resets_at);
    const retryAfter = Number(e.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    // Retry-After counts down to the window's end the body names (± the second the request took).
    expect(Math.abs(Date.now() + retryAfter * 1000 - resetsAt)).toBeLessThan(2000);
    expect(e.headers.get('x-should-retry')).not.toBe('true');
  });

  it('a bad request (400), a refused client config (403) and a body too large (413): one attempt each', async () => {
    upstream.route('/v1/chat/completions', { json: completion() });
    const app = await countingApp({ pricing, config: { targets: [target()] }, limits: { maxBodyBytes: 2048 } });
    const client = openaiClient(app);
    const bad = await failure(client.chat.completions.create({ model: MODEL, messages: 'nope' } as never));
    expect(bad.status).toBe(400);
    const config = await failure(
      client.chat.completions.create(body(), { headers: { 'x-portkey-config': JSON.stringify({ targets: [{ provider: 'openai' }] }) } }),
    );
    expect(config.status).toBe(403);
    const big = await failure(client.chat.completions.create(body({ messages: [{ role: 'user', content: 'x'.repeat(5000) }] })));
    expect(big.status).toBe(413);
    expect(app.hits).toHaveLength(3);
    expect(sdkSleeps).toEqual([]);
    expect(upstream.requests).toHaveLength(0);
  });

  it('every target failing alike with a 400: the provider\'s 400 comes through, one attempt', async () => {
    const refusal = { status: 400, json: { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } } };
    upstream.route('/a/chat/completions', refusal).route('/b/chat/completions', refusal);
    const app = await countingApp({ pricing, config: { strategy: { mode: 'fallback' }, targets: [target('/a'), target('/b')] } });
    const e = await failure(openaiClient(app).chat.completions.create(body()));
    expect(e.status).toBe(400);
    expect(app.hits).toHaveLength(1);
    expect(upstream.requests).toHaveLength(2);
  });
});

describe('openai SDK: failures it should retry, and how long it waits', () => {
  it('requests per minute: 429 with retry-after-ms = x-ratelimit-reset-requests, Retry-After its ceiling; three attempts, each wait as told', async () => {
    upstream.route('/v1/chat/completions', { json: completion() });
    const app = await countingApp({ pricing, config: { targets: [target()], rate_limit: { requests_per_minute: 1 } } });
    const client = openaiClient(app);
    const ok = await client.chat.completions.create(body()).withResponse();
    expect(ok.response.headers.get('x-ratelimit-limit-requests')).toBe('1');
    expect(ok.response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const e = await failure(client.chat.completions.create(body()));
    expect(e.status).toBe(429);
    // 1 admitted + 3 refused (the first try and the SDK's two retries).
    expect(app.hits).toHaveLength(4);
    expect(upstream.requests).toHaveLength(1);
    const refusals = app.answers.slice(1);
    expect(refusals.map((a) => a.status)).toEqual([429, 429, 429]);
    for (const r of refusals) {
      const ms = Number(r.headers['retry-after-ms']);
      expect(ms).toBeGreaterThan(55_000);
      expect(ms).toBeLessThanOrEqual(60_001);
      expect(r.headers['retry-after']).toBe(String(Math.ceil(ms / 1000)));
      expect(r.headers['x-ratelimit-limit-requests']).toBe('1');
      expect(r.headers['x-ratelimit-remaining-requests']).toBe('0');
      expect(r.headers['x-ratelimit-reset-requests']).toMatch(/^(\d+m)?\d+(\.\d+)?m?s$/);
    }
    // The SDK waited what retry-after-ms said, not its own backoff.
    expect(sdkSleeps).toEqual(refusals.slice(0, 2).map((r) => Number(r.headers['retry-after-ms'])));
  });

  it('a per-minute 429 waited out as told (retry-after-ms on the store\'s clock) is admitted on the SDK\'s first retry', async () => {
    upstream.route('/v1/chat/completions', { json: completion() });
    const app = await countingApp({ pricing, store: clockStore() as never, config: { targets: [target()], rate_limit: { requests_per_minute: 2 } } });
    const client = openaiClient(app);
    await client.chat.completions.create(body());
    fakeNow += 20_000;
    await client.chat.completions.create(body());
    // Full: the first entry leaves the window 40 s from now (+1 ms).
    const third = await client.chat.completions.create(body()).withResponse();
    expect(third.data.choices[0]!.message.content).toBe('ok');
    expect(app.answers.map((a) => a.status)).toEqual([200, 200, 429, 200]);
    expect(app.answers[2]!.headers['retry-after-ms']).toBe('40001');
    expect(app.answers[2]!.headers['retry-after']).toBe('41');
    expect(app.answers[2]!.headers['x-ratelimit-reset-requests']).toBe('41s');
    expect(sdkSleeps).toEqual([40_001]);
    // Admitted at 60.001 s after the first: the second's entry is the oldest now, 20 s from leaving.
    expect(third.response.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(third.response.headers.get('x-ratelimit-reset-requests')).toBe('20s');
  });

  it('an upstream 429 passes through with its wait: retry-after-ms 1500 becomes Retry-After 2, an HTTP date its seconds', async () => {
    upstream
      .enqueue('/v1/chat/completions', { status: 429, headers: { 'retry-after-ms': '1500' }, json: { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } } })
      .enqueue('/v1/chat/completions', {
        status: 429,
        headers: { 'retry-after': new Date(Date.now() + 30_000).toUTCString() },
        json: { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } },
      })
      .route('/v1/chat/completions', { json: completion() });
    const app = await countingApp({ pricing, config: { targets: [target()] } });
    const res = await openaiClient(app).chat.completions.create(body());
    expect(res.choices[0]!.message.content).toBe('ok');
    expect(app.answers.map((a) => a.status)).toEqual([429, 429, 200]);
    expect(app.answers[0]!.headers['retry-after']).toBe('2');
    const dated = Number(app.answers[1]!.headers['retry-after']);
    expect(dated).toBeGreaterThanOrEqual(28);
    expect(dated).toBeLessThanOrEqual(30);
    expect(sdkSleeps).toEqual([2000, dated * 1000]);
  });

  it("Gemini's RetryInfo 34.4s (recorded 429) becomes Retry-After 35", async () => {
    upstream.route('*', { status: 429, json: fixtureJson('gemini/error-429-resource-exhausted.json') });
    const app = await countingApp({
      config: { targets: [{ provider: 'google', api_key: 'AIza-test', custom_host: `${upstream.url}/v1beta` }] },
    });
    const e = await failure(openaiClient(app).chat.completions.create({ model: 'gemini-2.0-flash', messages: [{ role: 'user', content: 'hi' }] }));
    expect(e.status).toBe(429);
    expect(e.headers.get('retry-after')).toBe('35');
    expect(app.hits).toHaveLength(3);
    expect(sdkSleeps).toEqual([35_000, 35_000]);
  });

  it('every circuit open: 503 with Retry-After the cooldown left; the SDK retries after it', async () => {
    upstream.route('/v1/chat/completions', { status: 500, json: { error: { message: 'boom', type: 'server_error' } } });
    const app = await countingApp({ pricing, config: { targets: [target()], circuit_breaker: { failure_threshold: 1, cooldown: 30 } } });
    // One failure opens the circuit (a plain request, not retried).
    const first = await failure(openaiClient(app, { maxRetries: 0 }).chat.completions.create(body()));
    expect(first.status).toBe(500);
    const e = await failure(openaiClient(app).chat.completions.create(body()));
    expect(e.status).toBe(503);
    expect(upstream.requests).toHaveLength(1);
    const waits = app.answers.slice(1).map((a) => Number(a.headers['retry-after']));
    expect(waits).toHaveLength(3);
    for (const w of waits) expect(w === 29 || w === 30).toBe(true);
    expect(sdkSleeps).toEqual(waits.slice(0, 2).map((w) => w * 1000));
  });

  it('the limit store unreachable: 503 Retry-After 1, three attempts', async () => {
    const store = { ...createMemoryStore(), admit: async () => Promise.reject(new Error('store down')) };
    upstream.route('/v1/chat/completions', { json: completion() });
    const app = await countingApp({ pricing, store: store as never, config: { targets: [target()], rate_limit: { requests_per_minute: 10 } } });
    const e = await failure(openaiClient(app).chat.completions.create(body()));
    expect(e.status).toBe(503);
    expect(e.headers.get('retry-after')).toBe('1');
    expect(app.hits).toHaveLength(3);
    expect(sdkSleeps).toEqual([1000, 1000]);
    expect(upstream.requests).toHaveLength(0);
  });

  it('an upstream timeout is a 504 and a client-shortened one a 408: both retried', async () => {
    upstream.route('/v1/chat/completions', { delayMs: 400, json: completion() });
    const app = await countingApp({ pricing, config: { targets: [{ ...target(), request_timeout: 50 }] } });
    const e = await failure(openaiClient(app).chat.completions.create(body()));
    expect(e.status).toBe(504);
    expect(app.hits).toHaveLength(3);
    const short = await countingApp({ pricing, config: { targets: [target()] } });
    const e2 = await failure(openaiClient(short).chat.completions.create(body(), { headers: { 'x-portkey-request-timeout': '50' } }));
    expect(e2.status).toBe(408);
    expect(short.hits).toHaveLength(3);
  });

  it('targets failing differently with 5xx: a 502, retried with the SDK backoff', async () => {
    upstream
      .route('/a/chat/completions', { status: 500, json: { error: { message: 'boom', type: 'server_error' } } })
      .route('/b/chat/completions', { status: 503, json: { error: { message: 'busy', type: 'server_error' } } });
    const app = await countingApp({ pricing, config: { strategy: { mode: 'fallback' }, targets: [target('/a'), target('/b')] } });
    const e = await failure(openaiClient(app).chat.completions.create(body()));
    expect(e.status).toBe(502);
    expect(app.hits).toHaveLength(3);
    expect(upstream.requests).toHaveLength(6);
  });
});

describe('portkey-ai and @anthropic-ai/sdk', () => {
  it('portkey-ai never retries what the gateway answered (x-portkey-trace-id), 503 included', async () => {
    const store = { ...createMemoryStore(), admit: async () => Promise.reject(new Error('store down')) };
    const app = await countingApp({ pricing, store: store as never, config: { targets: [target()], rate_limit: { requests_per_minute: 10 } } });
    const portkey = new Portkey({ baseURL: `${app.url}/llm/v1`, apiKey: 'client-key' });
    const e = await failure(portkey.chat.completions.create(body()));
    expect(e.status).toBe(503);
    expect(app.hits).toHaveLength(1);
  });

  it('@anthropic-ai/sdk on /v1/messages: a spent budget is a 402 tried once; a per-minute limit a 429 waited out as told', async () => {
    upstream.route('/v1/chat/completions', { json: completion(5) });
    const app = await countingApp({
      pricing,
      config: { targets: [target()], budget: { max_cost_per_day: 5 } },
    });
    const client = anthropicClient(app);
    await client.messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
    const e = await failure(client.messages.create({ model: MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }));
    expect(e.status).toBe(402);
    expect(app.hits).toHaveLength(2);
    expect(sdkSleeps).toEqual([]);

    const limited = await countingApp({ pricing, config: { targets: [target()], rate_limit: { requests_per_minute: 1 } } });
    const c2 = anthropicClient(limited);
    await c2.messages.create({ model: MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] });
    const r = await failure(c2.messages.create({ model: MODEL, max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] }));
    expect(r).toBeInstanceOf(Anthropic.RateLimitError);
    expect(limited.hits).toHaveLength(4);
    expect(sdkSleeps).toEqual(limited.answers.slice(1, 3).map((a) => Number(a.headers['retry-after-ms'])));
  });
});

describe('every adapter sends the same retry signals', () => {
  for (const [name, factory] of Object.entries(appFactories)) {
    it(`${name}: a per-minute 429 keeps Retry-After, retry-after-ms, x-ratelimit-* and the trace id the SDKs read`, async () => {
      upstream.route('/v1/chat/completions', { json: completion() });
      const app = await factory({ env: {}, logger: false, pricing, config: { targets: [target()], rate_limit: { requests_per_minute: 1 } } } as never);
      cleanups.push(() => app.close());
      const post = () =>
        fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body()) });
      const ok = await post();
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(ok.headers.get('x-ratelimit-reset-requests')).toBe('1m0s');
      const refused = await post();
      expect(refused.status).toBe(429);
      const ms = Number(refused.headers.get('retry-after-ms'));
      expect(ms).toBeGreaterThan(55_000);
      expect(refused.headers.get('retry-after')).toBe(String(Math.ceil(ms / 1000)));
      expect(refused.headers.get('x-ratelimit-limit-requests')).toBe('1');
      expect(refused.headers.get('x-ratelimit-remaining-requests')).toBe('0');
      expect(refused.headers.get('x-portkey-trace-id')).toBeTruthy();
    });
  }
});

describe('budgets in a rate-limited scope', () => {
  it('a monthly budget refusal: 402, Retry-After up to resets_at, the windows shown as they were (nothing consumed)', async () => {
    upstream.route('/v1/chat/completions', { json: completion(5) });
    const app = await countingApp({
      pricing,
      config: { targets: [target()], budget: { max_cost_per_month: 5 }, rate_limit: { requests_per_minute: 10 } },
    });
    const client = openaiClient(app);
    const ok = await client.chat.completions.create(body({ max_tokens: 5 })).withResponse();
    expect(ok.response.headers.get('x-ratelimit-remaining-requests')).toBe('9');
    const e = await failure(client.chat.completions.create(body()));
    expect(e.status).toBe(402);
    expect(e.error.period).toBe('month');
    expect(app.hits).toHaveLength(2);
    expect(Math.abs(Date.now() + Number(e.headers.get('retry-after')) * 1000 - Date.parse(e.error.resets_at))).toBeLessThan(2000);
    expect(e.headers.get('x-ratelimit-remaining-requests')).toBe('9');
  });
});

describe('x-should-retry where the status alone misleads the SDKs', () => {
  // Fixed (x-should-retry): a daily request limit's 429 says "retry in ~24 h" with no x-should-retry: false, so the openai SDK sleeps a day and retries twice
  it('requests_per_day spent: the SDK is told not to retry (x-should-retry: false) and gives up after one attempt', async () => {
    upstream.route('/v1/chat/completions', { json: completion() });
    const app = await countingApp({ pricing, config: { targets: [target()], rate_limit: { requests_per_day: 1 } } });
    const client = openaiClient(app);
    await client.chat.completions.create(body());
    const e = await failure(client.chat.completions.create(body()));
    expect(e.status).toBe(429);
    expect(Number(e.headers.get('retry-after'))).toBeGreaterThan(86_000);
    expect(sdkSleeps).toEqual([]);
    expect(app.hits).toHaveLength(2);
    expect(e.headers.get('x-should-retry')).toBe('false');
  });

  // Fixed (x-should-retry): a request larger than a tokens_per_minute limit can never be admitted, yet its 429 lets the SDK retry twice (a minute apart)
  it('a request over the whole tokens_per_minute limit: the SDK is told not to retry', async () => {
    upstream.route('/v1/chat/completions', { json: completion() });
    const app = await countingApp({ pricing, config: { targets: [target()], rate_limit: { tokens_per_minute: 100 } } });
    const e = await failure(openaiClient(app).chat.completions.create(body({ max_tokens: 500 })));
    expect(e.status).toBe(429);
    expect(e.message).toMatch(/request too large/);
    expect(sdkSleeps).toEqual([]);
    expect(app.hits).toHaveLength(1);
    expect(e.headers.get('x-should-retry')).toBe('false');
  });

  // Fixed (x-should-retry): fallback targets that all refused with different 4xx become a 502, which the SDK retries twice: three times the upstream refusals
  it('targets refusing with different 4xx (400, 404): the SDK does not retry the 502', async () => {
    upstream
      .route('/a/chat/completions', { status: 400, json: { error: { message: 'bad temperature', type: 'invalid_request_error', param: 'temperature', code: null } } })
      .route('/b/chat/completions', { status: 404, json: { error: { message: 'The model does not exist', type: 'invalid_request_error', param: null, code: 'model_not_found' } } });
    const app = await countingApp({ pricing, config: { strategy: { mode: 'fallback' }, targets: [target('/a'), target('/b')] } });
    const e = await failure(openaiClient(app).chat.completions.create(body()));
    expect(e.status).toBe(502);
    expect(app.hits).toHaveLength(1);
    expect(upstream.requests).toHaveLength(2);
  });

  // Fixed (x-should-retry): a budget blocked only by in-flight reservations answers 402 "Retry-After: 1" but without x-should-retry: true, so the SDK never retries and the call fails though room frees up in a moment
  it('a budget full only of in-flight reservations: the SDK retries after Retry-After and is served', async () => {
    sleepCap = 1500;
    upstream
      .enqueue('/v1/chat/completions', { delayMs: 300, json: completion(1) })
      .route('/v1/chat/completions', { json: completion(1) });
    const app = await countingApp({ pricing, config: { targets: [target()], budget: { max_cost_per_day: 10 } } });
    const client = openaiClient(app);
    // Reserves $8 (8 output tokens at $1), settles for $1.
    const held = client.chat.completions.create(body({ max_tokens: 8 }));
    expect(await until(() => upstream.requests.length === 1)).toBe(true);
    // $0 spent + $8 reserved + $5 > $10: refused until the first settles.
    const second = client.chat.completions.create(body({ max_tokens: 5 })).withResponse();
    const [first, res] = await Promise.allSettled([held, second]);
    expect(first.status).toBe('fulfilled');
    expect(app.answers.find((a) => a.status === 402)?.headers['retry-after']).toBe('1');
    expect(res.status).toBe('fulfilled');
  });
});

