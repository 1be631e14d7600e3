import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, createMemoryStore, type GatewayStore } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * With the cache and limits on a shared store, the cache read must not wait for the limit check:
 * both are in flight together, so a pipelining store (Redis) answers them in one round trip before
 * the upstream call. A store that records what is in flight shows it without timing.
 */
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());

const ANSWER = { id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };

function watchedStore() {
  const inner = createMemoryStore();
  const seen: string[] = [];
  const store: GatewayStore = {
    ...inner,
    async admit(request) {
      seen.push('admit sent');
      // Answers a turn of the event loop later, like a store across the network.
      await new Promise((r) => setImmediate(r));
      seen.push('admit answered');
      return inner.admit(request);
    },
    async cacheGet(key) {
      seen.push('cache read sent');
      return inner.cacheGet(key);
    },
    async settle(request, amounts) {
      seen.push('settle sent');
      await new Promise((r) => setImmediate(r));
      seen.push('settle answered');
      return inner.settle(request, amounts);
    },
    async cacheSet(key, value, ttl) {
      seen.push('cache write sent');
      return inner.cacheSet(key, value, ttl);
    },
  };
  return { store, seen };
}

/** A cached gateway on the watched store, with the limits given; `chat` sends one chat request. */
function cachedGateway(store: GatewayStore, limits: Record<string, unknown>) {
  const gateway = createGateway({
    logger: false,
    store,
    config: { targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${upstream.url}/v1` }], cache: { mode: 'simple' }, ...limits },
    pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } },
  });
  const chat = (content: string) =>
    gateway.handle({ method: 'POST', path: '/v1/chat/completions', headers: {}, body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content }] } });
  return { gateway, chat };
}

describe('store calls before the upstream call', () => {
  it('the cache read and the limit check are in flight together', async () => {
    upstream.route('/v1/chat/completions', { json: ANSWER });
    const { store, seen } = watchedStore();
    const { gateway, chat } = cachedGateway(store, { rate_limit: { requests_per_minute: 1000 } });
    const first = await chat('Hi');
    expect(first.status).toBe(200);
    // Both sent before either answered (then, after the answer, the cache write and the settlement).
    expect(seen.slice(0, 3).sort()).toEqual(['admit answered', 'admit sent', 'cache read sent']);
    expect(seen.indexOf('cache read sent')).toBeLessThan(seen.indexOf('admit answered'));
    // The second request is a hit, still counted by the rate limit, with the same overlap.
    seen.length = 0;
    const second = await chat('Hi');
    expect(second.headers['x-llmux-cache']).toBe('HIT');
    expect(seen.indexOf('cache read sent')).toBeLessThan(seen.indexOf('admit answered'));
    expect(upstream.requests).toHaveLength(1);
    await gateway.close();
  });

  it('after the answer, the settlement and the cache write are in flight together', async () => {
    upstream.route('/v1/chat/completions', { json: ANSWER });
    const { store, seen } = watchedStore();
    const { gateway, chat } = cachedGateway(store, { budget: { max_cost_per_day: 100 } });
    const res = await chat('Hi again');
    expect(res.status).toBe(200);
    expect(seen).toContain('settle answered');
    expect(seen.indexOf('cache write sent')).toBeGreaterThan(-1);
    expect(seen.indexOf('cache write sent')).toBeLessThan(seen.indexOf('settle answered'));
    await gateway.close();
  });
});
