import { afterEach, describe, expect, it, vi } from 'vitest';
import { createGateway, createMemoryStore, type GatewayLogger, type GatewayStore, type SettleAmounts } from '@llmux/core';

/**
 * A settlement that fails is retried until shortly before its reservation expires, never counts
 * twice, and `close()` flushes and waits for pending retries. The store is the memory store behind
 * a switch that makes `settle` fail, as a Redis blip would.
 */
function flakyStore(mode: { down: boolean; appliedThenFailed?: boolean }) {
  const inner = createMemoryStore();
  const calls: Array<{ retry: boolean; at: number }> = [];
  const store: GatewayStore = {
    ...inner,
    async settle(request, amounts: SettleAmounts, options) {
      calls.push({ retry: options?.retry === true, at: Date.now() });
      if (mode.appliedThenFailed) {
        // A timeout after the store ran the command: applied, yet the caller sees a failure.
        mode.appliedThenFailed = false;
        await inner.settle(request, amounts, options);
        throw new Error('settle timed out');
      }
      if (mode.down) throw new Error('The client is offline');
      return inner.settle(request, amounts, options);
    },
  };
  return { store, calls, inner };
}

function logs() {
  const lines: Array<{ level: string; msg: string }> = [];
  const logger: GatewayLogger = {
    info: (_o, msg = '') => void lines.push({ level: 'info', msg }),
    warn: (_o, msg = '') => void lines.push({ level: 'warn', msg }),
    error: (_o, msg = '') => void lines.push({ level: 'error', msg }),
  };
  return { lines, logger };
}

const config = { targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }], budget: { max_tokens_per_day: 1_000_000 } };
const chat = { model: 'any', max_tokens: 10, messages: [{ role: 'user' as const, content: 'Hello there' }] };
const counted = async (store: GatewayStore) => (await store.readUsage()).counters[0];

afterEach(() => {
  vi.useRealTimers();
});

describe('settling budgets when the store fails', () => {
  it('retries a failed settlement in the background until it is recorded, once', async () => {
    const mode = { down: true };
    const { store, calls, inner } = flakyStore(mode);
    const { lines, logger } = logs();
    const gw = createGateway({ store, logger, config });
    const answer = await gw.chat(chat);
    const used = answer.usage!.total_tokens;
    expect(calls).toHaveLength(1);
    expect(await counted(inner)).toMatchObject({ spent: 0 });
    await new Promise((r) => setTimeout(r, 300));
    mode.down = false;
    await new Promise((r) => setTimeout(r, 600));
    expect(calls.length).toBeGreaterThan(2);
    expect(calls.slice(1).every((c) => c.retry)).toBe(true);
    expect(await counted(inner)).toEqual({ key: expect.any(String), spent: used, reserved: 0 });
    expect(lines.map((l) => l.level)).toContain('warn');
    expect(lines.some((l) => l.level === 'info' && /settled after a retry/.test(l.msg))).toBe(true);
    const before = calls.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(calls).toHaveLength(before); // done: no more attempts
    await gw.close();
  });

  it('a settlement that ran but reported a failure is not counted twice by its retry', async () => {
    const mode = { down: false, appliedThenFailed: true };
    const { store, calls, inner } = flakyStore(mode);
    const gw = createGateway({ store, logger: false, config });
    const answer = await gw.chat(chat);
    await gw.close(); // flushes the pending retry
    expect(calls.map((c) => c.retry)).toEqual([false, true]);
    expect(await counted(inner)).toMatchObject({ spent: answer.usage!.total_tokens, reserved: 0 });
  });

  it('close() runs a pending retry at once rather than after its backoff, and waits for it', async () => {
    // The clock never moves: a close() that waited out the backoff would never resolve.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const mode = { down: true };
    const { store, calls, inner } = flakyStore(mode);
    const gw = createGateway({ store, logger: false, config });
    const answer = await gw.chat(chat);
    mode.down = false;
    const started = Date.now();
    await gw.close();
    expect(Date.now() - started).toBeLessThan(70); // the first backoff is 75 ms or more
    expect(calls).toHaveLength(2);
    expect(await counted(inner)).toMatchObject({ spent: answer.usage!.total_tokens, reserved: 0 });
  });

  it('gives up shortly before the reservation expires, and says the answer is not counted', async () => {
    const { store, calls } = flakyStore({ down: true });
    const { lines, logger } = logs();
    // On a fake clock the backoff schedule is exact, however loaded the machine running the test.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const gw = createGateway({ store, logger, config, limitOptions: { reservationTtl: 0.4 } });
    await gw.chat(chat);
    const admitted = calls[0]!.at;
    await vi.advanceTimersByTimeAsync(700);
    const last = calls.at(-1)!.at;
    expect(last - admitted).toBeLessThan(400);
    expect(last - admitted).toBeGreaterThan(300);
    expect(lines.some((l) => l.level === 'error' && /settlement lost/.test(l.msg))).toBe(true);
    await gw.close();
  });

  it('close() waits for retries up to its deadline, then they give up', async () => {
    const { store, calls } = flakyStore({ down: true });
    const { lines, logger } = logs();
    const gw = createGateway({ store, logger, config });
    await gw.chat(chat);
    const started = Date.now();
    await gw.close(300);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2000);
    const attempts = calls.length;
    expect(attempts).toBeGreaterThan(2);
    expect(lines.some((l) => l.level === 'error' && /settlement lost/.test(l.msg))).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toHaveLength(attempts);
  });
});
