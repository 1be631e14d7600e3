import type { BudgetConfig, CacheConfig, CircuitBreakerConfig, RateLimitConfig, StrategyConfig } from './schema.js';
import type { ResolvedTarget } from '../providers/types.js';

/** A config compiled once: inheritance applied, providers, keys and URLs resolved. */
export type PlanNode = TargetNode | StrategyNode;

export interface TargetNode {
  kind: 'target';
  path: string;
  target: ResolvedTarget;
  cache?: CacheConfig;
}

export interface StrategyNode {
  kind: 'strategy';
  path: string;
  index: number;
  name?: string;
  mode: StrategyConfig['mode'];
  strategy: StrategyConfig;
  children: PlanNode[];
  weight: number;
  onStatusCodes?: number[];
  cache?: CacheConfig;
}

export interface Plan {
  /** Absent when no config was given: each request is routed by its model name. */
  root?: PlanNode;
  cache?: CacheConfig;
  budgets: BudgetConfig[];
  rateLimits: RateLimitConfig[];
  breaker?: CircuitBreakerConfig;
  /** Built without a prototype (compile.ts): readers index it with the client's model name as is. */
  aliases: Record<string, string>;
  /** ms across retries and fallbacks. */
  deadline: number;
  /** Models the config names, for `GET /v1/models`. */
  models: string[];
  /**
   * Without a root: the target settings the config gives at its top (`retry`, `request_timeout`,
   * `override_params`, `forward_headers`), for the target the model name picks (Portkey accepts a
   * config of only those).
   */
  modelTargetSettings?: Record<string, unknown>;
  /**
   * Built from what the client sent (a config, provider or host header), not the server's config.
   * A gateway key's copy of a plan (its own budgets and limits added) keeps the mark of the one it copies.
   */
  fromClient?: true;
}

/** Every target of a tree, in the order routing would try them (depth first): all branches count. */
export function targetsOf(node: PlanNode | undefined, out: ResolvedTarget[] = []): ResolvedTarget[] {
  if (!node) return out;
  if (node.kind === 'target') out.push(node.target);
  else for (const child of node.children) targetsOf(child, out);
  return out;
}
