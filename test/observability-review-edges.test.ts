/**
 * Edges from an adversarial review of observability and cost (records, ring, metrics, spans, cost
 * headers). The regressions are marked; each says what was expected and what happened before the fix.
 */
import { request as httpRequest } from 'node:http';
import { calcPrice } from '@pydantic/genai-prices';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, recentRequests, type Gateway, type GatewayOptions, type RequestLogRecord } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText, chatRequest, metricValue, scrape, scriptUpstream, targetAt } from './helpers/observe.js';
import { fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories } from './helpers/apps.js';

let up: MockUpstream;
const gateways: Gateway[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
  scriptUpstream(up);
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => void (up.requests.length = 0));

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ env: {}, routing: { sleep: async () => undefined }, ...options });
  gateways.push(g);
  return g;
}
const records = (g: Gateway): RequestLogRecord[] => recentRequests(g).records;

describe('records', () => {
  // Regression (fixed). docs/observability.md: "Requests refused before any routing also get a record ... Calls made
  // through gateway.chat() / chatStream() get records too."
  // Expected: a direct call refused for a bad body (or a bad x-llmux-metadata header) leaves one record
  // with status 400, as the same request over HTTP does.
  // Was: no record at all (ring empty, no onLog, no metric).
  // Diagnosis: packages/core/src/gateway.ts:127-133 `direct()` runs validateChat and createState (which
  // parses the metadata header) before any state is opened, and `chat`/`chatStream` (gateway.ts:157-170)
  // only attach `.catch(failed)` to runChat; a throw from `direct()` bypasses recordFailure.
  it('gateway.chat() / chatStream() refused for a bad body or header still leave a record', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    await expect(g.chat({ model: 'gpt-4o-mini', messages: [] } as never)).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(
      g.chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-llmux-metadata': 'not json' } }),
    ).rejects.toMatchObject({ code: 'invalid_request' });
    const it = g.chatStream({ model: 'gpt-4o-mini', messages: [] } as never)[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ code: 'invalid_request' });
    // The same bad body over HTTP is recorded (control).
    expect((await g.handle(chatRequest({ messages: [] }))).status).toBe(400);
    const got = records(g);
    expect(got.filter((r) => r.status === 400)).toHaveLength(4);
    expect(up.requests).toHaveLength(0);
  });

  // Regression (fixed). log-record.ts documents `started_at` as "ISO time the request arrived" and `duration_ms` as
  // "until the response".
  // Expected: a request whose body takes ~300 ms to arrive has started_at at its arrival and a
  // duration of at least those 300 ms (as a refused request's record does: it uses handle()'s clock).
  // Was: started_at is ~300 ms late and duration_ms ~40 ms: upload time is cut out of the record,
  // the latency histogram and the span; a slow or large upload looks instantaneous.
  // Diagnosis: packages/core/src/pipeline/create-state.ts:43 sets `startedAt: Date.now()` when the
  // state is created, after readBody; the time handle() took the call (gateway.ts:143,
  // `call.startedAt`) is not passed on.
  it('started_at and duration_ms count from when the request arrived, not from when its body was read', async () => {
    const g = gateway({ config: { targets: [targetAt(up, 'ok')] } });
    const text = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
    async function* slowBody() {
      yield new TextEncoder().encode(text.slice(0, 10));
      await new Promise((r) => setTimeout(r, 300));
      yield new TextEncoder().encode(text.slice(10));
    }
    const arrived = Date.now();
    const res = await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: slowBody() as never });
    expect(res.status).toBe(200);
    const r = records(g)[0]!;
    expect(Date.parse(r.started_at) - arrived).toBeLessThan(100);
    expect(r.duration_ms).toBeGreaterThanOrEqual(290);
  });
});

