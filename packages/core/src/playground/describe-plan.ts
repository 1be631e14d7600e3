import type { Plan, PlanNode } from '../config/plan.js';

/** One node of the server's strategy tree as the playground lists it: never a key, host or header. */
export interface PlaygroundNode {
  /** The config path a pinned request names (`config.targets[1]`), as `x-llmux-target` reports it. */
  path: string;
  kind: 'target' | 'strategy';
  /** Nesting depth below the root (0 for the root). */
  depth: number;
  name?: string;
  /** Strategy nodes: `single`, `fallback`, `loadbalance`, `conditional`. */
  mode?: string;
  /** Target nodes: the provider id. */
  provider?: string;
  /** Target nodes: the model from `override_params.model`, when the config fixes one. */
  model?: string;
  weight: number;
  /** Strategy nodes: how many targets it has. */
  targets?: number;
}

function walk(node: PlanNode, depth: number, out: PlaygroundNode[]): void {
  if (node.kind === 'strategy') {
    out.push({
      path: node.path,
      kind: 'strategy',
      depth,
      ...(node.name ? { name: node.name } : {}),
      mode: node.mode,
      weight: node.weight,
      targets: node.children.length,
    });
    for (const child of node.children) walk(child, depth + 1, out);
    return;
  }
  const model = node.target.overrideParams.model;
  out.push({
    path: node.path,
    kind: 'target',
    depth,
    ...(node.target.name ? { name: node.target.name } : {}),
    provider: node.target.provider,
    ...(typeof model === 'string' ? { model } : {}),
    weight: node.target.weight,
  });
}

/** The server plan's tree in order (root first), for the playground's pickers. */
export function describePlan(plan: Plan): PlaygroundNode[] {
  const out: PlaygroundNode[] = [];
  if (plan.root) walk(plan.root, 0, out);
  return out;
}

/** Finds the node a path names, only in the server's own tree: a pin can never add a host or a key. */
export function findNode(root: PlanNode | undefined, path: string): PlanNode | undefined {
  if (!root) return undefined;
  if (root.path === path) return root;
  if (root.kind !== 'strategy' || !path.startsWith(`${root.path}.targets[`)) return undefined;
  for (const child of root.children) {
    const found = findNode(child, path);
    if (found) return found;
  }
  return undefined;
}
