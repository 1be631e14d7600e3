/**
 * Review of the limits change that keeps a caller's counter and window specs until a calendar window
 * ends (limits/claims.ts `callerSpecs`) and keeps the memory store's sliding windows as packed arrays
 * whose ids go once a request settles (store/memory/limits.ts). Budgets across hour, day and month
 * boundaries in UTC and IANA zones (a clock that goes backwards too), thousands of callers, metadata
 * scopes, gateway keys and request-level configs that share the server's budgets, and the store's
 * settle, retry-after and usage under the new layout.
 *
 * Only `Date` is faked, and it stands still; every app (and store) is created after it is faked, since
 * the memory store binds the clock it finds. Express 5 adapter, official `openai` SDK (maxRetries 0),
 * mock upstream on 127.0.0.1; the in-process `mock` provider where thousands of requests go.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createGateway, createMemoryStore, type Gateway, type GatewayStore } from '@llmux/core';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/** $1 per output token, input free: the max_tokens asked is the dollars reserved. */
const pricing = { 'budget-model': { input: 0, output: 1_000_000 } };
const completion = (completionTokens: number) => ({
  id: 'chatcmpl-memo',
  object: 'chat.completion',
  created: 1,
  model: 'budget-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 7, completion_tokens: completionTokens, total_tokens: 7 + completionTokens },
});

let up: MockUpstream;
const apps: TestApp[] = [];
const gateways: Gateway[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all([...apps.splice(0).map((a) => a.close()), ...gateways.splice(0).map((g) => g.close(1000))]);
  up.reset();
});
afterAll(() => up.close());

/** Freezes `Date` at `iso` (timers stay real). */
function at(iso: string): number {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(iso));
  return Date.parse(iso);
}
const setClock = (iso: string) => vi.setSystemTime(new Date(iso));

async function start(config: object, options: AppOptions = {}): Promise<{ app: TestApp; store: GatewayStore }> {
  const store = createMemoryStore();
  const app = await appFactories.express5!({
    pricing,
    adminKey: 'admin',
    store,
    identify: (req: any) => ({ user: req.headers['x-user'] }),
    config: { targets: [{ provider: 'openai', api_key: 'sk-up', custom_host: `${up.url}/v1` }], ...config },
    ...options,
  });
  apps.push(app);
  return { app, store };
}

/** A chat of `dollars` output tokens (reserved and, answered, spent), as the SDK sees it. */
async function spend(app: TestApp, dollars: number, headers: Record<string, string> = {}, apiKey = 'unused') {
  up.route('/v1/chat/completions', { json: completion(dollars) });
  const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey, maxRetries: 0 });
  try {
    const { response } = await client.chat.completions.create({ model: 'budget-model', max_tokens: dollars, messages: [{ role: 'user', content: 'hi' }] }, { headers }).withResponse();
    return { status: response.status, headers: response.headers, error: undefined as any };
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    return { status: e.status as number, headers: e.headers as Headers, error: e.error as any };
  }
}

const counterSpent = async (store: GatewayStore, suffix: string) => (await store.readUsage()).counters.filter((c) => c.key.endsWith(suffix)).map((c) => c.spent / 1e9);

