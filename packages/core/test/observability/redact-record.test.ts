import { describe, expect, it } from 'vitest';
import { redactDeep, redactOwned } from '../../src/observability/redact-record.js';

const SECRET = 'sk-live-0123456789abcdef';

/** A record as the gateway builds one, nothing in it to redact. */
const clean = () => ({
  type: 'llmux.request',
  trace_id: 't-1',
  route: 'chat',
  metadata: { team: 'search', nested: { tags: ['a', 'b'] } },
  attempts: [{ target: 'config.targets[0]', provider: 'openai', status: 200 }],
  usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
  cache: { status: 'MISS' },
  cost_usd: 0.1,
  unpriced: false,
});

describe('redactOwned', () => {
  it('gives back the record itself when nothing in it is a secret', () => {
    const record = clean();
    const out = redactOwned(record, [SECRET]);
    expect(out).toBe(record);
    expect(out).toEqual(clean());
  });

  it('redacts what redactDeep redacts, copying only the paths to it and leaving the input as it was', () => {
    const record = {
      ...clean(),
      error: { code: 'provider_error', message: `bad key ${SECRET}` },
      attempts: [
        { target: 'config.targets[0]', provider: 'openai', status: 401, error: `Incorrect API key: ${SECRET}` },
        { target: 'config.targets[1]', provider: 'groq', status: 200 },
      ],
      metadata: { team: 'search', api_key: 'whatever', note: 'Bearer abcdefghijklmnop' },
    };
    const before = structuredClone(record);
    const out = redactOwned(record, [SECRET]);
    expect(out).toEqual(redactDeep(before, [SECRET]));
    expect(JSON.stringify(out)).not.toContain(SECRET);
    expect(out.metadata).toEqual({ team: 'search', api_key: '[REDACTED]', note: '[REDACTED]' });
    // The input is unchanged; untouched branches are shared, changed ones are copies.
    expect(record).toEqual(before);
    expect(out).not.toBe(record);
    expect(out.attempts).not.toBe(record.attempts);
    expect(out.attempts[1]).toBe(record.attempts[1]);
    expect(out.usage).toBe(record.usage);
    expect(out.cache).toBe(record.cache);
  });

  it('keeps a `__proto__` member a plain field of the copy, as redactDeep does', () => {
    const record = JSON.parse(`{"trace_id":"t","metadata":{"__proto__":{"polluted":"${SECRET}"},"x":"${SECRET}"}}`);
    const out = redactOwned(record, [SECRET]);
    expect(out).toEqual(redactDeep(record, [SECRET]));
    expect(Object.getPrototypeOf(out.metadata)).toBe(Object.prototype);
    expect(Object.hasOwn(out.metadata, '__proto__')).toBe(true);
    expect(out.metadata.polluted).toBeUndefined();
    expect(JSON.stringify(out)).not.toContain(SECRET);
  });

  it('cuts a value nested past its depth limit as redactDeep does', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = { d: deep };
    const out = redactOwned({ metadata: deep }, []);
    expect(out).toEqual(redactDeep({ metadata: deep }, []));
    // The two share their walk now: what a user sees is a cut, not the leaf 100 levels down.
    expect(JSON.stringify(out)).toContain('"[TRUNCATED]"');
    expect(JSON.stringify(out)).not.toContain('leaf');
  });
});
