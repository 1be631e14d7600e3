import { LRUCache } from 'lru-cache';
import { compileConfig, resolveTarget, type CompileEnv } from '../config/compile.js';
import type { Plan, PlanNode } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { gatewayHeader, header } from '../http/headers.js';
import { inferProvider } from '../router/infer-provider.js';
import type { GatewayRequest } from '../types.js';

export interface PlanResolverOptions {
  allowRequestConfig: boolean;
}

/**
 * Chooses the plan for a request: the server's config, or — only where the server allows it — a
 * config or provider the client sent in headers. Compiled plans are cached, so a header is parsed once.
 */
export class PlanResolver {
  private readonly requestPlans = new LRUCache<string, Plan>({ max: 500 });
  private readonly autoTargets = new Map<string, PlanNode>();

  constructor(
    readonly serverPlan: Plan,
    private readonly env: CompileEnv,
    private readonly options: PlanResolverOptions,
  ) {}

  forRequest(req: GatewayRequest): Plan {
    const configHeader = gatewayHeader(req.headers, 'config');
    const providerHeader = gatewayHeader(req.headers, 'provider');
    if (configHeader === undefined && providerHeader === undefined) return this.serverPlan;
    if (!this.options.allowRequestConfig) {
      const name = configHeader !== undefined ? 'x-llmux-config / x-portkey-config' : 'x-llmux-provider / x-portkey-provider';
      throw new GatewayError('request_config_not_allowed', `this gateway does not accept ${name} headers from clients`, { param: name });
    }
    if (configHeader !== undefined) return this.compileCached(`c:${configHeader}`, () => compileConfig(configHeader, this.env, 'x-portkey-config'));
    const auth = header(req.headers, 'authorization')?.replace(/^Bearer\s+/i, '');
    return this.compileCached(`p:${providerHeader}:${auth ?? ''}`, () =>
      compileConfig({ provider: providerHeader, ...(auth ? { api_key: auth } : {}) }, this.env, 'x-portkey-provider'),
    );
  }

  private compileCached(key: string, compile: () => Plan): Plan {
    let plan = this.requestPlans.get(key);
    if (!plan) {
      plan = { ...this.serverPlan, ...compile(), budgets: this.serverPlan.budgets, rateLimits: this.serverPlan.rateLimits };
      this.requestPlans.set(key, plan);
    }
    return plan;
  }

  /** Without a config, the model name picks the provider (`anthropic/claude-…`, `claude-…`, `gpt-…`). */
  rootFor(plan: Plan, model: string): { root: PlanNode; model?: string } {
    if (plan.root) return { root: plan.root };
    const found = inferProvider(model, (id) => this.env.registry.get(id) !== undefined);
    if (!found) {
      throw new GatewayError('invalid_request', `cannot tell which provider serves model "${model}"; write it as "<provider>/<model>" or configure targets`, {
        param: 'model',
      });
    }
    let root = this.autoTargets.get(found.provider);
    if (!root) {
      root = { kind: 'target', path: 'auto', target: resolveTarget({ provider: found.provider }, 'auto', 0, this.env) };
      this.autoTargets.set(found.provider, root);
    }
    return { root, model: found.model };
  }
}
