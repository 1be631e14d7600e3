/** Edges of the response cache from an adversarial review (conversions between stream and non-stream hits, /v1/messages passthrough answers, namespaces, store outages); the regressions are marked. */
import { createServer, type Server, type Socket } from 'node:net';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CacheScratch, GatewayConfig } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';

/**
 * Adversarial review of the response cache: what a hit answers, what is stored, conversions between
 * stream and non-stream answers, stores that fail.
 */
const CHAT = '/v1/chat/completions';
const TEXT = fixtureJson('openai/chat-completions.text.json');

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/embeddings', topicEmbeddings);
});

const apps: TestApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
});

let seen: CacheScratch[] = [];
async function start(options: AppOptions): Promise<{ app: TestApp; client: OpenAI }> {
  const app = await appFactories.express5!(options);
  apps.push(app);
  seen = [];
  app.gateway.internals.stages.push({ name: 'spy', after: (state) => void seen.push({ ...(state.scratch.cache as CacheScratch) }) });
  return { app, client: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }) };
}

const chatCalls = () => upstream.requests.filter((r) => r.path.startsWith(CHAT)).length;
const config = (cache: Record<string, unknown> = { mode: 'simple' }, extra: Record<string, unknown> = {}): GatewayConfig =>
  ({ cache, targets: [{ provider: 'openai', api_key: 'sk-test-upstream', custom_host: `${upstream.url}/v1` }], ...extra }) as GatewayConfig;

const sse = (chunks: object[]) => [...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'];
const head = { id: 'chatcmpl-review', object: 'chat.completion.chunk', created: 1782955818, model: 'gpt-4o-mini-2024-07-18' };
const lp = (token: string, logprob: number) => ({ token, logprob, bytes: [...Buffer.from(token)], top_logprobs: [] });

/** A stream with per-token logprobs, as OpenAI sends it for `logprobs: true`. */
const LOGPROB_STREAM = sse([
  { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: { content: [], refusal: null }, finish_reason: null }] },
  { ...head, choices: [{ index: 0, delta: { content: 'Hello' }, logprobs: { content: [lp('Hello', -0.25)], refusal: null }, finish_reason: null }] },
  { ...head, choices: [{ index: 0, delta: { content: ' world' }, logprobs: { content: [lp(' world', -1.5)], refusal: null }, finish_reason: null }] },
  { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
  { ...head, choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
]);

/** A structured-output refusal, streamed: the text comes as `delta.refusal`, `content` stays null. */
const REFUSAL_TEXT = "I'm sorry, I can't help with that.";
const REFUSAL_STREAM = sse([
  { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: null, refusal: '' }, logprobs: null, finish_reason: null }] },
  { ...head, choices: [{ index: 0, delta: { refusal: "I'm sorry, " }, logprobs: null, finish_reason: null }] },
  { ...head, choices: [{ index: 0, delta: { refusal: "I can't help with that." }, logprobs: null, finish_reason: null }] },
  { ...head, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] },
  { ...head, choices: [], usage: { prompt_tokens: 9, completion_tokens: 10, total_tokens: 19 } },
]);

const RESPONSE_FORMAT = {
  type: 'json_schema' as const,
  json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false } },
};

