import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type GatewayOptions } from '@llmux/core';
import { createRedisStore } from '@llmux/redis';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/** A port nothing listens on: bound once by us, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

let upstream: MockUpstream;
let deadURL: string;
beforeAll(async () => {
  upstream = await startMockUpstream();
  upstream.route('/v1/chat/completions', {
    json: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } },
  });
  deadURL = `redis://127.0.0.1:${await unusedPort()}`;
});
afterAll(() => upstream.close());

const options = (extra: Partial<GatewayOptions>): GatewayOptions => ({
  config: {
    targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }],
    budget: { max_cost_per_day: 5 },
    rate_limit: { requests_per_minute: 100 },
  },
  ...extra,
});
const request = () => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: {},
  body: { model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
});

describe('when Redis is down', () => {
  it('budgets fail closed: a quick 503, no upstream call, nothing hangs', async () => {
    const gateway = createGateway(options({ store: createRedisStore({ url: deadURL, connectTimeout: 300 }) }));
    try {
      const started = Date.now();
      const results = await Promise.all([gateway.handle(request()), gateway.handle(request()), gateway.handle(request())]);
      for (const res of results) {
        expect(res.status).toBe(503);
        expect((res.body as any).error).toMatchObject({ code: 'store_unavailable', type: 'gateway_error' });
        expect(res.headers['retry-after']).toBe('1');
      }
      // Bounded by connectTimeout, not by the TCP or test timeout: a generous guard against a hang.
      expect(Date.now() - started).toBeLessThan(5000);
      // Still fast once the first connection attempt is over: no offline queue to wait in.
      const again = await gateway.handle(request());
      expect(again.status).toBe(503);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await gateway.close(500);
    }
  });

  it('a Redis that accepts connections but never answers cannot stall requests either', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as { port: number };
    const gateway = createGateway(options({ store: createRedisStore({ url: `redis://127.0.0.1:${port}`, connectTimeout: 300, commandTimeout: 300 }) }));
    try {
      const res = await gateway.handle(request());
      expect(res.status).toBe(503);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await gateway.close(500);
      silent.close();
    }
  });

  it('with failMode "open", requests go through uncounted and a warning is logged', async () => {
    const warnings: unknown[] = [];
    const logger = { info() {}, error() {}, warn: (obj: object, msg?: string) => warnings.push({ ...obj, msg }) };
    const gateway = createGateway(options({ store: createRedisStore({ url: deadURL, connectTimeout: 300, failMode: 'open' }), logger }));
    try {
      const res = await gateway.handle(request());
      expect(res.status).toBe(200);
      expect(res.headers['x-ratelimit-remaining-requests']).toBeUndefined();
      expect(warnings).toEqual([expect.objectContaining({ store: 'redis', msg: expect.stringContaining('unchecked') })]);
    } finally {
      await gateway.close(500);
    }
  });
});