describe('calendar windows end the caller\'s kept specs', () => {
  it('a day budget in America/Los_Angeles: requests all evening, then the first one at local midnight is charged to the new day and admitted', async () => {
    // 2027-03-10 in Los Angeles (PST, UTC−8) ends at 2027-03-11T08:00Z.
    at('2027-03-11T06:00:00.000Z');
    const { app, store } = await start({ budget: { max_cost_per_day: 3, scope: 'user', timezone: 'America/Los_Angeles' } });
    const alice = { 'x-user': 'alice' };
    for (const iso of ['2027-03-11T06:00:00.000Z', '2027-03-11T07:00:00.000Z', '2027-03-11T07:59:59.000Z']) {
      setClock(iso);
      expect((await spend(app, 1, alice)).status).toBe(200);
    }
    setClock('2027-03-11T07:59:59.999Z');
    const full = await spend(app, 1, alice);
    expect(full.status).toBe(402);
    expect(full.error).toMatchObject({ window: '2027-03-10', timezone: 'America/Los_Angeles', resets_at: '2027-03-11T08:00:00.000Z', scope: 'user', scope_value: 'alice' });
    expect(full.headers.get('retry-after')).toBe('1');
    // Another caller's specs are their own.
    expect((await spend(app, 2, { 'x-user': 'bob' })).status).toBe(200);

    setClock('2027-03-11T08:00:00.000Z');
    expect((await spend(app, 3, alice)).status).toBe(200);
    const refused = await spend(app, 1, alice);
    expect(refused.error).toMatchObject({ window: '2027-03-11', resets_at: '2027-03-12T08:00:00.000Z' });
    expect(await counterSpent(store, 'd@America%2FLos_Angeles:2027-03-10')).toEqual([3, 2]);
    expect(await counterSpent(store, 'd@America%2FLos_Angeles:2027-03-11')).toEqual([3]);
  });

  it('an hourly budget in Asia/Kolkata ends on the half hour even beside a UTC month budget of the same caller', async () => {
    at('2027-06-10T10:00:00.000Z');
    const { app } = await start({ budget: [{ max_cost_per_hour: 2, timezone: 'Asia/Kolkata' }, { max_cost_per_month: 100 }] });
    expect((await spend(app, 2)).status).toBe(200);
    setClock('2027-06-10T10:29:59.999Z');
    const full = await spend(app, 1);
    expect(full.status).toBe(402);
    expect(full.error).toMatchObject({ period: 'hour', window: '2027-06-10T15', resets_at: '2027-06-10T10:30:00.000Z' });
    setClock('2027-06-10T10:30:00.000Z');
    expect((await spend(app, 2)).status).toBe(200);
    expect((await spend(app, 1)).error).toMatchObject({ period: 'hour', window: '2027-06-10T16', resets_at: '2027-06-10T11:30:00.000Z' });
  });

  it('a UTC month budget rolls over at the month\'s end while an hour budget of the same caller is kept', async () => {
    at('2027-04-30T23:10:00.000Z');
    const { app, store } = await start({ budget: [{ max_cost_per_month: 4 }, { max_cost_per_hour: 50 }] });
    expect((await spend(app, 4)).status).toBe(200);
    setClock('2027-04-30T23:59:59.999Z');
    expect((await spend(app, 1)).error).toMatchObject({ period: 'month', window: '2027-04', resets_at: '2027-05-01T00:00:00.000Z' });
    setClock('2027-05-01T00:00:00.000Z');
    expect((await spend(app, 4)).status).toBe(200);
    expect(await counterSpent(store, ':m:2027-04')).toEqual([4]);
    expect(await counterSpent(store, ':m:2027-05')).toEqual([4]);
  });

  it('a clock that goes back across midnight charges the day it shows, and forward again the next', async () => {
    at('2027-08-01T00:00:05.000Z');
    const { app, store } = await start({ budget: { max_cost_per_day: 5 } });
    expect((await spend(app, 2)).status).toBe(200);
    setClock('2027-07-31T23:59:58.000Z');
    expect((await spend(app, 4)).status).toBe(200);
    expect((await spend(app, 2)).error).toMatchObject({ window: '2027-07-31' });
    setClock('2027-08-01T00:00:10.000Z');
    expect((await spend(app, 4)).error).toMatchObject({ window: '2027-08-01', spent: 2 });
    expect((await spend(app, 3)).status).toBe(200);
    expect(await counterSpent(store, ':2027-07-31')).toEqual([4]);
    expect(await counterSpent(store, ':2027-08-01')).toEqual([5]);
  });
});