describe('a hit converted between stream and non-stream keeps what the client asked for', () => {
  /*
   * Regression (fixed). Expected: a non-stream request with `logprobs: true` answered from a stored stream carries the
   * stored per-token logprobs (the key includes `logprobs`, so the entry was made for exactly this).
   * Was: `choices[0].logprobs` is null. `assembleCompletion` (packages/core/src/stream/assemble.ts:38)
   * hard-codes `logprobs: null` and never reads `choice.logprobs` of the chunks.
   */
  it('logprobs survive a stored stream answering a non-stream request', async () => {
    const { client } = await start({ config: config() });
    upstream.enqueue(CHAT, { chunks: LOGPROB_STREAM });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }], logprobs: true };
    const live: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create({ ...body, stream: true })) live.push(c);
    const liveTokens = live.flatMap((c) => c.choices[0]?.logprobs?.content ?? []).map((t) => t.token);
    expect(liveTokens).toEqual(['Hello', ' world']);

    const hit = await client.chat.completions.create(body).withResponse();
    expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(chatCalls()).toBe(1);
    expect(hit.data.choices[0]!.message.content).toBe('Hello world');
    expect(hit.data.choices[0]!.logprobs?.content?.map((t) => t.token)).toEqual(['Hello', ' world']);
  });

  /*
   * Regression (fixed). Expected: a stream request with `logprobs: true` answered from a stored completion carries the
   * completion's logprobs on its content chunk(s). Actual: every chunk's `logprobs` is absent.
   * `completionToChunks` (packages/core/src/stream/assemble.ts:46-65) never copies `choice.logprobs`.
   */
  it('logprobs survive a stored completion answering a stream request', async () => {
    const { client } = await start({ config: config() });
    const withLogprobs = {
      ...TEXT,
      choices: [{ ...TEXT.choices[0], message: { role: 'assistant', content: 'Hello world', refusal: null }, logprobs: { content: [lp('Hello', -0.25), lp(' world', -1.5)], refusal: null } }],
    };
    upstream.enqueue(CHAT, { json: withLogprobs });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }], logprobs: true };
    const first = await client.chat.completions.create(body);
    expect(first.choices[0]!.logprobs?.content?.length).toBe(2);

    const { data, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
    expect(response.headers.get('x-llmux-cache')).toBe('HIT');
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of data) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello world');
    expect(chunks.flatMap((c) => c.choices[0]?.logprobs?.content ?? []).map((t) => t.token)).toEqual(['Hello', ' world']);
  });

  /*
   * Regression (fixed). Expected: a structured-output refusal stored from a stream answers the same non-stream request
   * with `message.refusal` set (what the SDK's `parse()` and every caller checks). Actual: `refusal` is
   * missing and `content` is null, so the caller gets an empty answer with finish_reason "stop".
   * `assembleCompletion` (packages/core/src/stream/assemble.ts:15-17) concatenates `delta.content` and
   * `delta.reasoning_content` only, never `delta.refusal`; `completionToChunks` likewise drops
   * `message.refusal` in the other direction.
   */
  it('a refusal survives a stored stream answering a non-stream request', async () => {
    const { client } = await start({ config: config() });
    upstream.enqueue(CHAT, { chunks: REFUSAL_STREAM });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Something refused' }], response_format: RESPONSE_FORMAT };
    let refusal = '';
    for await (const c of await client.chat.completions.create({ ...body, stream: true })) refusal += (c.choices[0]?.delta as { refusal?: string } | undefined)?.refusal ?? '';
    expect(refusal).toBe(REFUSAL_TEXT);

    const hit = await client.chat.completions.create(body).withResponse();
    expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(hit.data.choices[0]!.message.refusal).toBe(REFUSAL_TEXT);
  });

  /* Regression (fixed; same root cause, other direction): `completionToChunks` (assemble.ts:49-63) never emits `delta.refusal`; the stream client assembles "". */
  it('a refusal survives a stored completion answering a stream request', async () => {
    const { client } = await start({ config: config() });
    upstream.enqueue(CHAT, { json: { ...TEXT, choices: [{ ...TEXT.choices[0], message: { role: 'assistant', content: null, refusal: REFUSAL_TEXT } }] } });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Something refused' }], response_format: RESPONSE_FORMAT };
    const first = await client.chat.completions.create(body);
    expect(first.choices[0]!.message.refusal).toBe(REFUSAL_TEXT);

    const { data, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
    expect(response.headers.get('x-llmux-cache')).toBe('HIT');
    let refusal = '';
    for await (const c of data) refusal += (c.choices[0]?.delta as { refusal?: string } | undefined)?.refusal ?? '';
    expect(refusal).toBe(REFUSAL_TEXT);
  });
});

