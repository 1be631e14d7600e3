import type { PlanNode, StrategyNode } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { compileQuery, type Predicate, type QueryOptions } from './query.js';
import type { RouteInput } from './route-input.js';

interface CompiledConditions {
  rules: Array<{ match: Predicate; child: PlanNode }>;
  fallback?: PlanNode;
}

/** Compiled once per plan node; the config is immutable after compilation. */
const compiled = new WeakMap<StrategyNode, CompiledConditions>();

const nameOf = (n: PlanNode) => (n.kind === 'target' ? n.target.name : n.name);

function compile(node: StrategyNode, options: QueryOptions): CompiledConditions {
  const byName = new Map<string, PlanNode>();
  for (const [i, child] of node.children.entries()) {
    const name = nameOf(child);
    if (name === undefined) continue;
    // A second target of the same name could never be chosen: refused rather than silently unreachable.
    if (byName.has(name)) {
      const path = `${node.path}.targets[${i}].name`;
      throw new GatewayError('invalid_config', `${path}: another target of this strategy is already named "${name}"`, { param: path });
    }
    byName.set(name, child);
  }
  const childNamed = (name: string, path: string) => {
    const child = byName.get(name);
    if (!child) throw new GatewayError('invalid_config', `${path}: no target named "${name}"`, { param: path });
    return child;
  };
  const rules = (node.strategy.conditions ?? []).map((c, i) => ({
    match: compileQuery(c.query, `${node.path}.strategy.conditions[${i}].query`, options),
    child: childNamed(c.then, `${node.path}.strategy.conditions[${i}].then`),
  }));
  const out: CompiledConditions = { rules };
  if (node.strategy.default !== undefined) out.fallback = childNamed(node.strategy.default, `${node.path}.strategy.default`);
  return out;
}

/** Checks a conditional node's queries and target names; called by the config compiler. */
export function validateConditional(node: StrategyNode, options: QueryOptions): void {
  compiled.set(node, compile(node, options));
}

/** The first condition that holds picks its target; otherwise `default`; otherwise a 400 naming the node. */
export function chooseConditional(node: StrategyNode, input: RouteInput | undefined): PlanNode {
  let c = compiled.get(node);
  if (!c) {
    // Only a node the compiler never saw gets here, and the compiler sees every client config.
    c = compile(node, { clientConfig: false });
    compiled.set(node, c);
  }
  const empty: RouteInput = { metadata: {}, identity: {}, params: {} };
  for (const rule of c.rules) if (rule.match(input ?? empty)) return rule.child;
  if (c.fallback) return c.fallback;
  throw new GatewayError('invalid_request', `no condition of ${node.path}.strategy matched this request and it has no default`, {
    param: `${node.path}.strategy.conditions`,
  });
}
