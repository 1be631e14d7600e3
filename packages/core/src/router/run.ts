import { clientClosed, GatewayError } from '../errors.js';
import type { Attempt, RouteEnv } from './execute.js';
import type { Failure } from './final-error.js';
import type { BackoffSettings } from './retry-policy.js';
import { AbortLink, isAbortLink, REQUEST_SCOPED, type AbortSource } from '../upstream/abort-link.js';
import { clearDeadline, setDeadline, type Deadline } from '../timing/deadlines.js';

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
 * still stops when the client leaves), so it is dropped once the run's link is unreachable — i.e.
 * once nothing reads the stream any more. This matters when one long-lived signal serves many calls
 * (`gateway.chat(body, { signal })`); `AbortSignal.any` would do it but leaks on Node 20.
 */
const unlink = new FinalizationRegistry<() => void>((remove) => remove());

/** Module-level on purpose: closures made inside the class would share a context holding `this`. */
function linkClient(client: AbortSource, link: AbortLink): () => void {
  if (isAbortLink(client) || (client as unknown as Record<symbol, unknown>)[REQUEST_SCOPED] !== undefined) return link.follow(client);
  const ref = new WeakRef(link);
  const forward = () => ref.deref()?.abort(client.reason);
  client.addEventListener('abort', forward, { once: true });
  const remove = () => client.removeEventListener('abort', forward);
  unlink.register(link, remove);
  return remove;
}

export interface RunSettings {
  deadlineMs: number;
  now: () => number;
  sleep: (ms: number, signal: AbortSource) => Promise<void>;
  random: () => number;
  backoff: BackoffSettings;
}

/**
 * One walk of the strategy tree. `signal` aborts when the client leaves or the deadline passes; the
 * deadline stops counting once a target answered (a stream then runs as long as it produces tokens).
 * An adapter's request link (`abortLinkFor`) is taken over rather than linked: the deadline aborts
 * it too, and `clientClosed` tells the two apart. Anything else gets a link of its own, linked.
 */
export class RunState<T> implements RunSettings {
  private readonly link: AbortLink;
  /** The request's own link, when this run took it over. */
  private readonly requestLink: AbortLink | undefined;
  readonly failures: Failure[] = [];
  readonly skipped: Array<{ path: string; openUntil?: number }> = [];
  stoppedBy: GatewayError | undefined;
  deadlineHit = false;
  readonly deadlineAt: number;
  readonly deadlineMs: number;
  readonly now: () => number;
  readonly sleep: (ms: number, signal: AbortSource) => Promise<void>;
  readonly random: () => number;
  readonly backoff: BackoffSettings;
  private readonly deadline: Deadline;
  private unlinkClient: (() => void) | undefined;
  /** Set by `cut`: what ended the run (see `conclude`). */
  cutError: GatewayError | undefined;

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
    if (isAbortLink(client) && !client.claimed) {
      client.claimed = true;
      this.link = this.requestLink = client;
    } else {
      this.requestLink = undefined;
      this.link = new AbortLink();
      if (client.aborted) this.link.abort(client.reason);
      else this.unlinkClient = linkClient(client, this.link);
    }
    this.deadline = setDeadline(this.deadlineMs, () => {
      this.deadlineHit = true;
      this.link.abort(new GatewayError('upstream_timeout', `the overall deadline of ${this.deadlineMs} ms passed`));
    });
  }

  get signal(): AbortSource {
    return this.link;
  }

  clientGone(): boolean {
    return this.requestLink ? this.requestLink.clientClosed : this.env.signal.aborted;
  }

  /** Throws when nothing more may be tried. */
  checkLive(): void {
    if (this.clientGone()) throw this.env.signal.reason ?? clientClosed();
    if (this.cutError) throw this.cutError;
    if (this.deadlineHit) throw new DeadlineReached();
  }

  /** Ends the run with `error` (the gateway closing past its deadline): a backoff it sleeps in wakes now. */
  cut(error: GatewayError): void {
    this.cutError = error;
    this.link.abort(error);
  }

  /** Remembers a failure for the final error; attempts record theirs, strategies add errors raised before any attempt. */
  noteFailure(path: string, error: GatewayError): void {
    if (!this.failures.some((f) => f.error === error)) this.failures.push({ path, error });
  }

  /** `answered`: a target answered and may still be streaming, so the client link stays. */
  stop(answered: boolean): void {
    clearDeadline(this.deadline);
    if (!answered) this.releaseClient();
  }

  /** Unlinks the client's signal (a streamed answer's, once the stream is over). */
  releaseClient(): void {
    const unlink = this.unlinkClient;
    this.unlinkClient = undefined;
    unlink?.();
  }
}

export type Run<T> = RunState<T>;
