import { GatewayError } from '../errors.js';
import type { ProviderDefaults } from '../options.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Provider, ResolvedTarget } from '../providers/types.js';
import { formatIssues } from './format-issues.js';
import { checkCredentialSettings, defaultsBeside } from './credential-settings.js';
import { headerUnsafe, isHeaderSafe } from '../http/header-safe.js';
import { nestsDeeper } from '../http/json-depth.js';
import { validateConditional } from '../router/conditional.js';
import { linkTargetHost, type RequestHost } from '../router/ssrf-guard.js';
import { providerDefaults } from './provider-defaults.js';
import type { Plan, PlanNode, StrategyNode } from './plan.js';
import { configSchema, type GatewayConfig, type TargetConfig } from './schema.js';

export interface CompileEnv {
  registry: ProviderRegistry;
  providers: Record<string, ProviderDefaults>;
  env: Record<string, string | undefined>;
  /**
   * Told of every `custom_host` a target uses (request-level configs pass them to the SSRF guard). The
   * host it returns is linked to the target, for calls a provider makes to that host on its own.
   */
  onCustomHost?: (url: string, param: string) => RequestHost | void;
  /**
   * Set while compiling a config a client sent. A target whose `custom_host` came from the client gets
   * only the credentials the client sent too: the server's keys must never travel to a host it did not choose.
   */
  clientConfig?: boolean;
  /** `limits.maxJsonDepth`, for configs a client sent. */
  maxJsonDepth?: number;
}

/** Keys a child target takes from its parent unless it sets them itself. */
const INHERITED = ['provider', 'retry', 'cache', 'request_timeout', 'forward_headers'] as const;
/**
 * Inherited only by children of the same provider: an OpenAI key or host must never be sent to the
 * Anthropic child of a fallback that happens to sit under it.
 */
const SAME_PROVIDER_ONLY = ['api_key', 'custom_host'] as const;
/** Keys that are structure or extensions, never provider settings. */
const STRUCTURAL = new Set<string>([
  ...INHERITED,
  ...SAME_PROVIDER_ONLY,
  'override_params', 'targets', 'strategy', 'weight', 'name', 'on_status_codes',
  'budget', 'rate_limit', 'circuit_breaker', 'model_aliases', 'deadline',
]);

const toArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Aliases are looked up by the client's model name: no prototype, so `constructor` or `__proto__` find nothing. */
const aliasTable = (aliases: Record<string, string> = {}): Record<string, string> => Object.assign(Object.create(null) as Record<string, string>, aliases);

/**
 * A provider whose home is this machine (ollama, vllm, lmstudio): a local host all the same when a
 * client picks it, by config or by model name, unless the server gave the provider a base URL.
 */
const hasLocalHome = (baseURL: string): boolean => /^https?:\/\/(localhost|127\.|\[::1\])/i.test(baseURL);

/**
 * Parses and validates a config document; errors name the JSON path (`config.targets[1].weight`).
 * `maxDepth` bounds a client's document as a body is bounded: under the size limit it could still
 * nest thousands of levels, and every recursive step after this one would overflow the stack.
 */
export function parseConfig(input: unknown, root = 'config', maxDepth?: number): GatewayConfig {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch {
      throw new GatewayError('invalid_config', `${root} is not valid JSON`, { param: root });
    }
  }
  if (maxDepth !== undefined && nestsDeeper(raw, maxDepth)) {
    throw new GatewayError('invalid_config', `${root} is nested deeper than ${maxDepth} levels`, { param: root });
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new GatewayError('invalid_config', `invalid ${root}: ${formatIssues(root, parsed.error)}`, {
      param: root + formatFirstPath(parsed.error.issues[0]?.path ?? []),
    });
  }
  return parsed.data;
}

function formatFirstPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/**
 * A target's key and where it came from: its own `api_key` (the only one a target on a host the client
 * chose gets), else the server's — the provider's defaults or an environment variable.
 */
