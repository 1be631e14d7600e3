import type { Plan, PlanNode } from '../config/plan.js';
import type { CacheConfig, TargetConfig } from '../config/schema.js';

/** A request's cache settings, resolved once per plan. */
export interface CacheSettings {
  mode: 'simple' | 'semantic';
  maxAgeMs: number;
  threshold: number;
  shared: boolean;
  semanticTools: boolean;
  /** The `embedding` target config as written, if any. */
  embedding?: TargetConfig;
  /** Where the settings came from (`config.cache`, `config.targets[0].cache`), for messages. */
  path: string;
}

/** Portkey's default: an entry lives for 7 days unless `max_age` says otherwise. */
export const DEFAULT_MAX_AGE_S = 7 * 24 * 3600;
export const DEFAULT_THRESHOLD = 0.95;

/** Each provider's standard embedding model, the default `cache.embedding` for semantic mode. */
export const DEFAULT_EMBEDDING_MODELS: Record<string, string> = {
  openai: 'text-embedding-3-small',
  'azure-openai': 'text-embedding-3-small',
  mistral: 'mistral-embed',
  google: 'gemini-embedding-001',
  cohere: 'embed-english-v3.0',
  bedrock: 'amazon.titan-embed-text-v2:0',
  together: 'BAAI/bge-large-en-v1.5',
  fireworks: 'nomic-ai/nomic-embed-text-v1.5',
  ollama: 'nomic-embed-text',
  vllm: 'intfloat/e5-mistral-7b-instruct',
  mock: 'mock-embedding',
};

/**
 * The cache that applies to a request: the top-level `cache`, else the first `cache` met walking from
 * the root through each strategy's first target (the target a single or fallback strategy tries first).
 * Lookup happens before routing, so it cannot depend on which target will answer; a `cache` set only
 * on a later fallback target or a non-first load-balance target does not apply.
 */
function findCache(plan: Plan): { cache: CacheConfig; path: string } | undefined {
  if (plan.cache) return { cache: plan.cache, path: plan.root?.path.split('.')[0] ?? 'config' };
  let node: PlanNode | undefined = plan.root;
  while (node) {
    if (node.cache) return { cache: node.cache, path: node.path };
    node = node.kind === 'strategy' ? node.children[0] : undefined;
  }
  return undefined;
}

const byPlan = new WeakMap<Plan, CacheSettings | null>();

export function cacheSettingsFor(plan: Plan): CacheSettings | undefined {
  const known = byPlan.get(plan);
  if (known !== undefined) return known ?? undefined;
  const found = findCache(plan);
  let settings: CacheSettings | null = null;
  if (found && found.cache.mode !== 'disabled') {
    const c = found.cache;
    settings = {
      mode: c.mode === 'semantic' ? 'semantic' : 'simple',
      maxAgeMs: (c.max_age ?? DEFAULT_MAX_AGE_S) * 1000,
      threshold: c.threshold ?? DEFAULT_THRESHOLD,
      shared: c.shared ?? false,
      semanticTools: c.semantic_tools ?? false,
      path: `${found.path}.cache`,
    };
    if (c.embedding) settings.embedding = c.embedding as TargetConfig;
  }
  byPlan.set(plan, settings);
  return settings ?? undefined;
}

/** The first target the router would try, for the default embedding target. */
export function firstTarget(node: PlanNode | undefined): PlanNode | undefined {
  while (node?.kind === 'strategy') node = node.children[0];
  return node;
}