describe('signed thinking survives a hit converted between stream and non-stream (/v1/messages, Anthropic target)', () => {
  const THINKING_JSON = fixtureJson('anthropic/messages.thinking.json');
  const THINKING_SSE = splitSse(fixtureText('anthropic/messages.thinking.stream.sse'));
  const anthropicConfig = () =>
    ({ cache: { mode: 'simple' }, targets: [{ provider: 'anthropic', api_key: 'sk-ant-test', custom_host: `${upstream.url}/v1` }] }) as GatewayConfig;
  const ask = {
    model: 'claude-sonnet-4-20250514',
    max_tokens: 2000,
    thinking: { type: 'enabled' as const, budget_tokens: 1024 },
    messages: [{ role: 'user' as const, content: 'How do I cross a street?' }],
  };
  const signatureOf = (content: Anthropic.ContentBlock[]) => (content.find((b) => b.type === 'thinking') as Anthropic.ThinkingBlock | undefined)?.signature;

  /*
   * Regression (fixed). Expected: the thinking block of a non-stream hit carries the signature Anthropic sent (the
   * client must hand signed thinking back with its tool results, or Anthropic refuses the next turn).
   * Was: `signature` is "" (the thinking text is kept, the signature is lost). The stored stream has
   * the signature as a `thinking_blocks` delta, but `assembleCompletion`
   * (packages/core/src/stream/assemble.ts:12-25) never collects `delta.thinking_blocks`, so
   * `toMessage` (ingress/anthropic-messages/to-message.ts:29) writes `signature: ''`.
   */
  it('a stored stream answering a non-stream request keeps the thinking signature', async () => {
    const { app } = await start({ config: anthropicConfig() });
    upstream.enqueue('/v1/messages', { chunks: THINKING_SSE });
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    const live = await client.messages.stream(ask).finalMessage();
    const signature = signatureOf(live.content);
    expect(signature).toMatch(/^EvMC/);
    const hit = await client.messages.create(ask).withResponse();
    expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(upstream.requests.length).toBe(1);
    expect(signatureOf(hit.data.content)).toBe(signature);
  });

  /*
   * Regression (fixed). Expected: a stream hit from a stored non-stream answer sends the thinking block's
   * `signature_delta`. Actual: the SDK assembles a thinking block with signature "".
   * `completionToChunks` (packages/core/src/stream/assemble.ts:46-65) emits `reasoning_content` but
   * drops `message.thinking_blocks`, where the translator (providers/anthropic/translate-response.ts:47)
   * kept the signature.
   */
  it('a stored non-stream answer answering a stream request keeps the thinking signature', async () => {
    const { app } = await start({ config: anthropicConfig() });
    upstream.enqueue('/v1/messages', { json: THINKING_JSON });
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    const first = await client.messages.create(ask);
    const signature = signatureOf(first.content);
    expect(signature).toMatch(/^CAIS/);
    const stream = client.messages.stream(ask);
    const replay = await stream.finalMessage();
    expect((await stream.withResponse()).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(signatureOf(replay.content)).toBe(signature);
  });
});

describe('stores that fail', () => {
  /** A TCP server that accepts connections and never answers: a Redis that hangs (not one that is down). */
  async function blackHole(): Promise<{ url: string; close: () => Promise<void> }> {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    return {
      url: `redis://127.0.0.1:${port}`,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  it('a Redis that accepts connections but never answers turns lookups and writes into quick misses (stream and non-stream)', async () => {
    const hole = await blackHole();
    const store = createRedisStore({ url: hole.url, prefix: `llmux-review-${Date.now().toString(36)}:`, connectTimeout: 200, commandTimeout: 300 });
    try {
      const { client } = await start({ config: config(), store, cache: { timeoutMs: 100 } });
      const TEXT_STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
      upstream.route(CHAT, (req) => (req.json.stream ? { chunks: TEXT_STREAM } : { json: TEXT }));
      const t0 = Date.now();
      const first = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      const second = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      let streamed = '';
      for await (const c of await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'hi' }], stream: true })) streamed += c.choices[0]?.delta.content ?? '';
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(first.response.headers.get('x-llmux-cache')).toBe('MISS');
      expect(second.response.headers.get('x-llmux-cache')).toBe('MISS');
      expect(second.data.choices[0]!.message.content).toBe(TEXT.choices[0].message.content);
      expect(streamed.length).toBeGreaterThan(0);
      expect(seen[0]!.storeError).toMatch(/timed out|failed/);
    } finally {
      await store.close();
      await hole.close();
    }
  });
});

describe('size and cost', () => {
  it('a streamed answer over maxEntryBytes reaches the client whole and is not stored', async () => {
    const { client } = await start({ config: config(), cache: { maxEntryBytes: 4096 } });
    const pieces = Array.from({ length: 400 }, (_, i) => `word${i} `);
    const big = sse([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      ...pieces.map((p) => ({ ...head, choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })),
      { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] },
      { ...head, choices: [], usage: { prompt_tokens: 5, completion_tokens: 400, total_tokens: 405 } },
    ]);
    upstream.route(CHAT, { chunks: big });
    const run = async () => {
      const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'long' }], stream: true }).withResponse();
      let text = '';
      for await (const c of data) text += c.choices[0]?.delta.content ?? '';
      return { text, cache: response.headers.get('x-llmux-cache') };
    };
    expect(await run()).toEqual({ text: pieces.join(''), cache: 'MISS' });
    expect(seen[0]!.stored).toBe('too_large');
    expect(await run()).toEqual({ text: pieces.join(''), cache: 'MISS' });
    expect(chatCalls()).toBe(2);
  });

  it('a stream hit reports usage with cost 0 to a client that asked for usage, and is never charged to a token budget', async () => {
    const { client } = await start({ config: config({ mode: 'simple' }, { budget: { max_tokens_per_day: 80 } }) });
    upstream.enqueue(CHAT, { chunks: LOGPROB_STREAM });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }], max_tokens: 50, stream: true as const, stream_options: { include_usage: true } };
    const usages: Array<OpenAI.CompletionUsage & { cost?: number }> = [];
    for (let i = 0; i < 5; i++) {
      const { data, response } = await client.chat.completions.create(body).withResponse();
      expect(response.status).toBe(200);
      for await (const c of data) if (c.usage) usages.push(c.usage);
    }
    expect(chatCalls()).toBe(1);
    expect(usages).toHaveLength(5);
    for (const u of usages.slice(1)) expect(u).toMatchObject({ total_tokens: 11, cost: 0 });
  });
});

