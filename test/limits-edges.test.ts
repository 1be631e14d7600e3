/**
 * Edges from an adversarial review: budgets and rate limits (memory store and @llmux/redis).
 *
 * The regressions are marked; each says what was expected and what happened before the fix.
 * The passing ones cover settlement paths no other test reaches (Nest's GatewayService.stream,
 * /v1/messages streams, a client leaving while the gateway still holds the stream back).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { GatewayService } from '@llmux/nestjs';
import { appFactories } from './helpers/apps.js';
import { startMockUpstream, sleep, type MockUpstream } from './helpers/mock-upstream.js';
import { startRedisProxy } from './helpers/redis-proxy.js';
import { until } from './helpers/until.js';

/** $1 per output token, input free: token counts and dollars at once. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const completion = (completionTokens: number, promptTokens = 5, model = 'budget-model') => ({
  id: 'x',
  object: 'chat.completion',
  created: 1,
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
});
const sse = (delta: object) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`;
const usageSse = (n: number) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'budget-model', choices: [], usage: { prompt_tokens: 5, completion_tokens: n, total_tokens: 5 + n } })}\n\n`;
const streamOf = (n: number) => [sse({ role: 'assistant', content: '' }), sse({ content: 'Hello' }), sse({ content: ' world' }), usageSse(n), 'data: [DONE]\n\n'];

let upstream: MockUpstream;
const cleanups: Array<() => Promise<unknown> | unknown> = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  upstream.reset();
});

const uniquePrefix = () => `llmux-review-limits:${crypto.randomUUID()}:`;
const openaiTarget = () => ({ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` });
const chat = (body: object = {}, headers: Record<string, string> = {}, signal?: AbortSignal) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers,
  body: { model: 'budget-model', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], ...body },
  ...(signal ? { signal } : {}),
});
async function usage(gateway: Gateway): Promise<any> {
  const res = await gateway.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin' } });
  expect(res.status).toBe(200);
  return res.body;
}
function gatewayWith(options: Parameters<typeof createGateway>[0]): Gateway {
  const gateway = createGateway({ adminKey: 'admin', ...options });
  cleanups.push(() => gateway.close(500));
  return gateway;
}

describe('reservations that outlive their request', () => {
  it('an admission that timed out on a slow Redis (503) leaves no reservation behind: the next request is admitted', async () => {
    // Regression (fixed). Expected: the request refused with 503 (store_unavailable) never reached the upstream and
    // holds nothing; once Redis answers again, the next request fits the budget ($3 spent + $10 ≤ $15).
    // Was: 402 "budget exceeded: … $10 more is reserved by requests in flight" — with nothing in
    // flight — and /usage shows reserved: 10 for the next 10 minutes (reservationTtl).
    // Diagnosis: packages/redis/src/limits.ts:67 bounds the ADMIT script with withTimeout, but "the
    // command itself is not recalled" (timeout.ts:5): Redis still runs it and reserves the worst case
    // (limits-scripts.ts ADMIT, HSET r:<id> / HINCRBY reserved) and adds the window entries. The
    // caller, packages/core/src/limits/limits-stage.ts:69-75, turns the timeout into a 503 and drops
    // the claims, so nothing ever settles or releases that reservation; it blocks the budget until it
    // expires. Same with failMode 'open' (limits.ts:69): admitted "unchecked", yet the late ADMIT still
    // reserves. Under a Redis latency spike every timed-out admission fills the budget with phantoms.
    // Fix: on an admit failure that is not an ErrorReply, fire a background `store.release(request)`
    // (settle with zero amounts, idempotent; on the same connection it runs after the late ADMIT), and
    // remove the window entries of that id too (or settle them to 0 for token windows).
    upstream.route('/v1/chat/completions', { json: completion(3) });
    const proxy = await startRedisProxy();
    cleanups.push(() => proxy.close());
    const store = createRedisStore({ url: proxy.url, prefix: uniquePrefix(), commandTimeout: 400 });
    const gateway = gatewayWith({ pricing, store, config: { targets: [openaiTarget()], budget: { max_cost_per_day: 15 } } });
    await store.ready;
    expect((await gateway.handle(chat())).status).toBe(200); // $3 spent, scripts loaded
    proxy.delayReplies(1200);
    const slow = await gateway.handle(chat());
    expect(slow.status).toBe(503);
    proxy.delayReplies(0);
    await sleep(1500); // the late reply has come and gone
    expect(upstream.requests).toHaveLength(1);
    const next = await gateway.handle(chat());
    expect({ status: next.status, reserved: (await usage(gateway)).budgets[0].reserved }).toEqual({ status: 200, reserved: 0 });
  });
});

describe('the input bound budgets reserve must not undercount', () => {
  it('/v1/messages: text in Anthropic-only blocks (search_result) sent to an Anthropic target is reserved for, so concurrent requests stay within the budget', async () => {
    // Regression (fixed). Expected (docs/budgets-and-limits.md "Reserve, then settle"; README "concurrent requests
    // never overshoot"): the reservation bounds the input by its UTF-8 length, so with $1 per input
    // token and a $100 budget a request carrying 1 200 bytes of search-result text is refused (402)
    // and nothing is spent beyond the budget.
    // Was: every one of 5 concurrent requests is admitted (each reserves ~$18 for "Summarize."
    // alone), the Anthropic upstream bills 310 input tokens each, and the budget ends at $1 550 of $100.
    // Diagnosis: ingress/anthropic-messages/to-chat-request.ts:21-25 and :258 moves blocks only Anthropic
    // understands (search_result, document sources of type "content", server tools…) into
    // body.anthropic_extras.dropped, and the passthrough (passthrough.ts upstreamBody) sends the
    // client's original body, those blocks included, to Anthropic targets; but
    // limits/estimate.ts:43-66 estimateInputTokens reads only messages/tools/functions/response_format,
    // never anthropic_extras, so that text is reserved as 0 tokens.
    // Fix: in estimateInputTokens add utf8Length(JSON.stringify(body.anthropic_extras)) when present
    // (or estimate /v1/messages from the original Anthropic body).
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(27).slice(0, 1200);
    upstream.route('/v1/messages', {
      json: {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude-review',
        content: [{ type: 'text', text: 'A fox.' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 310, output_tokens: 3 },
      },
    });
    const gateway = gatewayWith({
      pricing: { 'claude-review': { input: 1_000_000, output: 0 } },
      config: { targets: [{ provider: 'anthropic', api_key: 'sk-ant-upstream', custom_host: `${upstream.url}/v1` }], budget: { max_cost_per_day: 100 } },
    });
    const body = {
      model: 'claude-review',
      max_tokens: 16,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'search_result', source: 'https://example.com/fox', title: 'Fox', content: [{ type: 'text', text }] },
            { type: 'text', text: 'Summarize.' },
          ],
        },
      ],
    };
    const responses = await Promise.all(Array.from({ length: 5 }, () => gateway.handle({ method: 'POST', path: '/v1/messages', headers: {}, body })));
    // What reached the upstream carried the block (the passthrough sends the client's body as is).
    for (const r of upstream.requests) expect(r.json.messages[0].content[0].type).toBe('search_result');
    const [row] = (await usage(gateway)).budgets;
    expect({ statuses: responses.map((r) => r.status).sort(), overspent: row.spent > row.limit }).toEqual({ statuses: [402, 402, 402, 402, 402], overspent: false });
  });

  it("a legacy assistant function_call's arguments count toward the reservation, so concurrent requests stay within the budget", async () => {
    // Regression (fixed). Expected: the arguments of an assistant turn's `function_call` (OpenAI's deprecated but
    // accepted form, passed through to OpenAI-compatible targets as sent) are input text like
    // `tool_calls`' and are bounded by their UTF-8 length: a request carrying 1 208 bytes there
    // reserves more than a $400 budget holds ($1 per input token), so none of 4 concurrent ones can
    // overspend it.
    // Was: each reserves $132 (the 1 208 bytes of arguments count as 0), 3 of the 4 are admitted,
    // each bills 330 input tokens: $990 spent of $400.
    // Diagnosis: limits/estimate.ts:47-53 counts msg.content, msg.tool_calls and msg.name, not
    // msg.function_call (nor any other message field the loose schema lets through to the upstream).
    // Fix: count msg.function_call (JSON length) beside tool_calls — more robustly, bound each message
    // by the UTF-8 length of its JSON minus the media parts counted apart.
    upstream.route('/v1/chat/completions', { json: completion(0, 330) });
    const gateway = gatewayWith({
      pricing: { 'budget-model': { input: 1_000_000, output: 0 } },
      config: { targets: [openaiTarget()], budget: { max_cost_per_day: 400 } },
    });
    const body = {
      max_tokens: 1,
      functions: [{ name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
      messages: [
        { role: 'user', content: 'Look it up.' },
        { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: JSON.stringify({ q: 'z'.repeat(1200) }) } },
        { role: 'function', name: 'lookup', content: 'done' },
      ],
    };
    await Promise.all(Array.from({ length: 4 }, () => gateway.handle(chat(body))));
    for (const r of upstream.requests) expect(r.json.messages[1].function_call.arguments).toHaveLength(1208);
    const [row] = (await usage(gateway)).budgets;
    expect(row.spent).toBeLessThanOrEqual(row.limit);
  });

  it('an image part on gpt-4o-mini is reserved for what OpenAI bills for it, so concurrent image requests stay within the budget', async () => {
    // Regression (fixed). Expected: estimate.ts:10 says 2 000 tokens per image is "above what one high-detail image
    // costs at OpenAI or Anthropic". It is not: gpt-4o-mini bills images at 2 833 base + 5 667 per
    // 512px tile (a 1024×1024 high-detail image is 25 501 prompt tokens; even a low-detail one is
    // 2 833), gpt-4.1-mini up to 1 536 × 1.62 = 2 488. With a $0.0012 budget, 3 concurrent
    // single-image requests must not spend ~10× the budget.
    // Was: each reserves 2 021 input tokens ($0.0003), all 3 are admitted, each bills 25 514
    // prompt tokens: $0.0115 spent of $0.0012.
    // Diagnosis: limits/estimate.ts:11 MEDIA_PART_TOKENS = 2_000 is a flat count per media part
    // (estimate.ts:36), independent of the model, below real per-image bills.
    // Fix: a per-provider/model media bound (48 169 covers gpt-4o-mini's largest high-detail image;
    // files/PDFs need a bound from their byte length), or at least a `limitOptions.mediaPartTokens`.
    upstream.route('/v1/chat/completions', { json: completion(1, 25_514, 'gpt-4o-mini') });
    const gateway = gatewayWith({
      pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
      config: { targets: [openaiTarget()], budget: { max_cost_per_day: 0.0012 } },
    });
    const body = {
      model: 'gpt-4o-mini',
      max_tokens: 1,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat-1024x1024.png', detail: 'high' } },
          ],
        },
      ],
    };
    await Promise.all(Array.from({ length: 3 }, () => gateway.handle(chat(body))));
    const [row] = (await usage(gateway)).budgets;
    expect(row.spent).toBeLessThanOrEqual(row.limit);
  });
});

describe('429 headers', () => {
  for (const kind of ['memory', 'redis'] as const) {
    it(`${kind}: a 429 from the token window still carries the scope's x-ratelimit-*-requests headers`, async () => {
      // Regression (fixed, minor). Expected (DESIGN "Rate-limited and budgeted scopes add x-ratelimit-limit-requests,
      // x-ratelimit-remaining-requests and Retry-After where it applies"; docs: "Refused → 429 … with
      // Retry-After, retry-after-ms and the same headers"; refusals.ts:58 on the 402: "as every answer
      // of a rate-limited scope does"): a scope limited to 100 requests and 40 tokens per minute that
      // refuses on tokens still tells the client its request budget (limit 100, 99 remaining).
      // Was: the 429 carries only x-ratelimit-*-tokens; x-ratelimit-limit-requests is absent, so a
      // client pacing itself on those headers loses them exactly when it is throttled.
      // Diagnosis: limits/refusals.ts:25-31 rateLimited() writes the headers of the refusing window only
      // and the store's window refusal (memory/limits.ts admit, limits-scripts.ts ADMIT) returns no
      // state of the other windows.
      // Fix: return every window's state with a window refusal too (as the counter refusal does) and
      // build the 429's headers with rateHeaders(claims.windows, denial.windows, …), then overwrite the
      // refusing metric's headers.
      upstream.route('/v1/chat/completions', { json: completion(25, 5) });
      const gateway = gatewayWith({
        pricing,
        ...(kind === 'redis' ? { store: createRedisStore({ prefix: uniquePrefix() }) } : {}),
        config: { targets: [openaiTarget()], rate_limit: { requests_per_minute: 100, tokens_per_minute: 40 } },
      });
      const first = await gateway.handle(chat()); // bound 10 in + 10 out = 20 tokens; settles at 30
      expect(first.status).toBe(200);
      expect(first.headers['x-ratelimit-limit-requests']).toBe('100');
      const refused = await gateway.handle(chat()); // 30 + 20 > 40
      expect(refused.status).toBe(429);
      expect(refused.headers['x-ratelimit-limit-tokens']).toBe('40');
      expect({
        limit: refused.headers['x-ratelimit-limit-requests'],
        remaining: refused.headers['x-ratelimit-remaining-requests'],
      }).toEqual({ limit: '100', remaining: '99' });
    });
  }
});

describe('streams settle however they end (covered nowhere else)', () => {
  it("NestJS GatewayService.stream unsubscribed after the first chunk settles at the reservation and frees it", async () => {
    upstream.route('/v1/chat/completions', { chunks: streamOf(3), chunkDelayMs: 100 });
    const gateway = gatewayWith({ pricing, config: { targets: [openaiTarget()], budget: { max_cost_per_day: 100 } } });
    const service = new GatewayService(gateway);
    await new Promise<void>((resolve, reject) => {
      const sub = service.stream({ model: 'budget-model', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] } as never).subscribe({
        next: () => {
          sub.unsubscribe();
          resolve();
        },
        error: reject,
      });
    });
    let row: any;
    for (let i = 0; i < 100; i++) {
      row = (await usage(gateway)).budgets[0];
      if (row.reserved === 0) break;
      await sleep(20);
    }
    // Left before the usage chunk: charged the reserved worst case (10 output tokens at $1).
    expect(row).toMatchObject({ spent: 10, reserved: 0 });
  });

  it('/v1/messages: a client that leaves mid-stream is charged the reservation, which is then freed', async () => {
    upstream.route('/v1/chat/completions', { chunks: streamOf(3), chunkDelayMs: 100 });
    const gateway = gatewayWith({ pricing, config: { targets: [openaiTarget()], budget: { max_cost_per_day: 100 } } });
    const controller = new AbortController();
    const res = await gateway.handle({
      method: 'POST',
      path: '/v1/messages',
      headers: {},
      body: { model: 'budget-model', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const iterator = (res.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort();
    await iterator.return?.();
    let row: any;
    for (let i = 0; i < 100; i++) {
      row = (await usage(gateway)).budgets[0];
      if (row.reserved === 0) break;
      await sleep(20);
    }
    expect(row).toMatchObject({ spent: 10, reserved: 0 });
  });

  it('Koa: a client that leaves while the gateway holds the stream back (before any content) costs nothing and frees its reservation', async () => {
    upstream.route('/v1/chat/completions', {
      chunks: [sse({ role: 'assistant', content: '' }), sse({ content: 'Hello' }), usageSse(3), 'data: [DONE]\n\n'],
      chunkDelayMs: 800,
    });
    const app = await appFactories.koa3!({ pricing, adminKey: 'admin', config: { targets: [openaiTarget()], budget: { max_cost_per_day: 100 } } } as never);
    cleanups.push(() => app.close());
    const controller = new AbortController();
    const pending = fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'budget-model', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: controller.signal,
    }).catch(() => undefined);
    await until(() => upstream.requests.length === 1);
    await sleep(200);
    controller.abort();
    await pending;
    let row: any;
    for (let i = 0; i < 150; i++) {
      row = (await usage(app.gateway)).budgets[0];
      if (row.reserved === 0) break;
      await sleep(20);
    }
    expect(row).toMatchObject({ spent: 0, reserved: 0 });
  });
});
