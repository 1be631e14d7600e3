import { GatewayError, toGatewayError, type AttemptSummary } from '../errors.js';
import type { ResolvedTarget } from '../providers/types.js';
import type { Routed } from './execute.js';
import { neverSent } from '../upstream/call.js';
import { isRetryable, retryDelay } from './retry-policy.js';
import { DeadlineReached, Skipped, type Run } from './run.js';

/** Attempt records must not grow without bound if a config retries a lot. */
const MAX_MESSAGE = 300;

/** An attempt's error message as its record keeps it. */
export const attemptError = (message: string): string => (message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message);

function failedAttempt(target: ResolvedTarget, e: GatewayError, ms: number, note?: string): AttemptSummary {
  return { target: target.path, provider: target.provider, status: e.status, error: attemptError(note ?? e.message), latency_ms: ms };
}

/**
 * One target: its circuit, then up to `1 + retry.attempts` tries with backoff. Throws the last failure
 * (the strategy above decides whether to move on), `Skipped` when the circuit is open, or
 * `DeadlineReached`.
 */
export async function runTarget<T>(target: ResolvedTarget, run: Run<T>): Promise<Routed<T>> {
  const { env } = run;
  run.checkLive();
  let trial = false;
  let lease: number | undefined;
  if (env.breaker) {
    const decision = await env.breaker.acquire(target);
    if (!decision.allowed) {
      env.attempts.push({ target: target.path, provider: target.provider, error: 'skipped: circuit open' });
      run.skipped.push(decision.openUntil !== undefined ? { path: target.path, openUntil: decision.openUntil } : { path: target.path });
      throw new Skipped(target.path);
    }
    trial = decision.state === 'half_open';
    lease = decision.trialUntil;
  }
  env.last = target;
  for (let retries = 0; ; retries++) {
    const started = run.now();
    let error: GatewayError;
    try {
      const value = await run.attempt(target, run.signal);
      env.attempts.push({ target: target.path, provider: target.provider, status: 200, latency_ms: run.now() - started });
      if (trial) await env.breaker!.record(target, true);
      return { value, target };
    } catch (e) {
      error = toGatewayError(e);
    }
    const elapsed = run.now() - started;
    if (run.clientGone()) {
      env.attempts.push(failedAttempt(target, error, elapsed, 'the client closed the request'));
      // The trial proved nothing either way: the next caller may try at once.
      if (trial) await env.breaker!.release(target, lease);
      throw error;
    }
    if (run.deadlineHit) {
      env.attempts.push(failedAttempt(target, error, elapsed, `stopped: the overall deadline of ${run.deadlineMs} ms passed`));
      // A target that hangs until the overall deadline failed as surely as one that timed out on its
      // own: unrecorded, every request would wait the whole deadline on it again. But only one that had
      // its fair share of the time: a fallback started after the primary used most of it up was cut, not
      // slow, and counting that would open the healthy fallback's circuit too, in the very outage it serves.
      if (env.breaker) {
        const fair = elapsed >= Math.min(target.requestTimeout ?? Infinity, run.deadlineMs / 2);
        // As a timeout of its own would be (a circuit's `on_status_codes` may leave 504 out).
        const timedOut = new GatewayError('upstream_timeout', error.message, { provider: target.provider, source: 'provider' });
        if (fair && env.breaker.verdict(timedOut) === 'failed') await env.breaker.record(target, false);
        else if (trial) await env.breaker.release(target, lease);
      }
      throw new DeadlineReached();
    }
    // A request the translator refused never went out: no attempt to record, count or trace.
    if (!neverSent(error)) env.attempts.push(failedAttempt(target, error, elapsed));
    run.noteFailure(target.path, error);
    if (env.breaker) {
      // A 4xx during the half-open trial still proves the upstream answers; a failure that never reached
      // it proves nothing, and the trial goes back for the next caller.
      const verdict = env.breaker.verdict(error);
      if (verdict === 'failed' || (trial && verdict === 'answered')) {
        const state = await env.breaker.record(target, verdict === 'answered');
        if (state?.state === 'open') throw error;
      } else if (trial) await env.breaker.release(target, lease);
      trial = false;
    }
    if (!isRetryable(target, error, retries)) throw error;
    const wait = retryDelay(target, error, retries, run.backoff);
    // Retry-After beyond the bound, or a wait that would outlast the deadline: the next target is better.
    if (wait === undefined || run.now() + wait >= run.deadlineAt) throw error;
    env.backingOff?.add(run);
    try {
      await run.sleep(wait, run.signal);
    } catch {
      run.checkLive();
    } finally {
      env.backingOff?.delete(run);
    }
    run.checkLive();
    env.retries++;
  }
}