describe('callers and plans', () => {
  it('past 4,096 callers (scope metadata.tenant) the first caller\'s spent budget still holds, and a new caller has all of its own', async () => {
    at('2027-05-05T12:00:00.000Z');
    const gw = createGateway({
      logger: false,
      config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }], budget: { max_tokens_per_day: 200, scope: 'metadata.tenant' } },
    });
    gateways.push(gw);
    const ask = (tenant: string) =>
      gw.chat({ model: 'mock-1', max_tokens: 60, messages: [{ role: 'user', content: 'hello' }] }, { headers: { 'x-llmux-metadata': JSON.stringify({ tenant }) } }).then(
        () => 200,
        (e: { status?: number }) => e.status,
      );
    let admitted = 0;
    while ((await ask('first')) === 200) admitted++;
    expect(admitted).toBeGreaterThan(0);
    for (let i = 0; i < 4200; i++) expect(await ask(`tenant-${i}`)).toBe(200);
    expect(await ask('first')).toBe(402);
    for (let i = 0; i < admitted; i++) expect(await ask('late-comer')).toBe(200);
    expect(await ask('late-comer')).toBe(402);
    const counters = (await gw.internals.store.readUsage('b:metadata.tenant=first:')).counters;
    expect(counters).toHaveLength(1);
  });

  it('a client\'s x-llmux-config spends the server\'s budget, and a gateway key\'s own budget is counted apart from it', async () => {
    at('2027-02-03T12:00:00.000Z');
    const { app, store } = await start(
      { targets: [{ provider: 'openai' }], budget: { max_cost_per_day: 6 } },
      {
        allowRequestConfig: true,
        providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-up' } },
        auth: {
          keys: [
            { key: 'gk-team-a-0123456789abcdef', name: 'team-a', budget: { max_cost_per_day: 2 } },
            { key: 'gk-team-b-0123456789abcdef', name: 'team-b' },
          ],
        },
      } as AppOptions,
    );
    const clientConfig = { 'x-llmux-config': JSON.stringify({ targets: [{ provider: 'openai', retry: { attempts: 1 } }] }) };
    expect((await spend(app, 2, {}, 'gk-team-b-0123456789abcdef')).status).toBe(200);
    expect((await spend(app, 1, clientConfig, 'gk-team-b-0123456789abcdef')).status).toBe(200);
    expect((await spend(app, 2, clientConfig, 'gk-team-a-0123456789abcdef')).status).toBe(200);
    const own = await spend(app, 1, {}, 'gk-team-a-0123456789abcdef');
    expect(own.status).toBe(402);
    expect(own.error).toMatchObject({ scope: 'key', scope_value: 'team-a' });
    // $5 of the server's $6 spent, by both keys and both kinds of config.
    const server = await spend(app, 2, clientConfig, 'gk-team-b-0123456789abcdef');
    expect(server.error).toMatchObject({ scope: 'gateway', spent: 5 });
    expect((await spend(app, 1, {}, 'gk-team-b-0123456789abcdef')).status).toBe(200);
    expect(await counterSpent(store, 'b:gateway:cost:d:2027-02-03')).toEqual([6]);
    expect(await counterSpent(store, 'b:key=team-a:cost:d:2027-02-03')).toEqual([2]);
  });

  it('rate limits per metadata value and per user hold for each caller, with remaining counts of their own', async () => {
    at('2027-09-09T09:00:00.000Z');
    const { app } = await start({ rate_limit: [{ requests_per_minute: 2, scope: 'metadata.tenant' }, { requests_per_minute: 3, scope: 'user' }] });
    const as = (tenant: string, user: string) => ({ 'x-llmux-metadata': JSON.stringify({ tenant }), 'x-user': user });
    expect((await spend(app, 1, as('acme', 'u1'))).headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect((await spend(app, 1, as('acme', 'u2'))).headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect((await spend(app, 1, as('acme', 'u1'))).status).toBe(429);
    expect((await spend(app, 1, as('globex', 'u1'))).headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect((await spend(app, 1, as('initech', 'u1'))).headers.get('x-ratelimit-remaining-requests')).toBe('0');
    const byUser = await spend(app, 1, as('hooli', 'u1'));
    expect(byUser.status).toBe(429);
    expect(byUser.error).toMatchObject({ scope: 'user', scope_value: 'u1', limit: 3, used: 3 });
    setClock('2027-09-09T09:01:00.000Z');
    expect((await spend(app, 1, as('acme', 'u1'))).status).toBe(200);
  });
});

describe('the memory store\'s packed windows', () => {
  const windowOf = (amount: number, limit = 100) => ({ key: 'r:gateway:tokens:60000', amount, limit, windowMs: 60_000 });

  it('Retry-After follows the settled amounts: the wait is until enough of them leave the window', async () => {
    const t0 = at('2027-01-01T00:00:00.000Z');
    const store = createMemoryStore();
    const admitted = [];
    for (const [offset, amount] of [[0, 30], [10_000, 50], [20_000, 20]] as const) {
      vi.setSystemTime(t0 + offset);
      const req = { id: `r${offset}`, ttlMs: 600_000, counters: [], windows: [windowOf(amount)] };
      expect(await store.admit(req)).toMatchObject({ ok: true });
      admitted.push(req);
    }
    vi.setSystemTime(t0 + 30_000);
    // 100 used; 40 more needs the first two out: the second leaves at 70 s.
    expect(await store.admit({ id: 'x', ttlMs: 1000, counters: [], windows: [windowOf(40)] })).toMatchObject({ ok: false, used: 100, retryAfterMs: 40_001 });
    // The second settles at 5: 55 used; 60 more needs 15 out, which the first (30, leaving at 60 s) frees.
    await store.settle(admitted[1]!, { counters: [], windows: [5] });
    expect(await store.admit({ id: 'y', ttlMs: 1000, counters: [], windows: [windowOf(60)] })).toMatchObject({ ok: false, used: 55, retryAfterMs: 30_001 });
    expect(await store.admit({ id: 'z', ttlMs: 1000, counters: [], windows: [windowOf(45)] })).toMatchObject({ ok: true, windows: [{ used: 100, resetMs: 30_000 }] });
  });

  it('a settlement repeated as a retry changes nothing; one for an entry already out of the window changes nothing either', async () => {
    const t0 = at('2027-01-01T00:00:00.000Z');
    const store = createMemoryStore();
    const counter = { key: 'b:gateway:tokens:d:2027-01-01', amount: 100, limit: 1_000, expireAt: t0 + 86_400_000 };
    const req = { id: 'settled', ttlMs: 600_000, counters: [counter], windows: [windowOf(80, 1_000)] };
    await store.admit(req);
    await store.settle(req, { counters: [40], windows: [40] });
    await store.settle(req, { counters: [40], windows: [40] }, { retry: true });
    expect(await store.readUsage()).toEqual({ counters: [{ key: counter.key, spent: 40, reserved: 0 }], windows: [{ key: 'r:gateway:tokens:60000', used: 40 }] });

    const late = { id: 'late', ttlMs: 600_000, counters: [counter], windows: [windowOf(70, 1_000)] };
    await store.admit(late);
    vi.setSystemTime(t0 + 61_000);
    const fresh = { id: 'fresh', ttlMs: 600_000, counters: [], windows: [windowOf(5, 1_000)] };
    await store.admit(fresh);
    // Its window entry left at 60 s: the settlement charges the counter, and the window keeps only the fresh one.
    await store.settle(late, { counters: [10], windows: [900] });
    expect(await store.readUsage()).toEqual({ counters: [{ key: counter.key, spent: 50, reserved: 0 }], windows: [{ key: 'r:gateway:tokens:60000', used: 5 }] });
  });

  it('thousands of settled and expired entries later, a window counts exactly what is live, and an idle one shows nothing', async () => {
    const t0 = at('2027-01-01T00:00:00.000Z');
    const store = createMemoryStore();
    const reqs = [];
    for (let i = 0; i < 3_000; i++) {
      vi.setSystemTime(t0 + i * 40);
      const req = { id: `q${i}`, ttlMs: 600_000, counters: [], windows: [windowOf(10, 1e9)] };
      await store.admit(req);
      reqs.push(req);
      // Each settles a few requests later, with its own amount.
      if (i >= 3) await store.settle(reqs[i - 3]!, { counters: [], windows: [(i - 3) % 7] });
    }
    // At 120 s the entries of the last 60 s (1,500 of them, from q1500 on) are live; the last three unsettled.
    vi.setSystemTime(t0 + 2_999 * 40 + 1);
    let live = 0;
    for (let i = 0; i < 3_000; i++) if (t0 + i * 40 > t0 + 2_999 * 40 + 1 - 60_000) live += i >= 2_997 ? 10 : i % 7;
    expect((await store.readUsage()).windows).toEqual([{ key: 'r:gateway:tokens:60000', used: live }]);
    vi.setSystemTime(t0 + 10 * 60_000);
    await store.admit({ id: 'other', ttlMs: 1000, counters: [], windows: [{ key: 'r:other:requests:60000', amount: 1, limit: 10, windowMs: 60_000 }] });
    expect((await store.readUsage()).windows).toEqual([{ key: 'r:other:requests:60000', used: 1 }]);
  });
});
