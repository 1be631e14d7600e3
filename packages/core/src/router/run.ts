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

/**
 * Unlinks a finished run from the client's signal. The link must outlive routing (an answered stream
 * still stops when the client leaves), so it is dropped once the run's controller is unreachable —
 * i.e. once nothing reads the stream any more. This matters when one long-lived signal serves many
 * calls (`gateway.chat(body, { signal })`); `AbortSignal.any` would do it but leaks on Node 20.
 */
const unlink = new FinalizationRegistry<() => void>((remove) => remove());
const OWNER = Symbol('llmux.run');

/**
 * Set by `abortSignalFor` on a signal that lives exactly as long as one HTTP request: a
 * `RequestScope`. The first run of that request takes its controller over instead of making and
 * linking its own (an AbortSignal costs ~4 µs to create on Node 20, a listener ~2 µs), and reads
 * `closed` rather than the signal's `aborted` getter (~1 µs a read: Node builds AbortSignals with a
 * prototype swap that leaves them slow to read). Later runs, or any other signal, link a controller
 * of their own.
 */
export const REQUEST_SCOPED = Symbol.for('llmux.request-scoped-signal');

/** What `abortSignalFor` hangs on a request's signal under `REQUEST_SCOPED`. */
export interface RequestScope {
  controller: AbortController;
  /** The client went away (set before the controller aborts). */
  closed: boolean;
  /** A run owns the controller. */
  claimed: boolean;
}

type Scoped = Record<symbol, unknown>;

/** The request's scope when this run may own its controller; marks it taken. */
function claimRequestScope(client: AbortSignal): RequestScope | undefined {
  const scope = (client as unknown as Scoped)[REQUEST_SCOPED] as RequestScope | undefined;
  if (typeof scope !== 'object' || scope === null || scope.claimed) return undefined;
  scope.claimed = true;
  return scope;
}

/** Module-level on purpose: closures made inside the class would share a context holding `this`. */
function linkClient(client: AbortSignal, controller: AbortController): () => void {
  if ((client as unknown as Scoped)[REQUEST_SCOPED] !== undefined) {
    // The link may simply stay: the signal ends with the request, so the WeakRef and finalizer are skipped.
    const abort = () => controller.abort(client.reason);
    client.addEventListener('abort', abort, { once: true });
    return () => client.removeEventListener('abort', abort);
  }
  const ref = new WeakRef(controller);
  const forward = () => ref.deref()?.abort(client.reason);
  client.addEventListener('abort', forward, { once: true });
  const remove = () => client.removeEventListener('abort', forward);
  unlink.register(controller, remove);
  // Whoever still holds the signal (an attempt relaying a stream) keeps the controller alive.
  (controller.signal as unknown as Scoped)[OWNER] = controller;
  return remove;
}

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
  /** Its own, or the request's (then the deadline aborts the request's signal, and `clientGone` tells the two apart). */
  private readonly controller: AbortController;
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
  private unlinkClient: (() => void) | undefined;
  private readonly scope: RequestScope | undefined;

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
    const scope = claimRequestScope(client);
    this.scope = scope;
    if (scope) this.controller = scope.controller;
    else {
      this.controller = new AbortController();
      if (client.aborted) this.controller.abort(client.reason);
      else this.unlinkClient = linkClient(client, this.controller);
    }
    this.timer = setTimeout(() => {
      this.deadlineHit = true;
      this.controller.abort(new GatewayError('upstream_timeout', `the overall deadline of ${this.deadlineMs} ms passed`));
    }, this.deadlineMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clientGone(): boolean {
    return this.scope ? this.scope.closed : this.env.signal.aborted;
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

  /** `answered`: a target answered and may still be streaming, so the client link stays. */
  stop(answered: boolean): void {
    clearTimeout(this.timer);
    if (!answered) this.unlinkClient?.();
  }
}

export type Run<T> = RunState<T>;
