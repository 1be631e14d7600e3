import { failedWithOneOf } from './retry-policy.js';
import type { PlanNode, StrategyNode } from '../config/plan.js';
import { clientClosed, GatewayError, isGatewayError, toGatewayError, type AttemptSummary } from '../errors.js';
import type { ResolvedTarget } from '../providers/types.js';
import type { Breaker } from './breaker.js';
import { chooseConditional } from './conditional.js';
import { finalError, withAttempts } from './final-error.js';
import type { RouteInput } from './route-input.js';
import { runTarget } from './run-target.js';
import { abortableSleep, DEFAULT_DEADLINE_MS, type RoutingOptions } from './routing-options.js';
import { DeadlineReached, RunState, Skipped, type Run } from './run.js';
import { latencyOf, observeLatency, pickWeighted } from './weighted.js';
import { asAbortSignal, type AbortSource } from '../upstream/abort-link.js';

/** What the router knows of the request; it knows nothing of provider formats. */
export interface RouteEnv {
  /** The client's signal: once it aborts, nothing is retried or tried next. */
  signal: AbortSource;
  /** Every try, filled in as the router goes (retries and skipped circuits included). */
  attempts: AttemptSummary[];
  /** Retries made (not counting fallbacks); read back into `x-llmux-retries`. */
  retries: number;
  /** The target tried last: a failed request's headers name it, as an answer's name the one that answered. */
  last?: ResolvedTarget;
  /** Fields conditional routing may test. */
  input?: RouteInput;
  /** ms across every retry and fallback, up to the first content token of a stream. Default 120000. */
  deadline?: number;
  breaker?: Breaker;
  routing?: RoutingOptions;
  /**
   * The answer is a stream, read after routing returns: the client's signal stays linked to stop it.
   * A non-stream answer is whole when routing returns, and the link goes at once (a long-lived signal
   * serving many calls would otherwise gather a listener per call until a GC).
   */
  streaming?: boolean;
  /** Where a run waiting out a retry's backoff is kept meanwhile, for `close()` to cut (the gateway's `backingOff`). */
  backingOff?: Set<{ cut(error: GatewayError): void }>;
}

export type Attempt<T> = (target: ResolvedTarget, signal: AbortSource) => Promise<T>;

export interface Routed<T> {
  value: T;
  target: ResolvedTarget;
  /** A streamed answer: lets go of the client's signal once the stream is over (see `RouteEnv.streaming`). */
  release?: () => void;
}

const targetsOf = (n: PlanNode) => (n.kind === 'target' ? n.target.path : n.path);

async function runFallback<T>(node: StrategyNode, run: Run<T>): Promise<Routed<T>> {
  let failed: unknown;
  let skipped: Skipped | undefined;
  for (const child of node.children) {
    run.checkLive();
    try {
      return await runNode(child, run);
    } catch (e) {
      if (e instanceof Skipped) {
        skipped = e;
        continue;
      }
      if (e instanceof DeadlineReached || run.clientGone()) throw e;
      failed = e;
      const error = toGatewayError(e);
      run.noteFailure(targetsOf(child), error);
      const codes = (child.kind === 'target' ? child.target.onStatusCodes : undefined) ?? node.onStatusCodes;
      // With on_status_codes, any other status is the answer, not a reason to try the next target.
      if (codes && !failedWithOneOf(codes, error)) {
        run.stoppedBy = error;
        throw error;
      }
    }
  }
  throw failed ?? skipped ?? new GatewayError('invalid_config', `${node.path} has no targets`, { param: `${node.path}.targets` });
}

/** Weighted choice; a child whose circuits are all open is left out and the choice is made again. */
async function runLoadbalance<T>(node: StrategyNode, run: Run<T>): Promise<Routed<T>> {
  let candidates = node.children;
  let skipped: Skipped | undefined;
  for (;;) {
    run.checkLive();
    const chosen = pickWeighted(node, candidates, run.random);
    if (!chosen) throw skipped ?? new GatewayError('invalid_config', `${node.path} has no targets`, { param: `${node.path}.targets` });
    const started = run.now();
    try {
      const routed = await runNode(chosen, run);
      observeLatency(node, chosen, run.now() - started);
      return routed;
    } catch (e) {
      if (!(e instanceof Skipped)) {
        if (node.strategy.latency_aware && !run.clientGone()) observeFailure(node, chosen, e, run.now() - started);
        throw e;
      }
      skipped = e;
      candidates = candidates.filter((c) => c !== chosen);
    }
  }
}

