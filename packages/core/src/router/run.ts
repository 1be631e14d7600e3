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
 * Set by `abortSignalFor` on a signal that lives exactly as long as one HTTP request, to the
 * controller behind it. The first run of that request takes the controller over instead of making
 * and linking its own (an AbortSignal costs ~4 µs to create on Node 20, a listener ~2 µs); later
 * runs, or any signal without it, link a controller of their own.
 */
export const REQUEST_SCOPED = Symbol.for('llmux.request-scoped-signal');

type Scoped = Record<symbol, unknown>;

/** The request's controller when this run may own it; marks it taken. */
function claimRequestController(client: AbortSignal): AbortController | undefined {
  const controller = (client as unknown as Scoped)[REQUEST_SCOPED];
  if (!(controller instanceof AbortController) || controller.signal !== client) return undefined;
  (client as unknown as Scoped)[REQUEST_SCOPED] = true;
  return controller;
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
    const owned = claimRequestController(client);
    if (owned) this.controller = owned;
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
    return this.env.signal.aborted && !(this.deadlineHit && this.env.signal === this.controller.signal);
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
