import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CacheScratch, GatewayConfig } from '@llmux/core';
import { cassette, fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream, type MockReply } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const TEXT = fixtureJson('openai/chat-completions.text.json');
const TEXT_STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const TOOL_STREAM = splitSse(fixtureText('openai/chat-completions.tool-call.stream-include-usage.sse'));
const CHAT = '/v1/chat/completions';

const completion = (content: string): MockReply => ({ json: { ...TEXT, choices: [{ ...TEXT.choices[0], message: { role: 'assistant', content } }] } });
const chatCalls = () => upstream.requests.filter((r) => r.path.startsWith(CHAT)).length;
/** Token counts only: the gateway adds its own `cost` to a stream's usage chunk, and a cached answer's is 0. */
const tokens = (usage: object | null | undefined) => {
  const { cost: _cost, ...rest } = (usage ?? {}) as Record<string, unknown>;
  return rest;
};

function config(cache: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}): GatewayConfig {
  return {
    ...(cache ? { cache } : {}),
    targets: [{ provider: 'openai', api_key: 'sk-test-upstream', custom_host: `${upstream.url}/v1` }],
    ...extra,
  } as GatewayConfig;
}

describe('exact cache through the OpenAI SDK (express5)', () => {
  let app: TestApp | undefined;
  let seen: CacheScratch[];
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(options: AppOptions): Promise<OpenAI> {
    app = await appFactories.express5!(options);
    seen = [];
    app.gateway.internals.stages.push({ name: 'spy', after: (state) => void seen.push({ ...(state.scratch.cache as CacheScratch) }) });
    return new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  }

  const ask = (client: OpenAI, content = 'Invent a holiday', extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content }], ...extra }, { headers }).withResponse();

  it('answers a repeated request from the cache: the upstream is called once, the hit costs 0', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.route(CHAT, { json: TEXT });
    const first = await ask(client);
    const second = await ask(client);
    expect(chatCalls()).toBe(1);
    expect(first.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(second.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(second.response.headers.get('x-portkey-cache-status')).toBe('HIT');
    expect(second.response.headers.get('x-llmux-cost')).toBe('0');
    // A hit names the provider and target that made the answer, as every response does.
    expect(second.response.headers.get('x-llmux-provider')).toBe('openai');
    expect(second.response.headers.get('x-portkey-provider')).toBe('openai');
    expect(second.response.headers.get('x-llmux-target')).toBe(first.response.headers.get('x-llmux-target'));
    expect(second.data.choices[0]!.message.content).toBe(TEXT.choices[0].message.content);
    expect(second.data.usage).toEqual(first.data.usage);
    // What the hit saved is what the miss cost, for logs and metrics.
    const firstCost = Number(first.response.headers.get('x-llmux-cost'));
    expect(firstCost).toBeGreaterThan(0);
    expect(seen[1]).toMatchObject({ status: 'HIT', mode: 'simple', provider: 'openai' });
    expect(seen[1]!.savedCost).toBeCloseTo(firstCost, 12);
    expect(seen[0]).toMatchObject({ status: 'MISS', stored: true });
  });

  it('keys on what changes the answer and ignores what does not', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.route(CHAT, { json: TEXT });
    await ask(client, 'Invent a holiday', { temperature: 0.2 });
    const sameButUser = await ask(client, 'Invent a holiday', { temperature: 0.2, user: 'someone-else' });
    expect(sameButUser.response.headers.get('x-llmux-cache')).toBe('HIT');
    for (const change of [{ temperature: 0.9 }, { temperature: 0.2, seed: 7 }, { temperature: 0.2, max_tokens: 5 }, { temperature: 0.2, response_format: { type: 'json_object' } }]) {
      const res = await ask(client, 'Invent a holiday', change);
      expect(res.response.headers.get('x-llmux-cache'), JSON.stringify(change)).toBe('MISS');
    }
    expect((await ask(client, 'Invent a holiday!', { temperature: 0.2 })).response.headers.get('x-llmux-cache')).toBe('MISS');
    const other = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Invent a holiday' }], temperature: 0.2 }).withResponse();
    expect(other.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(chatCalls()).toBe(7);
  });

  it('does not share entries across users or gateway keys unless the cache is shared', async () => {
    const identify = (req: { headers: Record<string, unknown> }) => ({ user: req.headers['x-user'] as string, key: req.headers['x-gw-key'] as string });
    let client = await start({ config: config({ mode: 'simple' }), identify: identify as never });
    upstream.route(CHAT, { json: TEXT });
    const alice = { 'x-user': 'alice', 'x-gw-key': 'k1' };
    expect((await ask(client, 'hi', {}, alice)).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await ask(client, 'hi', {}, { 'x-user': 'bob', 'x-gw-key': 'k1' })).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await ask(client, 'hi', {}, { 'x-user': 'alice', 'x-gw-key': 'k2' })).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await ask(client, 'hi', {}, alice)).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(chatCalls()).toBe(3);

    await app!.close();
    upstream.reset();
    upstream.route(CHAT, { json: TEXT });
    client = await start({ config: config({ mode: 'simple', shared: true }), identify: identify as never });
    expect((await ask(client, 'hi', {}, alice)).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await ask(client, 'hi', {}, { 'x-user': 'bob', 'x-gw-key': 'k9' })).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(chatCalls()).toBe(1);
  });

  it('expires entries after max_age', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const client = await start({ config: config({ mode: 'simple', max_age: 60 }), cache: { now: () => clock } });
    upstream.route(CHAT, { json: TEXT });
    expect((await ask(client)).response.headers.get('x-llmux-cache')).toBe('MISS');
    clock += 59_000;
    expect((await ask(client)).response.headers.get('x-llmux-cache')).toBe('HIT');
    clock += 2_000;
    expect((await ask(client)).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(chatCalls()).toBe(2);
  });

  it('force-refresh bypasses the lookup and rewrites the entry, under both header names', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.enqueue(CHAT, completion('first'), completion('second'), completion('third'));
    expect((await ask(client)).data.choices[0]!.message.content).toBe('first');
    const refreshed = await ask(client, undefined, {}, { 'x-llmux-cache-force-refresh': 'true' });
    expect(refreshed.response.headers.get('x-llmux-cache')).toBe('REFRESH');
    expect(refreshed.data.choices[0]!.message.content).toBe('second');
    const hit = await ask(client);
    expect(hit.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(hit.data.choices[0]!.message.content).toBe('second');
    const portkey = await ask(client, undefined, {}, { 'x-portkey-cache-force-refresh': 'true' });
    expect(portkey.data.choices[0]!.message.content).toBe('third');
    expect((await ask(client)).data.choices[0]!.message.content).toBe('third');
    expect(chatCalls()).toBe(3);
  });

  it('never stores an error answer', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.enqueue(CHAT, { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } }, { json: TEXT });
    await expect(ask(client)).rejects.toMatchObject({ status: 503 });
    const second = await ask(client);
    expect(second.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await ask(client)).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(chatCalls()).toBe(2);
  });

  it('never stores a stream that was cut mid-way', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.enqueue(CHAT, { chunks: TEXT_STREAM, cutAfter: 4, chunkDelayMs: 15 }, { chunks: TEXT_STREAM });
    const cut = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'capital?' }], stream: true });
    await expect(async () => {
      for await (const _ of cut) void _;
    }).rejects.toThrow();
    const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'capital?' }], stream: true }).withResponse();
    expect(whole.response.headers.get('x-llmux-cache')).toBe('MISS');
    for await (const _ of whole.data) void _;
    expect(chatCalls()).toBe(2);
    expect(seen[0]?.stored).toBeUndefined();
    expect(seen[1]?.stored).toBe(true);
  });

  it('replays a cached stream as SSE the SDK assembles to the same tool calls and usage', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.enqueue(CHAT, { chunks: TOOL_STREAM });
    const request = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: 'What is the capital of France?' }],
      tools: [{ type: 'function' as const, function: { name: 'get_capital', parameters: { type: 'object', properties: { country: { type: 'string' } } } } }],
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const collect = async () => {
      const { data, response } = await client.chat.completions.create(request).withResponse();
      const chunks = [];
      for await (const c of data) chunks.push(c);
      const args = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      return {
        status: response.headers.get('x-llmux-cache'),
        count: chunks.length,
        ids: args.map((t) => t.id).filter(Boolean),
        names: args.map((t) => t.function?.name).filter(Boolean),
        args: args.map((t) => t.function?.arguments ?? '').join(''),
        finish: chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean),
        usage: chunks.find((c) => c.usage)?.usage,
      };
    };
    const live = await collect();
    const replay = await collect();
    expect(chatCalls()).toBe(1);
    expect(live.status).toBe('MISS');
    expect(replay.status).toBe('HIT');
    expect({ ...replay, usage: tokens(replay.usage) }).toEqual({ ...live, status: 'HIT', usage: tokens(live.usage) });
    expect((replay.usage as { cost?: number }).cost ?? 0).toBe(0);
    expect(JSON.parse(replay.args)).toEqual({ country: 'UK' });
    expect(replay.usage?.total_tokens).toBeGreaterThan(0);

    // On the wire: one `data:` event per chunk, closed by [DONE].
    const raw = await fetch(`${app!.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    expect(raw.headers.get('content-type')).toMatch(/text\/event-stream/);
    const events = (await raw.text()).split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    expect(events.slice(0, -1).every((e) => e.startsWith('data: {'))).toBe(true);
    expect(events.length - 1).toBe(live.count);
  });

  it('answers a non-stream request from a stored stream, and a stream from a stored answer', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.enqueue(CHAT, { chunks: TEXT_STREAM }, { json: TEXT });
    const messages = [{ role: 'user' as const, content: 'capital?' }];
    let streamed = '';
    for await (const c of await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })) streamed += c.choices[0]?.delta.content ?? '';
    const fromStream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse();
    expect(fromStream.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(fromStream.data.choices[0]!.message.content).toBe(streamed);
    expect(fromStream.data.usage?.total_tokens).toBeGreaterThan(0);

    const answered = await ask(client, 'Invent a holiday');
    const asStream = await client.chat.completions
      .create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Invent a holiday' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(asStream.response.headers.get('x-llmux-cache')).toBe('HIT');
    let text = '';
    let usage;
    for await (const c of asStream.data) {
      text += c.choices[0]?.delta.content ?? '';
      usage ??= c.usage ?? undefined;
    }
    expect(text).toBe(answered.data.choices[0]!.message.content);
    expect(tokens(usage)).toEqual(tokens(answered.data.usage));
    expect(chatCalls()).toBe(2);
  });

  it('carries tool calls across modes: a stored tool-call stream answers a non-stream request, a stored tool-call answer a stream', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    const tools = [{ type: 'function' as const, function: { name: 'get_capital', parameters: { type: 'object', properties: { country: { type: 'string' } } } } }];
    upstream.enqueue(CHAT, { chunks: TOOL_STREAM });
    const first = [{ role: 'user' as const, content: 'What is the capital of the UK?' }];
    const live = [];
    for await (const c of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: first, tools, stream: true })) live.push(c);
    const liveCalls = live.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    const fromStream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: first, tools }).withResponse();
    expect(fromStream.response.headers.get('x-llmux-cache')).toBe('HIT');
    const message = fromStream.data.choices[0]!.message;
    expect(fromStream.data.choices[0]!.finish_reason).toBe('tool_calls');
    expect(message.tool_calls).toEqual([
      {
        id: liveCalls.find((t) => t.id)!.id,
        type: 'function',
        function: { name: 'get_capital', arguments: liveCalls.map((t) => t.function?.arguments ?? '').join('') },
      },
    ]);
    expect(JSON.parse((message.tool_calls![0] as { function: { arguments: string } }).function.arguments)).toEqual({ country: 'UK' });

    const recorded = cassette('openai/chat-completions.tool-call.cassette.yaml')[0]!.response.parsed_body as OpenAI.ChatCompletion;
    upstream.enqueue(CHAT, { json: recorded });
    const second = [{ role: 'user' as const, content: 'Weather in Paris?' }];
    await client.chat.completions.create({ model: 'gpt-5-mini', messages: second, tools });
    const replay = await client.chat.completions.create({ model: 'gpt-5-mini', messages: second, tools, stream: true }).withResponse();
    expect(replay.response.headers.get('x-llmux-cache')).toBe('HIT');
    const assembled = [];
    for await (const c of replay.data) assembled.push(c);
    const calls = assembled.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls.map((t) => [t.index, t.id, t.function?.name, t.function?.arguments])).toEqual([
      [0, 'call_aDdJTteHrpMdhdkEkyxjxEHH', 'get_weather', '{"city":"Paris"}'],
    ]);
    expect(assembled.map((c) => c.choices[0]?.finish_reason).filter(Boolean)).toEqual(['tool_calls']);
    expect(chatCalls()).toBe(2);
  });

  it('leaves the usage chunk out of a replay for a client that did not ask for it', async () => {
    const client = await start({ config: config({ mode: 'simple' }) });
    upstream.enqueue(CHAT, { chunks: TEXT_STREAM });
    const messages = [{ role: 'user' as const, content: 'capital?' }];
    for await (const _ of await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })) void _;
    const chunks = [];
    for await (const c of await client.chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true })) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chatCalls()).toBe(1);
  });

  it('caches /v1/messages (Anthropic format in) like chat completions', async () => {
    await start({ config: config({ mode: 'simple' }) });
    upstream.route(CHAT, { json: TEXT });
    const send = () =>
      fetch(`${app!.gatewayURL}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'gpt-4.1-nano', max_tokens: 100, messages: [{ role: 'user', content: 'Invent a holiday' }] }),
      });
    const first = await send();
    const second = await send();
    expect(first.headers.get('x-llmux-cache')).toBe('MISS');
    expect(second.headers.get('x-llmux-cache')).toBe('HIT');
    const [a, b] = [await first.json(), await second.json()];
    expect(b.content).toEqual(a.content);
    expect(b.content[0].text).toBe(TEXT.choices[0].message.content);
    expect(chatCalls()).toBe(1);
  });

  it('says DISABLED without a cache, and takes a cache set on the first target', async () => {
    let client = await start({ config: config(undefined) });
    upstream.route(CHAT, { json: TEXT });
    expect((await ask(client)).response.headers.get('x-llmux-cache')).toBe('DISABLED');
    expect((await ask(client)).response.headers.get('x-llmux-cache')).toBe('DISABLED');
    expect(chatCalls()).toBe(2);
    await app!.close();
    client = await start({
      config: {
        strategy: { mode: 'fallback' },
        targets: [
          { provider: 'openai', api_key: 'sk-test', custom_host: `${upstream.url}/v1`, cache: { mode: 'simple' } },
          { provider: 'openai', api_key: 'sk-test', custom_host: `${upstream.url}/v1` },
        ],
      } as GatewayConfig,
    });
    await ask(client);
    expect((await ask(client)).response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(chatCalls()).toBe(3);
  });
});
