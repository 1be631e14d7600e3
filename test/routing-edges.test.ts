/** Routing and resilience edges found by a review (retry defaults, weight 0, retried targets, token caps); each regression is marked. */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayConfig } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText, chatRequest } from './helpers/observe.js';

const ups: MockUpstream[] = [];
const apps: TestApp[] = [];
const gateways: Gateway[] = [];
const sleeps: number[] = [];
const CHAT = '/v1/chat/completions';
const MESSAGES = '/v1/messages';
const completion = fixtureJson('openai/chat-completions.text.json');
const streamEvents = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const anthropicMessage = fixtureJson('anthropic/messages.text.json');
const anthropicStream = splitSse(fixtureText('anthropic/messages.text.stream.sse'));
const overloaded = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };

beforeAll(async () => {
  for (let i = 0; i < 3; i++) ups.push(await startMockUpstream());
});
afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  await Promise.all(gateways.map((g) => g.close(100)));
  await Promise.all(ups.map((u) => u.close()));
});
beforeEach(() => {
  for (const u of ups) u.reset();
  sleeps.length = 0;
});

const oai = (i: number, extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: `sk-up-${i}`, custom_host: `${ups[i]!.url}/v1`, ...extra });
const ant = (i: number, extra: Record<string, unknown> = {}) => ({ provider: 'anthropic', api_key: `sk-ant-up-${i}`, custom_host: `${ups[i]!.url}/v1`, ...extra });

async function start(config: GatewayConfig, options: AppOptions = {}): Promise<TestApp> {
  const app = await appFactories.express5!({
    config,
    routing: { sleep: async (ms: number) => void sleeps.push(ms) },
    ...options,
  });
  apps.push(app);
  return app;
}

function gw(config: GatewayConfig, options: Record<string, unknown> = {}): Gateway {
  const g = createGateway({ config, routing: { sleep: async (ms: number) => void sleeps.push(ms) }, ...options });
  gateways.push(g);
  return g;
}

const sdk = (app: TestApp) => new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
const hi = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('retries', () => {
  // Regression (fixed). Expected (README "Routing": retry `on_status_codes` "default 429/5xx"): Anthropic's 529
  // overloaded_error — its commonest transient failure — is retried. Was: one request, no retry; the
  // client gets the 529. Same for an `event: error` overloaded_error before the first token (status 529).
  // Diagnosis: router/retry-policy.ts:5 DEFAULT_RETRY_STATUSES = [429, 500, 502, 503, 504] leaves out
  // every other 5xx (Anthropic 529 above all), while the breaker counts all >= 500 (breaker.ts:59).
  it('retries an Anthropic 529 overloaded_error (a 5xx) by default', async () => {
    const app = await start({ targets: [ant(0, { retry: { attempts: 2 } })] });
    ups[0]!.enqueue(MESSAGES, { status: 529, json: overloaded }, { json: anthropicMessage });
    const res = await sdk(app).chat.completions.create({ ...hi, model: 'claude-sonnet-4-5' }).withResponse().catch((e) => e);
    expect(ups[0]!.requests).toHaveLength(2);
    expect(res.data?.choices[0]?.message.content).toBe(anthropicMessage.content[0].text);
  });

  it('retries an Anthropic stream whose overloaded_error event comes before the first token', async () => {
    const app = await start({ targets: [ant(0, { retry: { attempts: 1 } })] });
    ups[0]!.enqueue(MESSAGES, { chunks: [anthropicStream[0]!, `event: error\ndata: ${JSON.stringify(overloaded)}\n\n`] }, { chunks: anthropicStream });
    const stream = await sdk(app).chat.completions.create({ ...hi, model: 'claude-sonnet-4-5', stream: true }).catch((e) => e);
    let text = '';
    if (stream && Symbol.asyncIterator in stream) for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(ups[0]!.requests).toHaveLength(2);
    expect(text).toBe('2');
  });
});