function keyFor(cfg: TargetConfig, defaults: ProviderDefaults, provider: Provider, env: CompileEnv, path: string, clientHost: boolean): { apiKey?: string | undefined; source: string; server?: true } {
  if (clientHost || cfg.api_key !== undefined) return { apiKey: cfg.api_key, source: `${path}.api_key` };
  if (defaults.apiKey !== undefined) return { apiKey: defaults.apiKey, source: `providers.${provider.id}.apiKey`, server: true };
  for (const name of [provider.envKey, ...(provider.envKeyAliases ?? [])]) {
    const value = name ? env.env[name] : undefined;
    if (value) return { apiKey: value, source: name!, server: true };
  }
  return { source: `${path}.api_key` };
}

/**
 * `allow_storage_uris` (Gemini and Vertex AI: may a client name files the target's credentials read?)
 * is a boolean; the server's `false` under `providers` holds for a client's config too, whose targets
 * use the server's credentials, and a client's own `true` cannot lift it.
 */
function holdServerFileRefusal(extra: Record<string, unknown>, defaults: ProviderDefaults, path: string, clientConfig: boolean): void {
  // The server's own (`providers`) was checked to be a boolean when the gateway was created.
  const own = extra.allow_storage_uris;
  if (own !== undefined && typeof own !== 'boolean') {
    throw new GatewayError('invalid_config', `${path}.allow_storage_uris must be true or false`, { param: `${path}.allow_storage_uris` });
  }
  if (clientConfig && defaults.allow_storage_uris === false) extra.allow_storage_uris = false;
}

export function resolveTarget(cfg: TargetConfig, path: string, index: number, env: CompileEnv): ResolvedTarget {
  const providerId = cfg.provider;
  if (!providerId) throw new GatewayError('invalid_config', `${path}.provider is required`, { param: `${path}.provider` });
  const provider = env.registry.get(providerId);
  if (!provider) {
    throw new GatewayError('invalid_config', `${path}.provider: unknown provider "${providerId}" (known: ${env.registry.ids().join(', ')})`, {
      param: `${path}.provider`,
    });
  }
  const clientHost = env.clientConfig === true && cfg.custom_host !== undefined;
  const defaults: ProviderDefaults = clientHost ? {} : defaultsBeside(cfg, providerDefaults(env.registry, env.providers, provider.id) ?? {});
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(defaults)) if (k !== 'baseURL' && k !== 'apiKey') extra[k] = v;
  for (const [k, v] of Object.entries(cfg)) if (!STRUCTURAL.has(k)) extra[k] = v;
  holdServerFileRefusal(extra, defaults, path, env.clientConfig === true);
  const { apiKey, source, server } = keyFor(cfg, defaults, provider, env, path, clientHost);
  // Said at compile time rather than as a network error on every call; one from the server's own
  // settings is the server's fault (500), not the client's.
  if (typeof apiKey === 'string' && !isHeaderSafe(apiKey)) {
    const serverKeyInClientPlan = env.clientConfig === true && server === true;
    throw headerUnsafe(source, serverKeyInClientPlan ? { status: 500, type: 'server_error' } : {});
  }
  checkCredentialSettings({ target: cfg, path, defaults, providerId: provider.id, clientConfig: env.clientConfig === true });
  let host: RequestHost | void = undefined;
  if (cfg.custom_host !== undefined) host = env.onCustomHost?.(cfg.custom_host, `${path}.custom_host`);
  else if (env.clientConfig && !defaults.baseURL && hasLocalHome(provider.baseURL)) env.onCustomHost?.(provider.baseURL, `${path}.provider`);
  const baseURL = (cfg.custom_host ?? defaults.baseURL ?? provider.baseURL).replace(/\/+$/, '');
  const target: ResolvedTarget = {
    path,
    index,
    provider: provider.id,
    baseURL,
    overrideParams: cfg.override_params ?? {},
    forwardHeaders: (cfg.forward_headers ?? []).map((h) => h.toLowerCase()),
    weight: cfg.weight ?? 1,
    extra,
  };
  if (cfg.name) target.name = cfg.name;
  if (apiKey) target.apiKey = apiKey;
  if (clientHost) target.clientHost = true;
  if (clientHost && host) linkTargetHost(target, host);
  if (cfg.request_timeout) target.requestTimeout = cfg.request_timeout;
  if (cfg.retry) {
    target.retry = { attempts: cfg.retry.attempts, useRetryAfter: cfg.retry.use_retry_after_header ?? true };
    if (cfg.retry.on_status_codes) target.retry.onStatusCodes = cfg.retry.on_status_codes;
  }
  if (cfg.on_status_codes) target.onStatusCodes = cfg.on_status_codes;
  return target;
}

