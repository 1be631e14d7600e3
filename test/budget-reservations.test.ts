/**
 * Budget reservations that must cover what the upstream is really sent (a target's override_params,
 * both token-limit fields), and calendar windows across daylight-saving changes, in memory and on
 * Redis. Each test failed before its fix.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let up: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(apps.splice(0).map((a) => a.close()));
  up.reset();
});

const CHAT = '/v1/chat/completions';
/** $1 per output token, input free: token counts and dollars are the same numbers. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const completion = (completionTokens: number) => ({
  id: 'chatcmpl-review',
  object: 'chat.completion',
  created: 1,
  model: 'budget-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 7, completion_tokens: completionTokens, total_tokens: 7 + completionTokens },
});

async function start(options: AppOptions): Promise<TestApp> {
  const app = await appFactories.express5!({ pricing, adminKey: 'admin', ...options });
  apps.push(app);
  return app;
}
const post = (app: TestApp, payload: unknown) =>
  fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
async function budgetRows(app: TestApp) {
  const res = await fetch(`${app.gatewayURL}/usage`, { headers: { authorization: 'Bearer admin' } });
  return (await res.json()).budgets as Array<{ spent: number; reserved: number; limit: number }>;
}

describe('budgets reserve the worst case the upstream is actually allowed to produce', () => {
  // Failed before the fix. DESIGN.md: "A budget admits a request while spent + its reservation ≤ the limit" and a
  // request "can never ... spend past a budget"; docs/budgets-and-limits.md: "Before the upstream call a request
  // reserves its worst case … so concurrent requests can never overshoot together".
  // `override_params` (README: "fields forced on every request") replace the client's max_tokens upstream,
  // but limits/estimate.ts:maxOutputTokens read only the client's body.
  it("reserves the max_tokens a target's override_params force, so concurrent requests stay within the budget (memory and Redis)", async () => {
    up.route(CHAT, { json: completion(5), delayMs: 50 });
    const config = {
      targets: [{ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1`, override_params: { max_tokens: 5 } }],
      budget: { max_cost_per_day: 10 },
    };
    for (const kind of ['memory', 'redis'] as const) {
      up.requests.length = 0;
      const store = kind === 'redis' ? createRedisStore({ prefix: `llmux-review:${crypto.randomUUID()}:` }) : undefined;
      const app = await start({ config, ...(store ? { store } : {}) });
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => client.chat.completions.create({ model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] })),
      );
      // The upstream was told it may write 5 tokens ($5) per request…
      expect(up.requests.length > 0 && up.requests.every((r) => r.json.max_tokens === 5)).toBe(true);
      // …so a $10 budget has room for two of them, not ten ($50 spent today).
      const [row] = await budgetRows(app);
      expect.soft(row!.spent, `USD spent on a $10 budget (${kind} store)`).toBeLessThanOrEqual(10);
      expect.soft(results.filter((r) => r.status === 'fulfilled').length, `requests admitted (${kind} store)`).toBeLessThanOrEqual(2);
      await app.close();
      apps.splice(apps.indexOf(app), 1);
      await store?.close();
    }
  });

  // Failed before the fix. Same contract. The mistral preset (providers/openai-compatible/presets.ts:adaptForMistral)
  // kept the client's `max_tokens` when both were sent and dropped `max_completion_tokens`, while
  // limits/estimate.ts:maxOutputTokens reserved for `max_completion_tokens ?? max_tokens` (the smaller one here).
  // Now Mistral is sent `max_completion_tokens` (as `max_tokens`), like every other provider, and the
  // estimate reserves the larger of the two, which covers whichever one an upstream reads. The mock
  // answers with 5 tokens, the most either field allows, so both orders must keep within the budget.
  it('a Mistral target sent both max_tokens and max_completion_tokens gets max_completion_tokens, and the reservation covers the larger', async () => {
    up.route(CHAT, { json: completion(5), delayMs: 50 });
    for (const [completionTokens, maxTokens] of [[1, 5], [5, 1]] as const) {
      up.requests.length = 0;
      const app = await start({ config: { targets: [{ provider: 'mistral', api_key: 'k', custom_host: `${up.url}/v1` }], budget: { max_cost_per_day: 10 } } });
      const body = { model: 'budget-model', max_completion_tokens: completionTokens, max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] };
      const statuses = (await Promise.all(Array.from({ length: 10 }, () => post(app, body).then(async (r) => (await r.arrayBuffer(), r.status))))).sort();
      expect(up.requests.length > 0 && up.requests.every((r) => r.json.max_tokens === completionTokens && r.json.max_completion_tokens === undefined)).toBe(true);
      const [row] = await budgetRows(app);
      expect(row!.spent, `spent with max_completion_tokens ${completionTokens}, max_tokens ${maxTokens}`).toBeLessThanOrEqual(10);
      expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(2);
      await app.close();
      apps.splice(apps.indexOf(app), 1);
    }
  });

  // Sonar Deep Research searches on its own, dozens of times per report, at $5 per 1000 searches
  // (genai-prices: `web_searches_kcount`), with no search tool in the request. Before, the reservation
  // held only its tokens ($0.0008 here), so concurrent reports spent far past a cost budget.
  it('reserves the searches Perplexity Sonar Deep Research makes unasked; Sonar, priced per request, reserves none', async () => {
    const report = { ...completion(3), model: 'sonar-deep-research', usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10, num_search_queries: 19 } };
    up.route('*', { json: report, delayMs: 300 });
    const app = await start({
      config: { targets: [{ provider: 'perplexity', api_key: 'pplx-up', custom_host: up.url }], budget: { max_cost_per_day: 5 } },
      pricing: undefined,
    });
    const pending = post(app, { model: 'sonar-deep-research', max_tokens: 100, messages: [{ role: 'user', content: 'research this' }] });
    let reserved = 0;
    for (let i = 0; i < 50 && reserved === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      reserved = (await budgetRows(app))[0]?.reserved ?? 0;
    }
    // 30 searches × $0.005, plus 100 output tokens at $8/MTok and the prompt.
    expect(reserved).toBeGreaterThanOrEqual(0.15);
    expect(reserved).toBeLessThan(0.152);
    const res = await pending;
    expect(res.status).toBe(200);
    // Settled at what it really cost: 19 searches and its tokens.
    const [row] = await budgetRows(app);
    expect(row!.reserved).toBe(0);
    expect(row!.spent).toBeCloseTo(19 * 0.005 + (7 * 2 + 3 * 8) / 1e6, 9);

    // Sonar has no per-search price (a $12 per 1000 requests fee instead): its reservation is that fee and its tokens.
    up.route('*', { json: { ...report, model: 'sonar', usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } }, delayMs: 300 });
    const sonar = post(app, { model: 'sonar', max_tokens: 100, messages: [{ role: 'user', content: 'look this up' }] });
    let sonarReserved = 0;
    for (let i = 0; i < 50 && sonarReserved === 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      sonarReserved = (await budgetRows(app))[0]?.reserved ?? 0;
    }
    expect(sonarReserved).toBeGreaterThan(0.012);
    expect(sonarReserved).toBeLessThan(0.0125);
    expect((await sonar).status).toBe(200);
  });

});

describe('calendar windows across a daylight-saving change', () => {
  // Failed before the fix. docs/budgets-and-limits.md: "Windows follow the calendar — a day ends at midnight —
  // in UTC or the budget's IANA timezone", and a 402 carries `resets_at` and a `Retry-After` until then. When a
  // window's end falls in a spring-forward gap of a zone west of UTC, limits/calendar.ts:localToInstant mapped
  // the non-existent local time to one hour too early: in New York the 01:00 EST hour of 2026-03-08 came out
  // empty (start = end = 06:00Z, really 07:00Z), and in Santiago (clocks jump 00:00 → 01:00 on 2026-09-06)
  // the day 2026-09-05 "ended" at 03:00Z instead of 04:00Z. For that last hour every 402 said the budget
  // already reset (a time in the past) and told clients `Retry-After: 1`, so they retried every second.
  it('a budget refused in the hour before a DST gap names the real reset time and Retry-After (New York hourly, Santiago daily)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const body = { model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] };
    const cases = [
      { now: '2026-03-08T06:30:00Z', budget: { max_cost_per_hour: 1, timezone: 'America/New_York' }, window: '2026-03-08T01', resets: '2026-03-08T07:00:00.000Z' },
      { now: '2026-09-06T03:30:00Z', budget: { max_cost_per_day: 1, timezone: 'America/Santiago' }, window: '2026-09-05', resets: '2026-09-06T04:00:00.000Z' },
    ];
    for (const c of cases) {
      vi.setSystemTime(new Date(c.now));
      up.route(CHAT, { json: completion(1) });
      const app = await start({ config: { targets: [{ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1` }], budget: c.budget } });
      expect((await post(app, body)).status).toBe(200);
      const refused = await post(app, body);
      expect(refused.status).toBe(402);
      const error = (await refused.json()).error;
      expect(error.window).toBe(c.window);
      expect.soft(error.resets_at, c.budget.timezone).toBe(c.resets);
      expect.soft(Number(refused.headers.get('retry-after')), `${c.budget.timezone} Retry-After`).toBeGreaterThanOrEqual(1799);
    }
  });
});
