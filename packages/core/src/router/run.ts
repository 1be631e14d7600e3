import { GatewayError } from '../errors.js';
import type { Attempt, RouteEnv } from './execute.js';
import type { Failure } from './final-error.js';
import type { BackoffSettings } from './retry-policy.js';

/** A target was not tried because its circuit is open; strategies move past it. */
export class Skipped extends Error {
  constructor(readonly path: string) {
    super(`${path}: circuit open`);
  }
}

/** The overall deadline passed; nothing more is tried. */
export class DeadlineReached extends Error {}

export interface RunSettings {
  deadlineMs: number;
  now: () => number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  random: () => number;
  backoff: BackoffSettings;
}

/**
 * One walk of the strategy tree. `signal` aborts when the client leaves or the deadline passes; the
 * deadline stops counting once a target answered (a stream then runs as long as it produces tokens).
 */
export class RunState<T> implements RunSettings {
  readonly controller = new AbortController();
  readonly failures: Failure[] = [];
  readonly skipped: Array<{ path: string; openUntil?: number }> = [];
  stoppedBy: GatewayError | undefined;
  deadlineHit = false;
  readonly deadlineAt: number;
  readonly deadlineMs: number;
  readonly now: () => number;
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  readonly random: () => number;
  readonly backoff: BackoffSettings;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    readonly env: RouteEnv,
    readonly attempt: Attempt<T>,
    settings: RunSettings,
  ) {
    this.deadlineMs = settings.deadlineMs;
    this.now = settings.now;
    this.sleep = settings.sleep;
    this.random = settings.random;
    this.backoff = settings.backoff;
    this.deadlineAt = this.now() + this.deadlineMs;
    const client = env.signal;
    // Kept linked after routing: a stream that already answered must still stop when the client leaves.
    if (client.aborted) this.controller.abort(client.reason);
    else client.addEventListener('abort', () => this.controller.abort(client.reason), { once: true });
    this.timer = setTimeout(() => {
      this.deadlineHit = true;
      this.controller.abort(new GatewayError('upstream_timeout', `the overall deadline of ${this.deadlineMs} ms passed`));
    }, this.deadlineMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clientGone(): boolean {
    return this.env.signal.aborted;
  }

  /** Throws when nothing more may be tried. */
  checkLive(): void {
    if (this.clientGone()) throw this.env.signal.reason ?? new GatewayError('stream_interrupted', 'the client closed the request', { status: 499 });
    if (this.deadlineHit) throw new DeadlineReached();
  }

  /** Remembers a failure for the final error; attempts record theirs, strategies add errors raised before any attempt. */
  noteFailure(path: string, error: GatewayError): void {
    if (!this.failures.some((f) => f.error === error)) this.failures.push({ path, error });
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}

export type Run<T> = RunState<T>;
