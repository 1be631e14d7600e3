import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { route } from '../../src/router/execute.js';
import { envOf, fakeTime, rootOf, scripted } from './helpers.js';

const fallback = (...names: string[]) => ({
  strategy: { mode: 'fallback' as const },
  targets: names.map((name) => ({ provider: 'mock', name })),
});

async function failureOf(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(GatewayError);
    return e as GatewayError;
  }
  throw new Error('expected the route to fail');
}

describe('fallback', () => {
  it('moves on after a 503, a reset and a timeout, and reports the target that answered', async () => {
    const { attempt, calls } = scripted({ a: [503], b: ['reset'], c: ['timeout'], d: ['ok'] });
    const env = envOf();
    const routed = await route(rootOf(fallback('a', 'b', 'c', 'd')), env, attempt);
    expect(routed.value).toBe('answer from d');
    expect(routed.target.path).toBe('config.targets[3]');
    expect(calls).toEqual(['a', 'b', 'c', 'd']);
    expect(env.attempts.map((a) => a.status)).toEqual([503, 502, 504, 200]);
    expect(env.retries).toBe(0);
  });

  it('moves on after a 401 or a context-length 400: the next provider may accept it', async () => {
    const { attempt } = scripted({ a: [401], b: [400], c: ['ok'] });
    const routed = await route(rootOf(fallback('a', 'b', 'c')), envOf(), attempt);
    expect(routed.value).toBe('answer from c');
  });

  it('with on_status_codes, only those statuses move on; another one is the answer', async () => {
    const config = { ...fallback('a', 'b'), strategy: { mode: 'fallback' as const, on_status_codes: [429, 503] } };
    const { attempt, calls } = scripted({ a: [{ status: 400, message: 'bad temperature', type: 'invalid_request_error' }] });
    const env = envOf();
    const e = await failureOf(route(rootOf(config), env, attempt));
    expect(calls).toEqual(['a']);
    expect(e.status).toBe(400);
    expect(e.message).toBe('bad temperature');
    const moved = scripted({ a: [503], b: ['ok'] });
    expect((await route(rootOf(config), envOf(), moved.attempt)).value).toBe('answer from b');
  });

  it('when every target fails alike, answers with that status and the provider message, listing every attempt', async () => {
    const tooLong = { status: 400, message: "This model's maximum context length is 8192 tokens", type: 'invalid_request_error' };
    const { attempt } = scripted({ a: [tooLong], b: [tooLong], c: [tooLong] });
    const e = await failureOf(route(rootOf(fallback('a', 'b', 'c')), envOf(), attempt));
    expect(e.status).toBe(400);
    expect(e.type).toBe('invalid_request_error');
    expect(e.message).toContain('maximum context length');
    expect(e.attempts?.map((a) => a.target)).toEqual(['config.targets[0]', 'config.targets[1]', 'config.targets[2]']);
    expect(e.toJSON().error.attempts).toHaveLength(3);
  });

  it('when targets fail differently, answers 502 naming each failure', async () => {
    const { attempt } = scripted({ a: [503], b: ['reset'] });
    const e = await failureOf(route(rootOf(fallback('a', 'b')), envOf(), attempt));
    expect(e.status).toBe(502);
    expect(e.code).toBe('all_targets_failed');
    expect(e.message).toContain('config.targets[0]: 503');
    expect(e.message).toContain('config.targets[1]: 502');
    expect(e.attempts).toHaveLength(2);
  });

  it('passes a single target’s error through unchanged', async () => {
    const { attempt } = scripted({ a: [{ status: 429, retryAfter: 7 }] });
    const e = await failureOf(route(rootOf({ provider: 'mock', name: 'a' }), envOf(), attempt));
    expect(e.status).toBe(429);
    expect(e.retryAfter).toBe(7);
  });

  it('walks trees of any depth', async () => {
    const config = {
      strategy: { mode: 'fallback' as const },
      targets: [
        { strategy: { mode: 'fallback' as const }, targets: [{ provider: 'mock', name: 'a' }, { provider: 'mock', name: 'b' }] },
        {
          strategy: { mode: 'loadbalance' as const },
          targets: [{ strategy: { mode: 'fallback' as const }, targets: [{ provider: 'mock', name: 'c' }, { provider: 'mock', name: 'd' }] }],
        },
      ],
    };
    const { attempt, calls } = scripted({ a: [500], b: [500], c: [500] });
    const routed = await route(rootOf(config), envOf(), attempt);
    expect(calls).toEqual(['a', 'b', 'c', 'd']);
    expect(routed.target.path).toBe('config.targets[1].targets[0].targets[1]');
    expect(routed.target.index).toBe(1);
  });
});

