import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, createSqliteStore } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const dir = mkdtempSync(join(tmpdir(), 'llmux-sqlite-'));
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
  upstream.route('/v1/chat/completions', {
    json: { id: 'x', object: 'chat.completion', created: 1, model: 'budget-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 } },
  });
});
afterAll(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

const gatewayOn = (path: string) =>
  createGateway({
    store: createSqliteStore({ path }),
    pricing: { 'budget-model': { input: 0, output: 1_000_000 } },
    adminKey: 'admin',
    config: {
      targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }],
      budget: { max_cost_per_day: 3 },
    },
  });
const chat = { method: 'POST', path: '/v1/chat/completions', headers: {}, body: { model: 'budget-model', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] } };

describe('the SQLite file store', () => {
  it('keeps spend across a restart', async () => {
    const path = join(dir, 'spend.db');
    const first = gatewayOn(path);
    expect((await first.handle(chat)).status).toBe(200);
    expect((await first.handle(chat)).status).toBe(200);
    await first.close();

    const restarted = gatewayOn(path);
    try {
      const usage = await restarted.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin' } });
      expect((usage.body as any).budgets).toEqual([expect.objectContaining({ scope: 'gateway', spent: 2, reserved: 0, remaining: 1, limit: 3 })]);
      expect((usage.body as any).store).toBe('sqlite');
      expect((await restarted.handle(chat)).status).toBe(200);
      const refused = await restarted.handle(chat);
      expect(refused.status).toBe(402);
      expect((refused.body as any).error).toMatchObject({ spent: 3, limit: 3 });
    } finally {
      await restarted.close();
    }
  });

  it('shares the file between two gateways at once, exactly', async () => {
    const path = join(dir, 'shared.db');
    const a = gatewayOn(path);
    const b = gatewayOn(path);
    try {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).handle(chat)));
      expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('says why when better-sqlite3 cannot open the file', async () => {
    const store = createSqliteStore({ path: join(dir, 'missing-dir', 'x.db') });
    await expect(store.ready).rejects.toThrow();
    const gateway = createGateway({ store, config: { targets: [{ provider: 'openai', api_key: 'k', custom_host: `${upstream.url}/v1` }], budget: { max_cost_per_day: 1 } } });
    const res = await gateway.handle({ ...chat, body: { ...chat.body, model: 'gpt-4o-mini' } });
    expect(res.status).toBe(503);
    await gateway.close();
  });
});
