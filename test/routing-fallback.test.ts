import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayConfig } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/** Three upstreams = three targets; routing does not depend on the adapter, so one host app suffices. */
const ups: MockUpstream[] = [];
const apps: TestApp[] = [];
const sleeps: number[] = [];
const CHAT = '/v1/chat/completions';
const completion = fixtureJson('openai/chat-completions.text.json');
const streamEvents = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const streamText = streamEvents
  .filter((e) => e.startsWith('data: {'))
  .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '')
  .join('');

beforeAll(async () => {
  for (let i = 0; i < 3; i++) ups.push(await startMockUpstream());
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(ups.map((u) => u.close()));
});
beforeEach(() => {
  for (const u of ups) u.reset();
  sleeps.length = 0;
});

const target = (i: number, extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: `sk-up-${i}`, custom_host: `${ups[i]!.url}/v1`, ...extra });

async function start(config: GatewayConfig, options: AppOptions = {}): Promise<TestApp> {
  const app = await appFactories.express5!({
    config,
    // Retry waits are recorded, not slept, so the suite stays fast.
    routing: { sleep: async (ms: number) => void sleeps.push(ms) },
    ...options,
  });
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

describe('fallback through a real host app', () => {
  it('falls back when the first target answers 503 and names the target that answered', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } });
    ups[1]!.enqueue(CHAT, { json: completion });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(res.data.choices[0]!.message.content).toBe(completion.choices[0].message.content);
    expect(res.response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(res.response.headers.get('x-portkey-last-used-option-index')).toBe('config.targets[1]');
    expect(res.response.headers.get('x-llmux-retries')).toBe('0');
    expect(res.response.headers.get('x-portkey-trace-id')).toMatch(/.+/);
    expect(ups[1]!.requests[0]!.headers.authorization).toBe('Bearer sk-up-1');
  });

  it('falls back after a connection reset and after a hang that exceeds request_timeout', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, request_timeout: 150, targets: [target(0), target(1), target(2)] });
    ups[0]!.enqueue(CHAT, { reset: true });
    ups[1]!.enqueue(CHAT, { hang: true });
    ups[2]!.enqueue(CHAT, { json: completion });
    const res = await post(app, {});
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[2]');
    await until(() => ups[1]!.aborted === 1); // the timed-out attempt was really stopped
  });

  it('retries a 429 after its Retry-After and counts the retry in the headers', async () => {
    const app = await start({ targets: [target(0, { retry: { attempts: 2 } })] });
    ups[0]!.enqueue(CHAT, { status: 429, headers: { 'retry-after': '2' }, json: { error: { message: 'slow down', type: 'rate_limit_error' } } });
    ups[0]!.enqueue(CHAT, { json: completion });
    const res = await post(app, {});
    expect(res.status).toBe(200);
    expect(sleeps).toEqual([2000]);
    expect(res.headers.get('x-llmux-retries')).toBe('1');
    expect(res.headers.get('x-portkey-retry-attempt-count')).toBe('1');
    expect(ups[0]!.requests).toHaveLength(2);
  });

  it('falls over at once when Retry-After is longer than the bound', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0, { retry: { attempts: 3 } }), target(1)] });
    ups[0]!.enqueue(CHAT, { status: 429, headers: { 'retry-after': '120' }, json: { error: { message: 'quota' } } });
    ups[1]!.enqueue(CHAT, { json: completion });
    const res = await post(app, {});
    expect(res.status).toBe(200);
    expect(sleeps).toEqual([]);
    expect(ups[0]!.requests).toHaveLength(1);
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });

  it('retries 503s with backoff, then falls back; the retries header counts retries, not fallbacks', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, retry: { attempts: 2 }, targets: [target(0), target(1)] });
    ups[0]!.route(CHAT, { status: 503, json: { error: { message: 'down' } } });
    ups[1]!.enqueue(CHAT, { status: 503, json: { error: { message: 'down' } } });
    ups[1]!.enqueue(CHAT, { json: completion });
    const res = await post(app, {});
    expect(res.status).toBe(200);
    expect(ups[0]!.requests).toHaveLength(3);
    expect(ups[1]!.requests).toHaveLength(2);
    expect(res.headers.get('x-llmux-retries')).toBe('3');
    expect(sleeps).toHaveLength(3);
    for (const [i, ms] of sleeps.entries()) expect(ms).toBeLessThan(250 * 2 ** [0, 1, 0][i]!);
  });

  it('when every target fails the same way, answers that status with the provider message and every attempt', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    for (const u of ups.slice(0, 2)) {
      u.enqueue(CHAT, {
        status: 400,
        json: { error: { message: "This model's maximum context length is 128000 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } },
      });
    }
    const res = await post(app, {});
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.message).toContain('maximum context length');
    expect(body.error.code).toBe('context_length_exceeded');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.attempts.map((a: { target: string; status: number }) => [a.target, a.status])).toEqual([
      ['config.targets[0]', 400],
      ['config.targets[1]', 400],
    ]);
    expect(JSON.stringify(body)).not.toContain('sk-up-');
  });

  it('when targets fail differently, answers 502 listing the attempts', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { status: 503, json: { error: { message: 'down' } } });
    ups[1]!.enqueue(CHAT, { reset: true });
    const res = await post(app, {});
    expect(res.status).toBe(502);
    const body = await res.json();
    expect(body.error.code).toBe('all_targets_failed');
    expect(body.error.attempts).toHaveLength(2);
  });

  it('stops at the overall deadline with a 504 listing the attempts', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, deadline: 200, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { hang: true });
    const started = Date.now();
    const res = await post(app, {});
    expect(res.status).toBe(504);
    const body = await res.json();
    expect(body.error.code).toBe('upstream_timeout');
    expect(body.error.message).toContain('200 ms');
    expect(body.error.attempts).toHaveLength(1);
    expect(ups[1]!.requests).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('falls back for embeddings too', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    ups[0]!.enqueue('/v1/embeddings', { status: 500, json: { error: { message: 'boom' } } });
    ups[1]!.enqueue('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
    const res = await fetch(`${app.gatewayURL}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hello' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });
});

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('client aborts', () => {
  it('stops the upstream call and tries nothing else once the client leaves', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, retry: { attempts: 2 }, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { hang: true });
    const client = new AbortController();
    const pending = post(app, {}, {}, client.signal);
    await until(() => ups[0]!.requests.length === 1);
    client.abort();
    await expect(pending).rejects.toThrow();
    await until(() => ups[0]!.aborted === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(ups[0]!.requests).toHaveLength(1);
    expect(ups[1]!.requests).toHaveLength(0);
  });

  it('a client leaving during a retry wait (Retry-After) ends the wait: no retry is sent, the request settles at once', async () => {
    const records: Array<{ status: number; duration_ms: number; attempts: unknown[] }> = [];
    // The real timer this time: the wait itself must be cut short.
    const app = await start({ retry: { attempts: 2, use_retry_after_header: true }, targets: [target(0)] }, { routing: {}, onLog: (r) => void records.push(r as never) });
    ups[0]!.enqueue(CHAT, { status: 429, headers: { 'retry-after': '5' }, json: { error: { message: 'slow down', type: 'rate_limit_error' } } }, { json: completion });
    const client = new AbortController();
    const pending = post(app, {}, {}, client.signal);
    await until(() => ups[0]!.requests.length === 1);
    const left = Date.now();
    client.abort();
    await expect(pending).rejects.toThrow();
    await until(() => records.length === 1);
    expect(Date.now() - left).toBeLessThan(2000);
    expect(records[0]!.duration_ms).toBeLessThan(2000);
    expect(records[0]!.attempts).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(ups[0]!.requests).toHaveLength(1);
  });

  it('a client leaving mid-stream stops the upstream stream', async () => {
    const app = await start({ targets: [target(0)] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, chunkDelayMs: 60 });
    const client = new AbortController();
    const res = await post(app, { stream: true }, {}, client.signal);
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    await until(() => ups[0]!.aborted === 1);
  });
});

describe('streams', () => {
  it('a stream that breaks before its first content token is served whole by the fallback target', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, cutAfter: 1 }); // only the role preamble, then a cut
    ups[1]!.enqueue(CHAT, { chunks: streamEvents });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true })
      .withResponse();
    let text = '';
    let roles = 0;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.choices[0]?.delta.role) roles++;
    }
    expect(text).toBe(streamText);
    expect(roles).toBe(1); // the broken stream's preamble never reached the client
    expect(response.headers.get('x-llmux-target')).toBe('config.targets[1]');
  });

  it('a stream that stalls before its first token past request_timeout falls over', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, request_timeout: 150, targets: [target(0), target(1)] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, chunkDelayMs: 2000 });
    ups[1]!.enqueue(CHAT, { chunks: streamEvents });
    const res = await post(app, { stream: true });
    const raw = await res.text();
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('request_timeout stops counting once content flows: a slow but live stream completes', async () => {
    // The whole stream takes ~12 × 70 ms, well past the 500 ms timeout; its first token comes at ~70 ms.
    const app = await start({ targets: [target(0, { request_timeout: 500 })] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, chunkDelayMs: 70 });
    const res = await post(app, { stream: true });
    const raw = await res.text();
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('a stream that breaks after content ends with an error event and no [DONE]; the SDK raises', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [target(0), target(1)] });
    // Paced, so the content reaches the gateway before the cut (a reset discards unread socket data).
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, cutAfter: 4, chunkDelayMs: 15 });
    const res = await post(app, { stream: true });
    const raw = await res.text();
    expect(raw).toContain('"content":"The"');
    expect(raw).not.toContain('[DONE]');
    const last = raw.trim().split('\n\n').pop()!;
    expect(JSON.parse(last.slice('data: '.length)).error.message).toMatch(/.+/);
    expect(ups[1]!.requests).toHaveLength(0); // content was already out: no silent restart

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
  });
});
