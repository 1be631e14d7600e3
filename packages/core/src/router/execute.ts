import type { PlanNode, StrategyNode, TargetNode } from '../config/plan.js';
import { GatewayError, isGatewayError, type AttemptSummary } from '../errors.js';
import type { ResolvedTarget } from '../providers/types.js';

/** What the router knows of the request; it knows nothing of provider formats. */
export interface RouteEnv {
  /** Aborts when the client leaves or the overall deadline passes. */
  signal: AbortSignal;
  attempts: AttemptSummary[];
  /** Retries made (not counting fallbacks). */
  retries: number;
  random?: () => number;
}

export type Attempt<T> = (target: ResolvedTarget, signal: AbortSignal) => Promise<T>;

export interface Routed<T> {
  value: T;
  target: ResolvedTarget;
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function runTarget<T>(node: TargetNode, env: RouteEnv, attempt: Attempt<T>): Promise<Routed<T>> {
  const target = node.target;
  const started = Date.now();
  try {
    const value = await attempt(target, env.signal);
    env.attempts.push({ target: target.path, provider: target.provider, status: 200, latency_ms: Date.now() - started });
    return { value, target };
  } catch (e) {
    const record: AttemptSummary = { target: target.path, provider: target.provider, error: describe(e), latency_ms: Date.now() - started };
    if (isGatewayError(e)) record.status = e.status;
    env.attempts.push(record);
    throw e;
  }
}

function pickWeighted(children: PlanNode[], random: () => number): PlanNode | undefined {
  const weightOf = (n: PlanNode) => (n.kind === 'target' ? n.target.weight : n.weight);
  const total = children.reduce((s, n) => s + weightOf(n), 0);
  if (total <= 0) return children[0];
  let r = random() * total;
  for (const child of children) {
    r -= weightOf(child);
    if (r < 0) return child;
  }
  return children[children.length - 1];
}

async function runStrategy<T>(node: StrategyNode, env: RouteEnv, attempt: Attempt<T>): Promise<Routed<T>> {
  switch (node.mode) {
    case 'loadbalance': {
      const chosen = pickWeighted(node.children, env.random ?? Math.random);
      if (!chosen) throw new GatewayError('invalid_config', `${node.path} has no targets`);
      return runNode(chosen, env, attempt);
    }
    case 'fallback': {
      let last: unknown;
      for (const child of node.children) {
        if (env.signal.aborted) throw env.signal.reason;
        try {
          return await runNode(child, env, attempt);
        } catch (e) {
          last = e;
          if (env.signal.aborted) throw e;
          // With on_status_codes, only those statuses move on; anything else is the answer.
          if (node.onStatusCodes && !(isGatewayError(e) && node.onStatusCodes.includes(e.status))) throw e;
        }
      }
      throw last;
    }
    default: {
      const first = node.children[0];
      if (!first) throw new GatewayError('invalid_config', `${node.path} has no targets`);
      return runNode(first, env, attempt);
    }
  }
}

export function runNode<T>(node: PlanNode, env: RouteEnv, attempt: Attempt<T>): Promise<Routed<T>> {
  return node.kind === 'target' ? runTarget(node, env, attempt) : runStrategy(node, env, attempt);
}

/** Runs the strategy tree; when every target failed, the error lists each attempt. */
export async function route<T>(root: PlanNode, env: RouteEnv, attempt: Attempt<T>): Promise<Routed<T>> {
  try {
    return await runNode(root, env, attempt);
  } catch (e) {
    if (env.attempts.length <= 1 || !isGatewayError(e)) throw e;
    const statuses = new Set(env.attempts.map((a) => a.status));
    const status = statuses.size === 1 && e.status ? e.status : 502;
    throw new GatewayError('all_targets_failed', `All ${env.attempts.length} attempts failed; last: ${e.message}`, {
      status,
      source: e.source,
      attempts: env.attempts,
      ...(e.provider ? { provider: e.provider } : {}),
      ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}),
    });
  }
}
