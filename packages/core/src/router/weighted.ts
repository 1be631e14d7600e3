import type { PlanNode, StrategyNode } from '../config/plan.js';

/** A load balancer child's weight: its target's, or the nested strategy's. */
export const weightOf = (n: PlanNode) => (n.kind === 'target' ? n.target.weight : n.weight);

/**
 * Latency of each loadbalance child as an exponentially weighted moving average, in this process only:
 * latency is a local observation (network path, time of day), so sharing it through the store would
 * cost a round trip per request for little gain.
 */
const latencies = new WeakMap<StrategyNode, Map<PlanNode, number>>();
const ALPHA = 0.3;

export function observeLatency(node: StrategyNode, child: PlanNode, ms: number): void {
  let m = latencies.get(node);
  if (!m) latencies.set(node, (m = new Map()));
  const prev = m.get(child);
  m.set(child, prev === undefined ? ms : prev + ALPHA * (ms - prev));
}

export function latencyOf(node: StrategyNode, child: PlanNode): number | undefined {
  return latencies.get(node)?.get(child);
}

/**
 * Weighted random choice. In latency-aware mode each weight is divided by the child's latency
 * average; a child not measured yet counts as fast as the fastest one, so it gets measured.
 */
export function pickWeighted(node: StrategyNode, candidates: PlanNode[], random: () => number): PlanNode | undefined {
  // Weight 0 takes a child out of rotation, also when the others' circuits are open (then the router
  // answers that they are); only a group whose every weight is 0 picks among them all.
  if (candidates.some((c) => !(weightOf(c) > 0)) && node.children.some((c) => weightOf(c) > 0)) {
    candidates = candidates.filter((c) => weightOf(c) > 0);
  }
  if (candidates.length <= 1) return candidates[0];
  let weights = candidates.map(weightOf);
  if (node.strategy.latency_aware) {
    const measured = candidates.map((c) => latencyOf(node, c));
    const known = measured.filter((v): v is number => v !== undefined);
    const fastest = known.length ? Math.min(...known) : 1;
    weights = weights.map((w, i) => w / Math.max(1, measured[i] ?? fastest));
  }
  const total = weights.reduce((s, w) => s + w, 0);
  if (total <= 0) return candidates[0];
  let r = random() * total;
  for (let i = 0; i < candidates.length; i++) {
    r -= weights[i]!;
    if (r < 0 && weights[i]! > 0) return candidates[i];
  }
  // Floating-point rounding can leave r ≥ 0 after the last child: take the last one with weight.
  for (let i = candidates.length - 1; i >= 0; i--) if (weights[i]! > 0) return candidates[i];
  return candidates[0];
}