describe('retries', () => {
  const retrying = (attempts: number, extra: Record<string, unknown> = {}) => ({ provider: 'mock', name: 'a', retry: { attempts, ...extra } });

  it('retries 429/5xx with exponential backoff and full jitter, and counts retries', async () => {
    const time = fakeTime();
    const { attempt, calls } = scripted({ a: [503, 502, 'ok'] });
    const env = envOf({ routing: { sleep: time.sleep, now: time.now, random: () => 0.5, backoffBaseMs: 100, backoffCapMs: 150 } });
    const routed = await route(rootOf(retrying(3)), env, attempt);
    expect(routed.value).toBe('answer from a');
    expect(calls).toEqual(['a', 'a', 'a']);
    expect(env.retries).toBe(2);
    // 0.5 × min(cap, base × 2^n): 50, then 75 (capped at 150 before the jitter).
    expect(time.t.sleeps).toEqual([50, 75]);
    expect(env.attempts.map((a) => a.status)).toEqual([503, 502, 200]);
  });

  it('jitter stays within [0, min(cap, base × 2^n))', async () => {
    const time = fakeTime();
    const { attempt } = scripted({ a: [503] });
    let r = 0;
    const randoms = [0, 0.999, 0.3, 0.999, 0.999];
    const env = envOf({ routing: { sleep: time.sleep, now: time.now, random: () => randoms[r++]!, backoffBaseMs: 100, backoffCapMs: 350 } });
    await failureOf(route(rootOf(retrying(5)), env, attempt));
    expect(time.t.sleeps).toEqual([0, 199, 105, 349, 349]);
    expect(env.retries).toBe(5);
  });

  it('retries network errors and timeouts, but not a 400 or a 401', async () => {
    const time = fakeTime();
    const routing = { sleep: time.sleep, now: time.now };
    const flaky = scripted({ a: ['reset', 'timeout', 'ok'] });
    expect((await route(rootOf(retrying(2)), envOf({ routing }), flaky.attempt)).value).toBe('answer from a');
    for (const status of [400, 401]) {
      const bad = scripted({ a: [status] });
      const env = envOf({ routing });
      await failureOf(route(rootOf(retrying(3)), env, bad.attempt));
      expect(bad.calls).toEqual(['a']);
      expect(env.retries).toBe(0);
    }
  });

  it('retries only the statuses in retry.on_status_codes', async () => {
    const time = fakeTime();
    const routing = { sleep: time.sleep, now: time.now };
    const config = retrying(3, { on_status_codes: [500] });
    const s = scripted({ a: [503] });
    await failureOf(route(rootOf(config), envOf({ routing }), s.attempt));
    expect(s.calls).toHaveLength(1);
    const t = scripted({ a: [500, 'ok'] });
    expect((await route(rootOf(config), envOf({ routing }), t.attempt)).value).toBe('answer from a');
  });

  it('honours Retry-After within the bound instead of the backoff', async () => {
    const time = fakeTime();
    const { attempt } = scripted({ a: [{ status: 429, retryAfter: 2 }, 'ok'] });
    const env = envOf({ routing: { sleep: time.sleep, now: time.now } });
    await route(rootOf(retrying(1)), env, attempt);
    expect(time.t.sleeps).toEqual([2000]);
    expect(env.retries).toBe(1);
  });

  it('falls over at once when Retry-After exceeds the bound', async () => {
    const time = fakeTime();
    const config = { strategy: { mode: 'fallback' as const }, targets: [retrying(3), { provider: 'mock', name: 'b' }] };
    const { attempt, calls } = scripted({ a: [{ status: 429, retryAfter: 30 }] });
    const env = envOf({ routing: { sleep: time.sleep, now: time.now, maxRetryAfter: 10 } });
    const routed = await route(rootOf(config), env, attempt);
    expect(routed.value).toBe('answer from b');
    expect(calls).toEqual(['a', 'b']);
    expect(time.t.sleeps).toEqual([]);
  });

  it('ignores Retry-After when use_retry_after_header is false', async () => {
    const time = fakeTime();
    const { attempt } = scripted({ a: [{ status: 429, retryAfter: 5 }, 'ok'] });
    const env = envOf({ routing: { sleep: time.sleep, now: time.now, random: () => 0.5, backoffBaseMs: 100 } });
    await route(rootOf(retrying(1, { use_retry_after_header: false })), env, attempt);
    expect(time.t.sleeps).toEqual([50]);
  });

  it('tries a target once without retry config', async () => {
    const { attempt, calls } = scripted({ a: [503] });
    await failureOf(route(rootOf({ provider: 'mock', name: 'a' }), envOf(), attempt));
    expect(calls).toEqual(['a']);
  });
});

