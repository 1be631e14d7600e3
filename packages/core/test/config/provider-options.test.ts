import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.js';
import { nestsDeeper } from '../../src/http/json-depth.js';
import { checkDepth } from '../../src/http/read-body.js';
import { createGateway } from '../../src/index.js';
import { builtinProviders, ProviderRegistry } from '../../src/providers/registry.js';

describe('options.providers', () => {
  it('accepts every spelling a target may use, and custom providers', () => {
    expect(() => createGateway({ providers: { gemini: { apiKey: 'k' }, azure: { resource_name: 'r' }, 'lm-studio': { baseURL: 'http://127.0.0.1:1234/v1' } } })).not.toThrow();
    const custom = { ...builtinProviders().find((p) => p.id === 'mock')!, id: 'house' };
    expect(() => createGateway({ customProviders: [custom], providers: { house: { baseURL: 'http://127.0.0.1:9/v1' } } })).not.toThrow();
  });

  it('refuses an unknown id, a prototype name, two spellings of one provider, and a non-http(s) baseURL, naming the key', () => {
    expect(() => createGateway({ providers: { opneai: {} } })).toThrow(/options\.providers\.opneai: unknown provider "opneai"/);
    expect(() => createGateway({ providers: { constructor: {} } })).toThrow(/options\.providers\.constructor: unknown provider/);
    expect(() => createGateway({ providers: { google: {}, gemini: {} } })).toThrow(/options\.providers\.gemini: names the same provider as options\.providers\.google/);
    expect(() => createGateway({ providers: { openai: { baseURL: 'ftp://127.0.0.1/v1' } } })).toThrow(/options\.providers\.openai\.baseURL: must be an http\(s\) URL/);
  });

  it('applies defaults given under an alias to targets of the provider', () => {
    const env = { registry: new ProviderRegistry(builtinProviders()), providers: { azure: { apiKey: 'az-key', resource_name: 'res' } }, env: {} };
    const plan = compileConfig({ provider: 'azure-openai' }, env);
    const target = (plan.root as { target: { apiKey?: string; extra: Record<string, unknown> } }).target;
    expect(target.apiKey).toBe('az-key');
    expect(target.extra.resource_name).toBe('res');
  });
});

describe('model aliases', () => {
  it('have no prototype: a model named after an Object.prototype member finds no alias', () => {
    const env = { registry: new ProviderRegistry(builtinProviders()), providers: {}, env: {} };
    for (const plan of [compileConfig({ provider: 'mock', model_aliases: { fast: 'mock-1' } }, env), compileConfig(undefined, env)]) {
      expect(plan.aliases.constructor).toBeUndefined();
      expect(plan.aliases.__proto__).toBeUndefined();
      expect(plan.aliases.toString).toBeUndefined();
    }
  });
});

describe('nestsDeeper', () => {
  const nested = (levels: number) => JSON.parse('['.repeat(levels) + ']'.repeat(levels));
  it('counts a value inside max containers as too deep, for config headers and bodies alike, without recursion', () => {
    const cases = [
      [nested(65), 64, false],
      [nested(66), 64, true],
      [{ a: { b: [1, 'x', null] } }, 3, false],
      [{ a: { b: [1] } }, 2, true],
      ['text', 0, false],
      [{ a: 1 }, 0, true],
    ] as const;
    for (const [value, max, tooDeep] of cases) {
      const byBody = (() => {
        try {
          checkDepth(value, max);
          return false;
        } catch {
          return true;
        }
      })();
      expect(nestsDeeper(value, max)).toBe(byBody);
      expect(nestsDeeper(value, max)).toBe(tooDeep);
    }
    expect(nestsDeeper(nested(66), 64)).toBe(true);
    expect(nestsDeeper(nested(100_000), 64)).toBe(true);
  });
});
