import { LRUCache } from 'lru-cache';
import { compileConfig, resolveTarget, type CompileEnv } from '../config/compile.js';
import type { Plan, PlanNode } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { gatewayHeader, header, mayHaveGatewayHeaders, sentName } from '../http/headers.js';
import { inferProvider } from '../router/infer-provider.js';
import { isAllowedHost, markRequestHosts, parseRequestHost, type RequestHost } from '../router/ssrf-guard.js';
import type { GatewayRequest } from '../types.js';
import { firstSent, readSettingsHeaders, settingsFor } from './settings-headers.js';

/** Saved config ids (`pc-…`) live in Portkey's hosted product; here a config header carries the JSON itself. */
function headerConfig(value: string, name: string): string {
  if (!value.trimStart().startsWith('{')) {
    throw new GatewayError('invalid_config', `${name} must be a JSON config object; saved config ids are not supported`, { param: name });
  }
  return value;
}

/**
 * The header config with the provider headers' target in it, when it names none itself; else as sent.
 * `settingsHeader` names a provider-settings header the target carries: dropped with it, the client's
 * own keys would silently give way to whatever the config's targets resolve to.
 */
function withHeaderTarget(text: string, target: Record<string, string>, name: string, settingsHeader: string | undefined): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text; // compileConfig reports it
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return text;
  const cfg = parsed as Record<string, unknown>;
  if (cfg.provider === undefined && cfg.targets === undefined) return { ...cfg, ...target };
  if (settingsHeader !== undefined) {
    throw new GatewayError('invalid_request', `${settingsHeader} applies to the target of the provider header, but ${name} names its own provider or targets; put the setting in the config`, {
      param: settingsHeader,
    });
  }
  return cfg;
}

const localHomeRefused = (model: string, id: string) =>
  new GatewayError(
    'forbidden',
    `model "${model}" picks provider "${id}", which runs on the gateway's own machine; a client may pick it only once the server configures options.providers.${id}.baseURL`,
    { param: 'model' },
  );

export interface PlanResolverOptions {
  allowRequestConfig: boolean;
  /** `limits.maxJsonDepth`, applied to config headers too. */
  maxJsonDepth: number;
  /** `options.allowedHosts`: a provider whose home is this machine may be picked by model name when they list its host. */
  allowedHosts?: readonly string[];
}

/**
 * Chooses the plan for a request: the server's config, or — only where the server allows it — a
 * config or provider the client sent in headers. Compiled plans are cached, so a header is parsed once.
 */
export class PlanResolver {
  private readonly requestPlans = new LRUCache<string, Plan>({ max: 500 });
  /** Per provider a model name picked: its target, or null when a client may not pick it. */
  private readonly autoTargets = new Map<string, PlanNode | null>();
  private readonly autoTargetsByPlan = new WeakMap<Plan, Map<string, PlanNode | null>>();

  constructor(
    readonly serverPlan: Plan,
    private readonly env: CompileEnv,
    private readonly options: PlanResolverOptions,
  ) {}

