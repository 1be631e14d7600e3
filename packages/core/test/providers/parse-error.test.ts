import { describe, expect, it } from 'vitest';
import { parseCommonError, retryAfterSeconds } from '../../src/providers/parse-error.js';

describe('retryAfterSeconds', () => {
  it("prefers OpenAI's retry-after-ms, which keeps a sub-second wait sub-second", () => {
    expect(retryAfterSeconds({ 'retry-after-ms': '350', 'retry-after': '1' })).toBe(0.35);
    expect(retryAfterSeconds({ 'retry-after-ms': '20000' })).toBe(20);
  });

  it('reads Retry-After as seconds or as an HTTP date, and ignores what is neither', () => {
    expect(retryAfterSeconds({ 'retry-after': '7' })).toBe(7);
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(retryAfterSeconds({ 'retry-after': inTenSeconds })).toBeGreaterThan(8);
    expect(retryAfterSeconds({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterSeconds({ 'retry-after-ms': 'soon', 'retry-after': '3' })).toBe(3);
    expect(retryAfterSeconds({})).toBeUndefined();
  });

  it('reaches the parsed provider error', () => {
    const body = JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } });
    expect(parseCommonError(429, body, { 'retry-after-ms': '1500' }).retryAfter).toBe(1.5);
  });
});