/**
 * A failure that took longer than the child's answers do (a timeout, a hang the deadline cut) counts as
 * a slow answer: unmeasured, a child degrading into timeouts would keep the share of a fast one. A
 * failure quicker than its answers is not measured, so failing quickly never looks like answering quickly.
 */
function observeFailure(node: StrategyNode, child: PlanNode, e: unknown, ms: number): void {
  const usual = latencyOf(node, child);
  // Unmeasured, only its own timeout says the child is slow: the overall deadline may have cut it
  // short after others used the time up, and a short cut would make it look fast.
  const ownTimeout = !(e instanceof DeadlineReached) && toGatewayError(e).code === 'upstream_timeout';
  if (usual === undefined ? ownTimeout : ms > usual) observeLatency(node, child, ms);
}

function runStrategy<T>(node: StrategyNode, run: Run<T>): Promise<Routed<T>> {
  switch (node.mode) {
    case 'fallback':
      return runFallback(node, run);
    case 'loadbalance':
      return runLoadbalance(node, run);
    case 'conditional':
      return runNode(chooseConditional(node, run.env.input), run);
    default: {
      const first = node.children[0];
      if (!first) throw new GatewayError('invalid_config', `${node.path} has no targets`, { param: `${node.path}.targets` });
      return runNode(first, run);
    }
  }
}

function runNode<T>(node: PlanNode, run: Run<T>): Promise<Routed<T>> {
  return node.kind === 'target' ? runTarget(node.target, run) : runStrategy(node, run);
}

/** Turns whatever ended the walk into the one error the client sees, with every attempt listed. */
function conclude<T>(run: Run<T>, e: unknown): GatewayError {
  const { env } = run;
  const attempts = [...env.attempts];
  if (run.clientGone()) {
    return isGatewayError(e) && e.status === 499 ? e : clientClosed();
  }
  // The gateway closed past its deadline: that, not the failure it was waiting to retry, ended it.
  if (run.cutError) return withAttempts(run.cutError, attempts);
  if (e instanceof DeadlineReached || run.deadlineHit) {
    return new GatewayError('upstream_timeout', `no answer within the overall deadline of ${run.deadlineMs} ms (config.deadline) after ${attempts.length} attempt(s)`, {
      attempts,
      param: 'deadline',
    });
  }
  // Every circuit open: fail fast rather than force a call to the least-recently-failed target. The
  // upstreams failed repeatedly moments ago, each circuit's half-open trial will probe it once its
  // cooldown ends, and Retry-After tells the client when that is.
  if (e instanceof Skipped && run.failures.length === 0) {
    const reopen = run.skipped.map((s) => s.openUntil).filter((v): v is number => v !== undefined);
    const wait = reopen.length ? Math.max(1, Math.ceil((Math.min(...reopen) - run.now()) / 1000)) : undefined;
    return new GatewayError('all_targets_failed', `every target's circuit is open: ${run.skipped.map((s) => s.path).join(', ')}`, {
      status: 503,
      attempts,
      ...(wait !== undefined ? { retryAfter: wait } : {}),
    });
  }
  const error = toGatewayError(e instanceof Skipped ? run.failures[run.failures.length - 1]?.error : e);
  if (error === run.stoppedBy || run.failures.length === 0) return attempts.length > 1 ? withAttempts(error, attempts) : error;
  return finalError(run.failures, attempts);
}

/**
 * Walks the strategy tree: retries per target, fallbacks, weighted choice, conditions, the circuit
 * breaker, and one deadline over all of it. When nothing answered, the error lists each attempt.
 */
export async function route<T>(root: PlanNode, env: RouteEnv, attempt: Attempt<T>): Promise<Routed<T>> {
  const o = env.routing ?? {};
  const run: Run<T> = new RunState(env, attempt, {
    deadlineMs: env.deadline ?? DEFAULT_DEADLINE_MS,
    now: o.now ?? Date.now,
    // An app's own `sleep` gets a real AbortSignal; the default waits on the run's link directly.
    sleep: o.sleep ? (ms, signal) => o.sleep!(ms, asAbortSignal(signal)) : abortableSleep,
    random: o.random ?? Math.random,
    backoff: {
      baseMs: o.backoffBaseMs ?? 250,
      capMs: o.backoffCapMs ?? 5000,
      maxRetryAfterMs: (o.maxRetryAfter ?? 10) * 1000,
      random: o.random ?? Math.random,
    },
  });
  let answered = false;
  try {
    const routed = await runNode(root, run);
    answered = true;
    if (env.streaming === true) routed.release = () => run.releaseClient();
    return routed;
  } catch (e) {
    throw conclude(run, e);
  } finally {
    run.stop(answered && env.streaming === true);
  }
}