describe('streams and deadline', () => {
  it('the overall deadline stops at the first token: a live stream longer than the deadline completes', async () => {
    const g = gw({ deadline: 300, targets: [oai(0)] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, chunkDelayMs: 80 });
    const res = await g.handle(chatRequest({ stream: true }));
    expect(res.status).toBe(200);
    const raw = await bodyText(res);
    expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('an Anthropic stream cut after content ends with an error event, never [DONE]; the SDK raises', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [ant(0), oai(1)] });
    // message_start, content_block_start, ping, one delta, then a clean close (no message_stop).
    ups[0]!.enqueue(MESSAGES, { chunks: anthropicStream.slice(0, 4), chunkDelayMs: 10 });
    const stream = await sdk(app).chat.completions.create({ ...hi, model: 'claude-sonnet-4-5', stream: true });
    let text = '';
    await expect(
      (async () => {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      })(),
    ).rejects.toThrow();
    expect(text).toBe('2');
    expect(ups[1]!.requests).toHaveLength(0);
  });
});

describe('circuit breaker', () => {
  // Regression (fixed). Expected (upstream-failures.test.ts "loadbalance never picks a target of weight 0"; Portkey: weight 0
  // takes no traffic — the way operators drain a deployment): the drained target gets nothing. Was: once
  // the weight-1 target's circuit opens, every request goes to the weight-0 target.
  // Diagnosis: router/weighted.ts:29 `if (candidates.length <= 1) return candidates[0]` (and :38 `total <= 0
  // → candidates[0]`) ignore weight when runLoadbalance (router/execute.ts:84) filters out the open circuit.
  it('a loadbalance target of weight 0 takes no traffic, even while the other target’s circuit is open', async () => {
    const app = await start({
      strategy: { mode: 'loadbalance' },
      circuit_breaker: { failure_threshold: 1, cooldown: 60 },
      targets: [oai(0, { weight: 0 }), oai(1, { weight: 1 })],
    });
    ups[1]!.route(CHAT, { status: 503, json: { error: { message: 'down', type: 'server_error' } } });
    ups[0]!.route(CHAT, { json: completion });
    const post = () => fetch(`${app.gatewayURL}${CHAT}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(hi) });
    expect((await post()).status).toBe(503);
    const second = await post();
    expect(ups[0]!.requests).toHaveLength(0);
    expect(second.status).toBe(503);
    expect(second.headers.get('x-llmux-target')).not.toBe('config.targets[0]');
  });

  it('stream failures before the first token count toward the circuit', async () => {
    let now = 1_000_000;
    const g = gw(
      { strategy: { mode: 'fallback' }, circuit_breaker: { failure_threshold: 2, cooldown: 30 }, targets: [oai(0), oai(1)] },
      { routing: { now: () => now, sleep: async () => {} } },
    );
    ups[0]!.route(CHAT, { status: 503, json: { error: { message: 'down' } } });
    ups[1]!.route(CHAT, { chunks: streamEvents });
    for (let i = 0; i < 3; i++) {
      const res = await g.handle(chatRequest({ stream: true }));
      expect(res.status).toBe(200);
      await bodyText(res);
    }
    expect(ups[0]!.requests).toHaveLength(2);
    now += 31_000;
    ups[0]!.reset();
    ups[0]!.route(CHAT, { chunks: streamEvents });
    const res = await g.handle(chatRequest({ stream: true }));
    expect(res.headers['x-llmux-target']).toBe('config.targets[0]');
  });
});

describe('timeouts and error headers', () => {
  // Regression (fixed). Expected: one target retried (503, then 429 with Retry-After: 30) answers the last attempt's 429 with
  // Retry-After: 30, so the SDK raises RateLimitError and backs off. Was: 502 all_targets_failed
  // "All 2 attempts failed — config.targets[0]: 503 down; config.targets[0]: 429 slow down", no
  // Retry-After; the SDK (maxRetries 2 by default) retries a 502 at once, hammering a rate-limited upstream.
  // Diagnosis: router/run-target.ts:64 notes every retry of one target as a separate failure, and
  // router/final-error.ts:41-63 treats differing statuses of the same target as "targets failed
  // differently" → 502 (DESIGN: "all targets failing is 502 (or the provider's own status)").
  it('a 429 whose Retry-After is past the bound reaches the client with that Retry-After, the retries made and the target', async () => {
    const app = await start({ targets: [oai(0, { retry: { attempts: 2 } })] });
    ups[0]!.enqueue(CHAT, { status: 503, json: { error: { message: 'down', type: 'server_error' } } });
    ups[0]!.enqueue(CHAT, { status: 429, headers: { 'retry-after': '30' }, json: { error: { message: 'slow down', type: 'rate_limit_error', code: 'rate_limit_exceeded' } } });
    const err = await sdk(app).chat.completions.create(hi).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.headers.get('retry-after')).toBe('30');
    expect(err.headers.get('x-llmux-retries')).toBe('1');
    expect(err.headers.get('x-llmux-target')).toBe('config.targets[0]');
    expect(ups[0]!.requests).toHaveLength(2);
  });

  it('a stream whose every target fails before the first token answers a plain error status, not a 200 stream', async () => {
    const g = gw({ strategy: { mode: 'fallback' }, targets: [oai(0), oai(1)] });
    ups[0]!.enqueue(CHAT, { chunks: streamEvents, cutAfter: 1 });
    ups[1]!.enqueue(CHAT, { status: 503, json: { error: { message: 'down' } } });
    const res = await g.handle(chatRequest({ stream: true }));
    expect(res.status).toBe(502);
    expect((res.body as any).error.attempts).toHaveLength(2);
    expect(res.headers['x-llmux-target']).toBe('config.targets[1]');
  });
});

describe('override_params', () => {
  // Regression (fixed). Expected: the operator's cap (override_params.max_tokens = 50) is the one limit sent upstream.
  // Was: the body carries max_tokens: 50 AND the SDK's max_completion_tokens: 4000; OpenAI answers
  // 400 invalid_parameter_combination ("Setting 'max_tokens' and 'max_completion_tokens' at the same time
  // is not supported"), so every request from a current OpenAI SDK user fails (the mock does the same).
  // Diagnosis: packages/core/src/providers/openai-compatible/provider.ts:78-83 (withParams) spreads the
  // overrides over the body without the rule providers/with-overrides.ts:14 applies for the other providers.
  it('an operator max_tokens cap on an OpenAI target is not sent beside the SDK’s max_completion_tokens', async () => {
    const app = await start({ targets: [oai(0, { override_params: { max_tokens: 50 } })] });
    ups[0]!.route(CHAT, (req) =>
      req.json.max_tokens !== undefined && req.json.max_completion_tokens !== undefined
        ? {
            status: 400,
            json: {
              error: {
                message: "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.",
                type: 'invalid_request_error',
                code: 'invalid_parameter_combination',
                param: 'max_tokens',
              },
            },
          }
        : { json: completion },
    );
    const res = await sdk(app).chat.completions.create({ ...hi, max_completion_tokens: 4000 }).catch((e) => e);
    const sent = ups[0]!.requests[0]!.json;
    expect([sent.max_tokens, sent.max_completion_tokens].filter((v) => v !== undefined)).toEqual([50]);
    expect(res.choices?.[0]?.message.content).toBe(completion.choices[0].message.content);
  });

  it('an operator max_completion_tokens cap replaces a client max_tokens the same way', async () => {
    const app = await start({ targets: [oai(0, { override_params: { max_completion_tokens: 60 } })] });
    ups[0]!.route(CHAT, { json: completion });
    await sdk(app).chat.completions.create({ ...hi, max_tokens: 4000 });
    const sent = ups[0]!.requests[0]!.json;
    expect(sent.max_completion_tokens).toBe(60);
    expect(sent).not.toHaveProperty('max_tokens');
  });
});
