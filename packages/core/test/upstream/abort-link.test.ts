import { describe, expect, it } from 'vitest';
import { AbortLink, asAbortSignal } from '../../src/upstream/abort-link.js';

describe('AbortLink', () => {
  it('calls each listener once with its reason, and none added after', () => {
    const link = new AbortLink();
    const seen: unknown[] = [];
    const a = () => seen.push(['a', link.reason]);
    const b = () => seen.push(['b', link.reason]);
    link.addEventListener('abort', a);
    link.addEventListener('abort', b);
    link.removeEventListener('abort', b);
    link.abort('gone');
    link.abort('again');
    link.addEventListener('abort', b);
    expect(link.aborted).toBe(true);
    expect(link.reason).toBe('gone');
    expect(seen).toEqual([['a', 'gone']]);
  });

  it('a failing listener stops neither the others nor the caller, and crashes nothing', () => {
    const link = new AbortLink();
    const seen: string[] = [];
    link.addEventListener('abort', () => {
      throw new Error('listener broke');
    });
    link.addEventListener('abort', () => seen.push('second'));
    expect(() => link.abort()).not.toThrow();
    expect(seen).toEqual(['second']);
  });

  it('gives code outside the gateway a real AbortSignal that follows it', () => {
    const link = new AbortLink();
    const signal = asAbortSignal(link);
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(asAbortSignal(link)).toBe(signal);
    link.abort(new Error('deadline'));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).message).toBe('deadline');
    const done = new AbortLink();
    done.abort('x');
    expect(done.toSignal().aborted).toBe(true);
    const real = new AbortController().signal;
    expect(asAbortSignal(real)).toBe(real);
  });
});