describe('deadline and client abort', () => {
  it('stops with a 504 listing the attempts once the overall deadline passes', async () => {
    const config = { strategy: { mode: 'fallback' as const }, targets: [{ provider: 'mock', name: 'a', retry: { attempts: 5 } }, { provider: 'mock', name: 'b' }] };
    const { attempt, calls } = scripted({ a: ['hang'] });
    const e = await failureOf(route(rootOf(config), envOf({ deadline: 40 }), attempt));
    expect(e.status).toBe(504);
    expect(e.code).toBe('upstream_timeout');
    expect(e.message).toContain('40 ms');
    expect(calls).toEqual(['a']);
    expect(e.attempts).toHaveLength(1);
    expect(e.attempts![0]!.error).toContain('deadline');
  });

  it('does not sleep into the deadline: a retry wait that would outlast it falls over at once', async () => {
    const time = fakeTime();
    const config = { strategy: { mode: 'fallback' as const }, targets: [{ provider: 'mock', name: 'a', retry: { attempts: 3 } }, { provider: 'mock', name: 'b' }] };
    const { attempt, calls } = scripted({ a: [{ status: 503, retryAfter: 5 }] });
    const env = envOf({ deadline: 3000, routing: { sleep: time.sleep, now: time.now } });
    const routed = await route(rootOf(config), env, attempt);
    expect(routed.value).toBe('answer from b');
    expect(calls).toEqual(['a', 'b']);
    expect(time.t.sleeps).toEqual([]);
  });

  it('never retries or falls over once the client is gone', async () => {
    const client = new AbortController();
    const config = { strategy: { mode: 'fallback' as const }, targets: [{ provider: 'mock', name: 'a', retry: { attempts: 3 } }, { provider: 'mock', name: 'b' }] };
    const { attempt, calls } = scripted({ a: ['hang'] });
    const p = route(rootOf(config), envOf({ signal: client.signal }), attempt);
    setTimeout(() => client.abort(), 5);
    const e = await failureOf(p);
    expect(e.status).toBe(499);
    expect(calls).toEqual(['a']);
  });

  it('keeps the client signal linked to an answered stream after routing', async () => {
    const client = new AbortController();
    let seen: AbortSignal | undefined;
    const routed = await route(rootOf({ provider: 'mock', name: 'a' }), envOf({ signal: client.signal, deadline: 20, streaming: true }), async (_t, signal) => {
      seen = signal;
      return 'stream';
    });
    expect(routed.value).toBe('stream');
    await new Promise((r) => setTimeout(r, 40));
    expect(seen!.aborted).toBe(false); // the deadline stopped counting once the target answered
    client.abort();
    expect(seen!.aborted).toBe(true);
  });

  it('lets go of a long-lived client signal once a non-stream answer is in (no listener left per call)', async () => {
    const { getEventListeners } = await import('node:events');
    const client = new AbortController();
    for (let i = 0; i < 5; i++) await route(rootOf({ provider: 'mock', name: 'a' }), envOf({ signal: client.signal }), async () => 'whole');
    expect(getEventListeners(client.signal, 'abort')).toHaveLength(0);
  });
});