function inherit(parent: TargetConfig, child: TargetConfig): TargetConfig {
  const out: TargetConfig = { ...child };
  for (const key of INHERITED) if (out[key] === undefined && parent[key] !== undefined) (out as Record<string, unknown>)[key] = parent[key];
  const sameProvider = child.provider === undefined || child.provider === parent.provider;
  if (sameProvider) for (const key of SAME_PROVIDER_ONLY) if (out[key] === undefined && parent[key] !== undefined) out[key] = parent[key];
  // Provider-specific settings flow down too (a parent's `aws_region` serves its Bedrock children).
  for (const [k, v] of Object.entries(parent)) if (!STRUCTURAL.has(k) && out[k] === undefined) out[k] = v;
  if (parent.override_params || child.override_params) out.override_params = { ...parent.override_params, ...child.override_params };
  return out;
}

function compileNode(cfg: TargetConfig, path: string, index: number, env: CompileEnv, models: Set<string>): PlanNode {
  if (cfg.targets?.length) {
    const strategy = cfg.strategy ?? { mode: cfg.targets.length > 1 ? 'fallback' : 'single' };
    const children = cfg.targets.map((child, i) => compileNode(inherit(cfg, child), `${path}.targets[${i}]`, i, env, models));
    if (strategy.mode === 'conditional' && !strategy.conditions?.length && strategy.default === undefined) {
      throw new GatewayError('invalid_config', `${path}.strategy: conditional mode needs conditions or a default`, { param: `${path}.strategy.conditions` });
    }
    const node: StrategyNode = { kind: 'strategy', path, index, mode: strategy.mode, strategy, children, weight: cfg.weight ?? 1 };
    if (cfg.name) node.name = cfg.name;
    const codes = strategy.on_status_codes ?? cfg.on_status_codes;
    if (codes) node.onStatusCodes = codes;
    if (cfg.cache) node.cache = cfg.cache;
    // Queries and `then` names are checked (and compiled) here, so a bad config fails at start-up.
    if (strategy.mode === 'conditional') validateConditional(node, { clientConfig: env.clientConfig === true });
    return node;
  }
  const target = resolveTarget(cfg, path, index, env);
  const model = target.overrideParams.model;
  if (typeof model === 'string') models.add(model);
  return cfg.cache ? { kind: 'target', path, target, cache: cfg.cache } : { kind: 'target', path, target };
}

/** Target settings a config without targets may give for the target each request's model name picks. */
const MODEL_TARGET_SETTINGS = ['retry', 'request_timeout', 'override_params', 'forward_headers'] as const;

/** Runs once per config (at start-up, or once per distinct request-level config header); `input` is validated here. */
export function compileConfig(input: unknown, env: CompileEnv, root = 'config'): Plan {
  if (input === undefined) return { budgets: [], rateLimits: [], aliases: aliasTable(), deadline: 120_000, models: [] };
  const cfg = parseConfig(input, root, env.maxJsonDepth);
  const models = new Set<string>();
  const plan: Plan = {
    budgets: toArray(cfg.budget),
    rateLimits: toArray(cfg.rate_limit),
    aliases: aliasTable(cfg.model_aliases),
    deadline: cfg.deadline ?? 120_000,
    models: [],
  };
  if (cfg.targets?.length || cfg.provider) plan.root = compileNode(cfg, root, 0, env, models);
  else {
    const settings: Record<string, unknown> = {};
    for (const key of MODEL_TARGET_SETTINGS) if (cfg[key] !== undefined) settings[key] = cfg[key];
    if (Object.keys(settings).length) plan.modelTargetSettings = settings;
  }
  if (cfg.cache) plan.cache = cfg.cache;
  if (cfg.circuit_breaker) plan.breaker = cfg.circuit_breaker;
  plan.models = [...new Set([...Object.keys(plan.aliases), ...models])];
  return plan;
}