  forRequest(req: GatewayRequest): Plan {
    // Most requests carry no gateway header at all: one walk of the header names says so, instead of
    // one per header read below and the settings headers' own.
    if (!mayHaveGatewayHeaders(req.headers)) return this.serverPlan;
    const configHeader = gatewayHeader(req.headers, 'config');
    const providerHeader = gatewayHeader(req.headers, 'provider');
    const hostHeader = gatewayHeader(req.headers, 'custom-host');
    if (gatewayHeader(req.headers, 'virtual-key') !== undefined) {
      // Ignoring it would answer from the server's target on the server's key, not the one the client named.
      const name = sentName(req, 'virtual-key');
      throw new GatewayError('invalid_request', `${name} names a key stored in Portkey's hosted product, which llmux cannot resolve; configure the target on the server, or send x-portkey-provider with Authorization where the server accepts request configs`, {
        param: name,
      });
    }
    const settingsHeaders = readSettingsHeaders(req.headers);
    if (configHeader === undefined && providerHeader === undefined && hostHeader === undefined && settingsHeaders === undefined) return this.serverPlan;
    if (!this.options.allowRequestConfig) {
      const name =
        configHeader !== undefined ? sentName(req, 'config')
        : providerHeader !== undefined ? sentName(req, 'provider')
        : hostHeader !== undefined ? sentName(req, 'custom-host')
        : firstSent(settingsHeaders!);
      throw new GatewayError('request_config_not_allowed', `this gateway does not accept ${name} headers from clients`, { param: name });
    }
    const provider = providerHeader === undefined ? undefined : this.env.registry.canonical(providerHeader);
    const settings = settingsHeaders === undefined ? {} : settingsFor(settingsHeaders, provider, sentName(req, 'provider'));
    const auth = providerHeader === undefined ? undefined : header(req.headers, 'authorization')?.replace(/^Bearer\s+/i, '');
    // Settings first: none of them may stand in for the provider, key or host the headers name.
    const target = providerHeader === undefined ? undefined : { ...settings, provider: providerHeader, ...(auth ? { api_key: auth } : {}), ...(hostHeader ? { custom_host: hostHeader } : {}) };
    const targetKey = `p:${providerHeader}:${hostHeader ?? ''}:${auth ?? ''}:${settingsHeaders ? JSON.stringify(settings) : ''}`;
    if (configHeader !== undefined) {
      const name = req.headers['x-llmux-config'] !== undefined ? 'x-llmux-config' : 'x-portkey-config';
      const text = headerConfig(configHeader, name);
      if (!target) return this.compileCached(`c:${name}:${configHeader}`, (env) => compileConfig(text, env, name));
      // Portkey's way: a config that names no provider or targets (only `retry`, `cache`, …) applies
      // to the provider and key of the headers, as `new Portkey({ provider, Authorization, config })` sends them.
      const settingsHeader = settingsHeaders && firstSent(settingsHeaders);
      return this.compileCached(`c:${name}:${configHeader}:${targetKey}`, (env) => compileConfig(withHeaderTarget(text, target, name, settingsHeader), env, name));
    }
    if (!target) {
      throw new GatewayError('invalid_request', 'x-portkey-custom-host needs x-portkey-provider (or send a whole x-portkey-config)', {
        param: 'x-portkey-custom-host',
      });
    }
    return this.compileCached(targetKey, (env) => compileConfig(target, env, 'x-portkey-provider'));
  }

  /**
   * A request-level plan never loosens the server's: budgets and rate limits stay the server's and
   * the deadline can only get shorter. Hosts the client chose are remembered for the SSRF guard.
   */
  private compileCached(key: string, compile: (env: CompileEnv) => Plan): Plan {
    let plan = this.requestPlans.get(key);
    if (!plan) {
      const hosts: RequestHost[] = [];
      const onCustomHost = (url: string, param: string) => {
        const host = parseRequestHost(url, param);
        hosts.push(host);
        return host;
      };
      const compiled = compile({ ...this.env, clientConfig: true, onCustomHost, maxJsonDepth: this.options.maxJsonDepth });
      plan = {
        ...this.serverPlan,
        ...compiled,
        budgets: this.serverPlan.budgets,
        rateLimits: this.serverPlan.rateLimits,
        deadline: Math.min(compiled.deadline, this.serverPlan.deadline),
        fromClient: true,
      };
      markRequestHosts(plan, hosts);
      this.requestPlans.set(key, plan);
    }
    return plan;
  }

  /** Without a config, the model name picks the provider (`anthropic/claude-…`, `claude-…`, `gpt-…`). */
  rootFor(plan: Plan, model: string): { root: PlanNode; model?: string } {
    if (plan.root) return { root: plan.root };
    // An alias stands for its model, and that model's name picks the provider.
    const found = inferProvider(plan.aliases[model] ?? model, (id) => this.env.registry.get(id) !== undefined);
    if (!found) {
      throw new GatewayError('invalid_request', `cannot tell which provider serves model "${model}"; write it as "<provider>/<model>" or configure targets`, {
        param: 'model',
      });
    }
    const settings = plan.modelTargetSettings;
    // A plan with settings of its own keeps its model-name targets apart (one map per such plan).
    let targets = this.autoTargets;
    if (settings) {
      targets = this.autoTargetsByPlan.get(plan) ?? new Map();
      this.autoTargetsByPlan.set(plan, targets);
    }
    let root = targets.get(found.provider);
    if (root === undefined) {
      // The model name is the client's choice, so the provider it picks is resolved as a client
      // config's would be (compile.ts): one whose home is this machine (ollama, vllm, lmstudio) and
      // has no base URL from the server is reported as a local host, reachable only when listed in allowedHosts.
      let local: string | undefined;
      const env: CompileEnv = { ...this.env, clientConfig: true, onCustomHost: (url) => void (local = url) };
      const target = resolveTarget({ ...settings, provider: found.provider }, 'auto', 0, env);
      root = local === undefined || isAllowedHost(new URL(local), this.options.allowedHosts ?? []) ? { kind: 'target', path: 'auto', target } : null;
      targets.set(found.provider, root);
    }
    // A new error each time: a thrown error collects the request's own response headers.
    if (root === null) throw localHomeRefused(model, this.env.registry.canonical(found.provider));
    return { root, model: found.model };
  }
}
