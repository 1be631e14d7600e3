/**
 * Routing and failure handling through a host app: upstream bodies that are too large or not what
 * they claim, fan-outs that fail part-way, retries and targets named on errors, the breaker under a
 * hanging target, keys in provider text, and streams let go before or during their first read.
 * Tests marked "Regression" failed before the fix their comment describes.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import Koa from 'koa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type GatewayConfig } from '@llmux/core';
import { gatewayMiddleware as koaGatewayMiddleware } from '@llmux/koa';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

const ups: MockUpstream[] = [];
const apps: TestApp[] = [];
const CHAT = '/v1/chat/completions';
const EMBED = '/v1/embeddings';
const completion = fixtureJson('openai/chat-completions.text.json');
const embeddings = fixtureJson('openai/embeddings.float.json');
const streamEvents = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));

beforeAll(async () => {
  for (let i = 0; i < 3; i++) ups.push(await startMockUpstream());
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(ups.map((u) => u.close()));
});
beforeEach(() => {
  for (const u of ups) u.reset();
});

const target = (i: number, extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: `sk-up-${i}`, custom_host: `${ups[i]!.url}/v1`, ...extra });

async function start(config: GatewayConfig, options: AppOptions = {}): Promise<TestApp> {
  // Retry waits are skipped so the suite stays fast (tests needing the real timer pass `routing: {}`).
  const app = await appFactories.express5!({ config, routing: { sleep: async () => {} }, ...options });
  apps.push(app);
  return app;
}

function post(app: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(`${app.gatewayURL}${CHAT}`, {
    method: 'POST',
    ...(signal ? { signal } : {}),
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body }),
  });
}

const embed = (app: TestApp, body: Record<string, unknown>) =>
  fetch(`${app.gatewayURL}${EMBED}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


describe('upstream failures', () => {
  // Regression (critical): an upstream error body over 1 MiB crashes the host process.
  // DESIGN "Errors": "all targets failing is 502 (or the provider's own status) … Never a 500 for bad input";
  // README: "With Redis down … nothing hangs" / the gateway lives inside the host app — an upstream's answer
  // must never take the app down. Root cause: http/bytes.ts readAllBytes removes its 'error' listener and then
  // destroys undici's body, which emits RequestAbortedError with no listener (uncaught exception).
  it('a 500 whose body is larger than 1 MiB is answered with the provider status, without an uncaught exception', async () => {
    const uncaught: unknown[] = [];
    const record = (e: unknown) => void uncaught.push(e);
    process.on('uncaughtException', record);
    try {
      const app = await start({ targets: [target(0)] });
      ups[0]!.enqueue(CHAT, { status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { message: 'x'.repeat(2_000_000) } }) });
      const res = await post(app, {});
      expect(res.status).toBe(500);
      const body = await res.json();
      expect(body.error.source).toBe('provider');
      await sleep(200);
      expect(uncaught.map((e) => String(e))).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
    }
  });

  // Regression: a 200 whose JSON is not a chat completion is not treated as a failed attempt.
  // DESIGN: "Without on_status_codes, a fallback moves on after any failed attempt"; "every error … says
  // whether the gateway or the provider failed"; "Never … a 200 with an error inside".
  // Before the fix: `null` → 500 internal_error blamed on the gateway, fallback never tried (pipeline/chat.ts reads
  // `result.completion.usage` after routing returned); `[]` → relayed as a 200 `[]`, fallback never tried.
  // Bodies past the 64 KiB a stream may queue unread pause the upstream socket: read whole, they must
  // still arrive whole (dispatched-response-adversarial.test.ts drives the pause itself).
  it('large answers arrive whole: a 2 MiB completion and a 3 MiB embeddings list', async () => {
    const long = { ...completion, choices: [{ ...completion.choices[0], message: { role: 'assistant', content: 'x'.repeat(2 * 1024 * 1024) } }] };
    const vectors = { ...embeddings, data: Array.from({ length: 100 }, (_, index) => ({ object: 'embedding', index, embedding: Array.from({ length: 1536 }, (_, i) => i / 1536) })) };
    ups[0]!.enqueue(CHAT, { json: long });
    ups[0]!.enqueue(EMBED, { json: vectors });
    const app = await start({ targets: [target(0)] });
    const client = new OpenAI({ baseURL: app.gatewayURL + '/v1', apiKey: 'sk-client', maxRetries: 0, timeout: 10_000 });
    const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    expect(chat.choices[0]!.message.content).toHaveLength(2 * 1024 * 1024);
    const list = await client.embeddings.create({ model: 'text-embedding-3-small', input: Array.from({ length: 100 }, (_, i) => `t${i}`), encoding_format: 'float' });
    expect(list.data).toHaveLength(100);
    expect(list.data[99]!.embedding).toHaveLength(1536);
  });

  it('a 200 with a JSON body that is not a completion (null, []) falls over to the next target', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    for (const junk of ['null', '[]']) {
      ups[0]!.enqueue(CHAT, { status: 200, headers: { 'content-type': 'application/json' }, body: junk });
      ups[1]!.enqueue(CHAT, { json: completion });
      const res = await post(app, {});
      expect(res.status, `first target answered ${junk}`).toBe(200);
      expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
      expect((await res.json()).choices[0].message.content).toBe(completion.choices[0].message.content);
    }
  });

  it('a 200 with JSON null from the only target is a 502 from the provider, not a 500 from the gateway', async () => {
    const app = await start({ targets: [target(0)] });
    ups[0]!.enqueue(CHAT, { status: 200, headers: { 'content-type': 'application/json' }, body: 'null' });
    const res = await post(app, {});
    expect(res.status).toBe(502);
    expect((await res.json()).error.source).toBe('provider');
  });

  it('embeddings — a 200 with JSON null falls over to the next target instead of a 500', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    ups[0]!.enqueue(EMBED, { status: 200, headers: { 'content-type': 'application/json' }, body: 'null' });
    ups[1]!.enqueue(EMBED, { json: embeddings });
    const res = await embed(app, { model: 'text-embedding-3-small', input: 'hello' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });

  // Regression: a failed Bedrock embeddings fan-out keeps sending upstream calls after the request was answered.
  // DESIGN: "signal … fires when the client goes away: the upstream call must stop"; an attempt that is over
  // must not keep spending the provider's quota. Root cause: upstream/call.ts inBatches — when one call
  // rejects, Promise.all rejects but the other workers keep taking items and calling; nothing aborts them.
  it('once one input of a Bedrock embeddings fan-out fails, no further upstream calls are made', async () => {
    const PATH = '/model/amazon.titan-embed-text-v2%3A0/invoke';
    const app = await start(
      {
        targets: [
          {
            provider: 'bedrock',
            aws_access_key_id: 'AKIDEXAMPLE',
            aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
            aws_region: 'eu-west-3',
            custom_host: ups[0]!.url,
          },
        ],
      },
      { env: {} },
    );
    ups[0]!.route(PATH, (req) => (req.json.inputText === 'i0' ? { status: 400, json: { message: 'bad input' } } : { delayMs: 100, json: { embedding: [0.1, 0.2], inputTextTokenCount: 2 } }));
    const res = await embed(app, { model: 'amazon.titan-embed-text-v2:0', input: Array.from({ length: 16 }, (_, i) => `i${i}`), encoding_format: 'float' });
    expect(res.status).toBe(400);
    await sleep(800);
    // At most the calls already in flight (4 at once) when the first one failed; before the fix all 16 are sent.
    expect(ups[0]!.requests.length).toBeLessThanOrEqual(4);
  });
});

describe('retries and headers', () => {
  // Regression: error responses carry no retry count.
  // DESIGN "Headers": "Every response carries `x-llmux-trace-id` …, `x-llmux-retries` … and the same facts
  // under Portkey's names (… `x-portkey-retry-attempt-count` …)". Root cause: gateway.ts errorResponse()
  // only sets trace id, provider and retry-after; state.retries (pipeline/chat.ts) never reaches it.
  it('a request that retried twice and still failed says so in x-llmux-retries and x-portkey-retry-attempt-count', async () => {
    const app = await start({ targets: [target(0, { retry: { attempts: 2 } })] });
    ups[0]!.route(CHAT, { status: 503, json: { error: { message: 'down' } } });
    const res = await post(app, {});
    expect(res.status).toBe(503);
    expect(ups[0]!.requests).toHaveLength(3);
    expect(res.headers.get('x-llmux-retries')).toBe('2');
    expect(res.headers.get('x-portkey-retry-attempt-count')).toBe('2');
  });

  // nested targets name their full JSON path in x-llmux-target through a host app.
  it('x-llmux-target names the nested target that answered', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), { strategy: { mode: 'fallback' }, targets: [target(1), target(2)] }] });
    ups[0]!.route(CHAT, { status: 500, json: { error: { message: 'a' } } });
    ups[1]!.route(CHAT, { status: 500, json: { error: { message: 'b' } } });
    ups[2]!.route(CHAT, { json: completion });
    const res = await post(app, {});
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1].targets[1]');
  });

  // a weight of 0 takes no traffic.
  it('loadbalance never picks a target of weight 0', async () => {
    const app = await start({ strategy: { mode: 'loadbalance' }, targets: [target(0, { weight: 0 }), target(1, { weight: 1 })] });
    ups[1]!.route(CHAT, { json: completion });
    for (let i = 0; i < 20; i++) expect((await post(app, {})).headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(ups[0]!.requests).toHaveLength(0);
  });
});

describe('circuit breaker', () => {
  // Regression: an upstream that hangs until the overall deadline never opens its circuit.
  // config/schema.ts circuit_breaker.on_status_codes: "Default: 429 and 5xx, network errors and timeouts."
  // Root cause: router/run-target.ts — when run.deadlineHit the attempt throws DeadlineReached before
  // `env.breaker.record(...)`, so a hang (the commonest outage) is never counted; a half-open trial that
  // hangs is never reported either.
  it('a target that hangs past the overall deadline counts as a failure: the next request finds its circuit open', async () => {
    const app = await start({ deadline: 300, circuit_breaker: { failure_threshold: 1, cooldown: 60 }, targets: [target(0)] });
    ups[0]!.route(CHAT, { hang: true });
    expect((await post(app, {})).status).toBe(504);
    const started = Date.now();
    const second = await post(app, {});
    expect(second.status).toBe(503);
    expect((await second.json()).error.message).toContain('circuit is open');
    expect(Date.now() - started).toBeLessThan(250);
    expect(ups[0]!.requests).toHaveLength(1);
  });
});

describe('streams', () => {
  // Regression: an error in the last event of a stream (no blank line after it, then close) leaks the target's key.
  // README: "Provider and gateway keys never appear in logs, errors or responses." The same event with a
  // trailing blank line is redacted. Root cause: upstream/call.ts translate() — the events returned by
  // decoder.end() and translator.end() are handled after the try/catch that maps errors through
  // control.failure() (which redacts), so their errors go out as the provider wrote them.
  it("an error event at the very end of a stream never carries the target's key to the client", async () => {
    const secret = 'my-private-vllm-token-123';
    const app = await start({ targets: [target(0, { api_key: secret })] });
    ups[0]!.enqueue(CHAT, { chunks: [...streamEvents.slice(0, 4), `data: {"error":{"message":"token ${secret} has expired"}}`], chunkDelayMs: 10 });
    const raw = await (await post(app, { stream: true })).text();
    expect(raw).toContain('"content":"The"');
    expect(raw).not.toContain('[DONE]');
    expect(JSON.parse(raw.trim().split('\n\n').pop()!.slice('data: '.length)).error.message).toMatch(/expired/);
    expect(raw).not.toContain(secret);
  });

  // Regression: `data: null` after content was reported as a network error ("could not be reached")
  // carrying an internal TypeError's text. DESIGN: every error says whether the gateway or the provider failed.
  it('a JSON event that is no chunk (data: null) ends the stream with a provider error, not a network error', async () => {
    const app = await start({ targets: [target(0)] });
    ups[0]!.enqueue(CHAT, { chunks: [...streamEvents.slice(0, 4), 'data: null\n\n'], chunkDelayMs: 10 });
    const raw = await (await post(app, { stream: true })).text();
    expect(raw).toContain('"content":"The"');
    expect(raw).not.toContain('[DONE]');
    const { error } = JSON.parse(raw.trim().split('\n\n').pop()!.slice('data: '.length));
    expect(error).toMatchObject({ source: 'provider', code: 'provider_error' });
    expect(error.message).toMatch(/not a chunk/);
  });

  // Regression: a stream body stopped before its first read leaves no record, never settles, and blocks close().
  // DESIGN: the response `body` is an AsyncIterable the adapter may stop; "logs every call"; `close()` lets
  // in-flight work finish. Koa responds only after every middleware returned, so a client that leaves while
  // an outer middleware still awaits gets the body destroyed before it was read. Root cause: toOpenAISse
  // (stream/encode.ts) and observeBatches (pipeline/chat.ts) are async generators — `return()` on one that
  // never started skips its body and `finally`: the after-stages (log record, budget settle, in-flight
  // counter) never run.
  it('Koa — a client leaving while an outer middleware awaits still gets its request recorded, and close() is not held up', async () => {
    const records: unknown[] = [];
    const app = new Koa();
    app.silent = true;
    app.use(async (_ctx, next) => {
      await next();
      await sleep(300); // e.g. an access-log middleware writing somewhere
    });
    const mw = koaGatewayMiddleware({ config: { targets: [target(0)] }, onLog: (r) => void records.push(r) });
    app.use(mw);
    const server = app.listen(0, '127.0.0.1') as Server;
    await new Promise((r) => server.once('listening', r));
    try {
      ups[0]!.enqueue(CHAT, { chunks: streamEvents, chunkDelayMs: 100 });
      const client = new AbortController();
      const pending = fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/llm${CHAT}`, {
        method: 'POST',
        signal: client.signal,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
      });
      await until(() => ups[0]!.requests.length === 1);
      await sleep(250); // the first content token arrived: the gateway answered; Koa has not responded yet
      client.abort();
      await pending.catch(() => undefined);
      expect(await until(() => records.length === 1, 2000)).toBe(true);
    } finally {
      server.closeAllConnections();
      server.close();
      const closing = Date.now();
      await mw.close(2000);
      expect(Date.now() - closing).toBeLessThan(1000);
    }
  });

  it('a stream body let go before its first read still ends its request (record, 499) on /v1/chat/completions and /v1/messages', async () => {
    const records: Array<{ status: number }> = [];
    const gateway = createGateway({ config: { targets: [target(0)] }, onLog: (r) => void records.push(r as never), logger: false, metrics: false });
    const messages = [{ role: 'user', content: 'Hi' }];
    for (const [path, body] of [
      [CHAT, { model: 'gpt-4o-mini', stream: true, messages }],
      ['/v1/messages', { model: 'gpt-4o-mini', max_tokens: 10, stream: true, messages }],
    ] as const) {
      ups[0]!.enqueue(CHAT, { chunks: streamEvents, chunkDelayMs: 50 });
      const res = await gateway.handle({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status, path).toBe(200);
      // What a writer does when the client left before the first write.
      await (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]().return!(undefined);
    }
    expect(await until(() => records.length === 2)).toBe(true);
    expect(records.map((r) => r.status)).toEqual([499, 499]);
    const closing = Date.now();
    await gateway.close(5000);
    expect(Date.now() - closing).toBeLessThan(1000);
  });

  // the client leaving while the gateway holds the stream back closes the upstream socket.
  it('a client leaving during hold-back (before the first content token) closes the upstream connection', async () => {
    const app = await start({ targets: [target(0)] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, chunkDelayMs: 60_000 }); // the role preamble, then silence
    const client = new AbortController();
    const pending = post(app, { stream: true }, {}, client.signal);
    await until(() => ups[0]!.requests.length === 1);
    await sleep(100);
    client.abort();
    await pending.catch(() => undefined);
    expect(await until(() => ups[0]!.aborted === 1)).toBe(true);
  });

  // with request_timeout set the attempt has its own signal; a cut after content still ends with an error event.
  it('with request_timeout, a connection cut after content ends with an error event and no [DONE]; the SDK raises', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, request_timeout: 2000, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, cutAfter: 4, chunkDelayMs: 15 });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    await expect(
      (async () => {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      })(),
    ).rejects.toThrow();
    expect(text.length).toBeGreaterThan(0);
    expect(ups[1]!.requests).toHaveLength(0);
  });
});

describe('keys', () => {
  // Regression (low): a provider error's `param` / `code` fields are relayed unredacted.
  // README: "Provider and gateway keys never appear in logs, errors or responses." Root cause:
  // upstream/call.ts providerError() redacts only `info.message`; `param` and `providerCode` (rendered as
  // `error.code`) go out as the provider sent them.
  it("a provider error echoing the target's key in param/code never shows it to the client", async () => {
    const secret = 'sk-proj-abcdefghijklmnop0123';
    const app = await start({ targets: [target(0, { api_key: secret })] });
    ups[0]!.enqueue(CHAT, { status: 401, json: { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: secret, code: `invalid_api_key:${secret}` } } });
    const res = await post(app, {});
    expect(res.status).toBe(401);
    expect(await res.text()).not.toContain(secret);
  });
});
