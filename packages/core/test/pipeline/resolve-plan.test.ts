import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.js';
import { GatewayError } from '../../src/errors.js';
import { PlanResolver } from '../../src/pipeline/resolve-plan.js';
import { builtinProviders, ProviderRegistry } from '../../src/providers/registry.js';

const env = (providers = {}) => ({ registry: new ProviderRegistry(builtinProviders()), providers, env: {} });
const resolver = (options: Omit<ConstructorParameters<typeof PlanResolver>[2], 'maxJsonDepth'>, providers = {}) => {
  const e = env(providers);
  return new PlanResolver(compileConfig(undefined, e), e, { maxJsonDepth: 64, ...options });
};
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as GatewayError;
  }
  throw new Error('expected a refusal');
};

describe('PlanResolver', () => {
  it('model-name routing reaches a local-home provider only when the server configured it or lists its host', () => {
    const none = resolver({ allowRequestConfig: false });
    for (const model of ['ollama/llama3', 'vllm/x', 'lmstudio/x', 'lm-studio/x']) {
      const e = refusal(() => none.rootFor(none.serverPlan, model));
      expect(e.status).toBe(403);
      expect(e.param).toBe('model');
    }
    // A new error per request: a thrown error collects that request's response headers.
    expect(refusal(() => none.rootFor(none.serverPlan, 'vllm/x'))).not.toBe(refusal(() => none.rootFor(none.serverPlan, 'vllm/x')));
    expect(none.rootFor(none.serverPlan, 'gpt-4o-mini').model).toBe('gpt-4o-mini');

    const listed = resolver({ allowRequestConfig: false, allowedHosts: ['localhost:11434'] });
    expect(listed.rootFor(listed.serverPlan, 'ollama/llama3').model).toBe('llama3');
    const configured = resolver({ allowRequestConfig: false }, { vllm: { baseURL: 'http://10.0.0.5:8000/v1' } });
    expect((configured.rootFor(configured.serverPlan, 'vllm/x').root as { target: { baseURL: string } }).target.baseURL).toBe('http://10.0.0.5:8000/v1');
  });

  it('bounds a config header nesting by maxJsonDepth before compiling it', () => {
    const r = resolver({ allowRequestConfig: true, maxJsonDepth: 4 });
    const req = (config: unknown) => ({ method: 'POST', path: '/v1/chat/completions', headers: { 'x-llmux-config': JSON.stringify(config) } });
    expect(r.forRequest(req({ provider: 'mock', override_params: { a: { b: 1 } } })).root).toBeDefined();
    const e = refusal(() => r.forRequest(req({ provider: 'mock', override_params: { a: { b: { c: { d: 1 } } } } })));
    expect(e.status).toBe(400);
    expect(e.param).toBe('x-llmux-config');
    expect(refusal(() => r.forRequest({ method: 'POST', path: '/', headers: { 'x-llmux-config': '{"provider":' } })).param).toBe('x-llmux-config');
  });
});
