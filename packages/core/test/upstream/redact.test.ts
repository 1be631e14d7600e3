import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src/upstream/redact.js';

describe('redactSecrets', () => {
  it('replaces every known secret and every key-shaped string, wherever it sits', () => {
    const text = 'bad key my-own-secret-value; sk-proj-abc123XYZ and AIzaSyA1234567890abc, AKIAABCDEFGHIJKLMNOP, Bearer abc.def-123456';
    expect(redactSecrets(text, ['my-own-secret-value'])).toBe('bad key [REDACTED]; [REDACTED] and [REDACTED], [REDACTED], [REDACTED]');
    expect(redactSecrets('sk-123456')).toBe('[REDACTED]');
    expect(redactSecrets('xASIA0123456789ABCDEF', [])).toBe('xASIA0123456789ABCDEF');
    expect(redactSecrets('ASIA0123456789ABCDEF', [])).toBe('[REDACTED]');
  });

  it('leaves text without secrets or key-shaped strings as it is', () => {
    for (const text of ['', 'sk-12345', 'chat', 'gpt-4o-mini', '2026-11-25T23:12:34.030Z', 'ea438a08-806c-4204-a090-f0e7ee69be98', 'Bearer short', 'task-force']) {
      expect(redactSecrets(text, ['absent-secret', undefined, 'abc'])).toBe(text);
    }
  });

  it('ignores secrets shorter than four characters', () => {
    expect(redactSecrets('abc abc', ['abc'])).toBe('abc abc');
  });
});