describe('Portkey cache headers', () => {
  /*
   * Regression (fixed). Expected: requests with different `x-portkey-cache-namespace` (the portkey-ai SDK's
   * `cacheNamespace`, which Portkey documents as the way to partition the cache, e.g. one namespace per
   * end user) never answer each other. Actual: the second namespace is served the first namespace's
   * answer (HIT, one upstream call): the header is ignored. The key (packages/core/src/cache/cache-key.ts:491-501,
   * `exactKey`) covers scope, route, model, params and messages but no namespace, and nothing reads
   * the header (`gatewayHeader(…, 'cache-namespace')` appears nowhere). A Portkey user who isolated
   * end users by namespace (with one server-side identity) leaks cached answers between them.
   */
  it('x-portkey-cache-namespace partitions the cache (portkey-ai SDK cacheNamespace)', async () => {
    const { app } = await start({ config: config() });
    upstream.enqueue(CHAT, { json: { ...TEXT, choices: [{ ...TEXT.choices[0], message: { role: 'assistant', content: 'answer for alice' } }] } });
    upstream.enqueue(CHAT, { json: { ...TEXT, choices: [{ ...TEXT.choices[0], message: { role: 'assistant', content: 'answer for bob' } }] } });
    const clientFor = (ns: string) => new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', cacheNamespace: ns, maxRetries: 0 });
    const ask = (ns: string) => clientFor(ns).chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'What is my account balance?' }] }) as Promise<any>;
    const alice = await ask('user-alice');
    const bob = await ask('user-bob');
    const aliceAgain = await ask('user-alice');
    expect(alice.choices[0].message.content).toBe('answer for alice');
    expect(aliceAgain.getHeaders()['cache-status']).toBe('HIT');
    expect(bob.getHeaders()['cache-status']).toBe('MISS');
    expect(bob.choices[0].message.content).toBe('answer for bob');
    expect(chatCalls()).toBe(2);
  });
});

describe('a stream hit on /v1/messages is the answer the live stream gave (Anthropic target)', () => {
  /*
   * Regression (fixed). Expected: a repeated /v1/messages stream to an Anthropic target replays the blocks the live
   * stream had: thinking, text, server_tool_use, bash_code_execution_tool_result, text. Actual: the hit
   * has only [thinking, text]: the server tool call and its result are gone. The live answer is the
   * upstream's own events (passthrough, ingress/anthropic-messages/handle-messages.ts:93), but the cache
   * stores the OpenAI-shaped translation (cache-stage.ts:243-245 records `outcome.chunks`), which has no
   * form for server tool blocks, and a hit is rebuilt from it (handle-messages.ts:84, "A cache hit …
   * answers in OpenAI shapes"). The same holds for a non-stream answer (`toMessage` of the translation).
   * Fix: store the Anthropic answer itself for passthrough requests (raw events / message, replayed as
   * is on /v1/messages), or do not store answers whose translation dropped blocks.
   */
  it('server tool blocks (server_tool_use, code execution result) are replayed', async () => {
    const { app } = await start({
      config: { cache: { mode: 'simple' }, targets: [{ provider: 'anthropic', api_key: 'sk-ant-test', custom_host: `${upstream.url}/v1` }] } as GatewayConfig,
    });
    upstream.route('/v1/messages', { chunks: splitSse(fixtureText('anthropic/messages.server-tool-code-execution.stream.sse')) });
    const client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
    const ask = {
      model: 'claude-sonnet-4-5',
      max_tokens: 3000,
      tools: [{ type: 'code_execution_20250825', name: 'code_execution' }] as any,
      messages: [{ role: 'user' as const, content: 'How much is 3 * 4?' }],
    };
    const live = await client.messages.stream(ask).finalMessage();
    const stream = client.messages.stream(ask);
    const replay = await stream.finalMessage();
    // Not stored (its OpenAI translation has no form for server-tool blocks): a MISS, answered whole again.
    expect((await stream.withResponse()).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(upstream.requests.filter((r) => r.path === '/v1/messages')).toHaveLength(2);
    expect(live.content.map((b) => b.type)).toContain('server_tool_use');
    expect(replay.content.map((b) => b.type)).toEqual(live.content.map((b) => b.type));
  });
});