describe('cache hits', () => {
  // Regression (fixed). Metric help (metrics.ts:49): llmux_tokens_total is "Tokens used". A hit uses no tokens:
  // token budgets count 0 for it (limits-stage.ts:22), and it is priced $0.
  // Expected: after one MISS and one HIT of the same prompt, the counter holds the MISS's tokens (16 in, 363 out).
  // Was: 32 in / 726 out — every hit re-adds the cached answer's usage. It is also inconsistent: a
  // streamed hit adds tokens only when the client asked for include_usage (completionToChunks drops usage otherwise).
  // Diagnosis: pipeline/chat.ts:138 sets state.usage from the cached completion, build-record.ts:137-143
  // puts it in the record, and metrics.ts:72-75 counts r.usage without looking at r.cache.status.
  it('do not add the cached answer’s tokens to llmux_tokens_total', async () => {
    const g = gateway({ config: { cache: { mode: 'simple' }, targets: [targetAt(up, 'ok')] } });
    const body = { messages: [{ role: 'user', content: 'tokens of a hit' }] };
    expect((await g.handle(chatRequest(body))).headers['x-llmux-cache']).toBe('MISS');
    expect((await g.handle(chatRequest(body))).headers['x-llmux-cache']).toBe('HIT');
    const m = await scrape(g);
    expect(metricValue(m, 'llmux_tokens_total', { type: 'input' })).toBe(16);
    expect(metricValue(m, 'llmux_tokens_total', { type: 'output' })).toBe(363);
  });

  // Regression (fixed). log-record.ts:51 `provider`/`target`: "Provider and target that answered (or served the cached
  // answer's original call)". The hit's response says `x-llmux-target: config.targets[0]`.
  // Expected: the hit's record has target "config.targets[0]" like its header (and spans' llmux.target).
  // Was: the record has `provider` but no `target`, so the log and the playground's recent requests
  // cannot say which target's answer was served while the response header can.
  // Diagnosis: cache-stage.ts:170-176 (serve) copies entry.provider into scratch.provider but keeps
  // entry.target only in the response header; build-record.ts:119-123 falls back to cache.provider only.
  it('name in the record the target their response header names', async () => {
    const g = gateway({ config: { cache: { mode: 'simple' }, targets: [targetAt(up, 'ok')] } });
    const body = { messages: [{ role: 'user', content: 'target of a hit' }] };
    await g.handle(chatRequest(body));
    const hit = await g.handle(chatRequest(body));
    expect(hit.headers['x-llmux-target']).toBe('config.targets[0]');
    const r = records(g)[0]!;
    expect(r.cache.status).toBe('HIT');
    expect(r.target).toBe(hit.headers['x-llmux-target']);
  });
});

describe('cost', () => {

  // Passing: Gemini thoughts in a stream are priced as output (checked against @pydantic/genai-prices
  // on the recorded stream's last usageMetadata: 34 prompt, 469 candidates, 787 thoughts), and the record,
  // the usage chunk's usage.cost and the trailer agree.
  it('prices Gemini thinking tokens of a stream as output, in the trailer, usage.cost and the record', async () => {
    up.route('/gem/v1beta/models/gemini-2.5-pro:streamGenerateContent', { chunks: splitSse(fixtureText('gemini/streamGenerateContent.thinking.sse')) });
    const g = gateway({ config: { targets: [{ provider: 'google', api_key: 'AIza-review-key-0001', custom_host: `${up.url}/gem/v1beta` }] } });
    const res = await g.handle(chatRequest({ model: 'gemini-2.5-pro', stream: true, stream_options: { include_usage: true } }));
    const text = await bodyText(res);
    const expected = calcPrice({ input_tokens: 34, output_tokens: 469 + 787 }, 'gemini-2.5-pro', { providerId: 'google' })!.total_price;
    expect(Number(res.trailers!()['x-llmux-cost'])).toBeCloseTo(expected, 12);
    const usageChunk = text.split('\n').find((l) => l.includes('"usage":{'))!;
    expect(JSON.parse(usageChunk.slice(6)).usage.cost).toBeCloseTo(expected, 12);
    const r = records(g)[0]!;
    expect(r.usage).toEqual({ input_tokens: 34, output_tokens: 1256, total_tokens: 1290, reasoning_tokens: 787 });
    expect(r.cost_usd).toBeCloseTo(expected, 12);
  });
});
