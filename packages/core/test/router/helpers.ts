import { compileConfig } from '../../src/config/compile.js';
import type { PlanNode } from '../../src/config/plan.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { GatewayError } from '../../src/errors.js';
import { builtinProviders, ProviderRegistry } from '../../src/providers/registry.js';
import type { ResolvedTarget } from '../../src/providers/types.js';
import type { RouteEnv } from '../../src/router/execute.js';

export const compileEnv = () => ({ registry: new ProviderRegistry(builtinProviders()), providers: {}, env: {} });

export function planOf(config: GatewayConfig) {
  return compileConfig(config, compileEnv());
}

export function rootOf(config: GatewayConfig): PlanNode {
  return planOf(config).root!;
}

/** What a scripted target does on one attempt. */
export type Step =
  | 'ok'
  | 'hang'
  | 'reset'
  | 'timeout'
  | number
  | { status: number; retryAfter?: number; message?: string; type?: string };

/** The errors `upstream/call.ts` raises, so the router sees exactly what it sees in production. */
export function failure(step: Exclude<Step, 'ok' | 'hang'>, provider = 'mock'): GatewayError {
  if (step === 'reset') return new GatewayError('network_error', `${provider} could not be reached: other side closed`, { provider, source: 'provider' });
  if (step === 'timeout') return new GatewayError('upstream_timeout', `${provider} did not answer within 50 ms`, { provider, source: 'provider' });
  const s = typeof step === 'number' ? { status: step } : step;
  return new GatewayError('provider_error', s.message ?? `upstream said ${s.status}`, {
    status: s.status,
    provider,
    source: 'provider',
    type: s.type ?? 'provider_error',
    ...(s.retryAfter !== undefined ? { retryAfter: s.retryAfter } : {}),
  });
}

/**
 * Attempts scripted per target name: each call takes the next step of that target's list (the last
 * step repeats). `calls` records the order targets were tried in.
 */
export function scripted(script: Record<string, Step[]>) {
  const calls: string[] = [];
  const seen: Record<string, number> = {};
  const attempt = (target: ResolvedTarget, signal: AbortSignal): Promise<string> => {
    const name = target.name ?? target.path;
    calls.push(name);
    const steps = script[name] ?? ['ok'];
    const i = seen[name] ?? 0;
    seen[name] = i + 1;
    const step = steps[Math.min(i, steps.length - 1)]!;
    if (step === 'ok') return Promise.resolve(`answer from ${name}`);
    if (step === 'hang') {
      return new Promise((_, reject) => {
        const stop = () => reject(new GatewayError('stream_interrupted', 'the client closed the request', { status: 499 }));
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      });
    }
    return Promise.reject(failure(step, target.provider));
  };
  return { attempt, calls };
}

/** A fake clock and sleep: sleeping advances the clock at once and is recorded. */
export function fakeTime(start = 1_000_000) {
  const t = { now: start, sleeps: [] as number[] };
  return {
    t,
    now: () => t.now,
    sleep: async (ms: number, signal: AbortSignal) => {
      if (signal.aborted) throw signal.reason;
      t.sleeps.push(ms);
      t.now += ms;
    },
  };
}

export function envOf(extra: Partial<RouteEnv> = {}): RouteEnv {
  return { signal: new AbortController().signal, attempts: [], retries: 0, ...extra };
}
