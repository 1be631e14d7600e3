import { describe, expect, it } from 'vitest';
import { compileQuery, MAX_IN_OPERANDS } from '../../src/router/query.js';
import type { RouteInput } from '../../src/router/route-input.js';

const q = (query: object, over: Partial<RouteInput>, clientConfig = false) =>
  compileQuery(query, 'q', { clientConfig })({ metadata: {}, identity: {}, params: {}, ...over });

describe('$eq / $ne / $in / $nin over objects and primitives', () => {
  it('objects equal by their JSON text, never a primitive; primitives keep the numeric-string rule', () => {
    const metadata = { plan: { tier: 'pro', seats: 3 }, n: '3', list: [1, 2], blank: ' ' };
    expect(q({ 'metadata.plan': { $eq: { tier: 'pro', seats: 3 } } }, { metadata })).toBe(true);
    expect(q({ 'metadata.plan': { $eq: { tier: 'pro' } } }, { metadata })).toBe(false);
    expect(q({ 'metadata.plan': { $ne: { tier: 'pro', seats: 3 } } }, { metadata })).toBe(false);
    expect(q({ 'metadata.plan': { $in: ['[object Object]', 3, {}, { tier: 'pro', seats: 3 }] } }, { metadata })).toBe(true);
    expect(q({ 'metadata.plan': { $in: ['[object Object]', {}] } }, { metadata })).toBe(false);
    expect(q({ 'metadata.list': { $eq: [1, 2] } }, { metadata })).toBe(true);
    expect(q({ 'metadata.list': { $in: [[1, 2]] } }, { metadata })).toBe(false);
    expect(q({ 'metadata.list': { $in: [2] } }, { metadata })).toBe(true);
    expect(q({ 'metadata.n': { $in: [{}, 3] } }, { metadata })).toBe(true);
    expect(q({ 'metadata.n': { $nin: [{}, 3] } }, { metadata })).toBe(false);
    expect(q({ 'metadata.blank': { $in: [0] } }, { metadata })).toBe(false);
    expect(q({ 'params.messages': { $in: [{ role: 'user', content: 'hi' }] } }, { params: { messages: [{ role: 'system', content: 's' }, { role: 'user', content: 'hi' }] } })).toBe(true);
  });

  it('serialises each object value once per test, however many object operands are listed', () => {
    const original = JSON.stringify;
    const messages = [{ role: 'user', content: 'x'.repeat(10_000) }];
    const test = compileQuery({ 'params.messages': { $in: new Array(500).fill({}) } }, 'q', { clientConfig: true });
    let calls = 0;
    JSON.stringify = function (...args: Parameters<typeof JSON.stringify>) {
      calls++;
      return original.apply(JSON, args);
    } as typeof JSON.stringify;
    try {
      expect(test({ metadata: {}, identity: {}, params: { messages } })).toBe(false);
    } finally {
      JSON.stringify = original;
    }
    expect(calls).toBe(1);
  });
});

describe('operand count of $in / $nin', () => {
  const list = (n: number) => Array.from({ length: n }, (_, i) => i);

  it(`a client config lists at most ${MAX_IN_OPERANDS}, refused naming the path`, () => {
    for (const op of ['$in', '$nin']) {
      expect(() => compileQuery({ 'metadata.x': { [op]: list(MAX_IN_OPERANDS) } }, 'x-portkey-config.q', { clientConfig: true })).not.toThrow();
      expect(() => compileQuery({ $or: [{ 'metadata.x': { [op]: list(MAX_IN_OPERANDS + 1) } }] }, 'x-portkey-config.q', { clientConfig: true })).toThrow(
        expect.objectContaining({ code: 'invalid_config', param: `x-portkey-config.q.$or[0].metadata.x.${op}` }),
      );
    }
  });

  it("the server's config is not capped", () => {
    expect(q({ 'metadata.x': { $in: list(MAX_IN_OPERANDS * 2) } }, { metadata: { x: MAX_IN_OPERANDS * 2 - 1 } })).toBe(true);
  });
});
