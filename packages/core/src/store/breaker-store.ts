/**
 * Circuit-breaker state per target, shared by instances through the store.
 *
 * A circuit is `closed` (calls flow), `open` (calls are skipped until `openUntil`), or `half_open`
 * (the cooldown passed and exactly one caller holds the trial until `trialUntil`). Both operations are
 * single atomic steps — a Lua script on Redis — so two instances never both win the half-open trial.
 */
export type BreakerState = 'closed' | 'open' | 'half_open';

/** How a circuit behaves; the router passes it with every call so the store stays config-free. */
export interface BreakerPolicy {
  /** Failures within `windowMs` that open the circuit. */
  threshold: number;
  windowMs: number;
  /** How long an open circuit skips its target before one trial call. */
  cooldownMs: number;
}

export interface BreakerStatus {
  state: BreakerState;
  /** Failures counted in the current window (closed state). */
  failures: number;
  /** Epoch ms when an open circuit lets a trial through. */
  openUntil?: number;
}

export interface BreakerDecision extends BreakerStatus {
  /** The caller may call the target now. In `half_open`, true for the one caller that holds the trial. */
  allowed: boolean;
  /**
   * For the caller granted a half-open trial: when its lease ends (epoch ms). It names the lease, so
   * `breakerRelease` gives back this trial only, never a later caller's that took over an expired one.
   */
  trialUntil?: number;
}

export interface BreakerStore {
  /**
   * May `key` be called at `now`? An open circuit whose cooldown passed turns half-open and grants
   * this caller the trial; the trial lease lasts `cooldownMs`, after which another caller may try.
   */
  breakerAcquire(key: string, now: number, policy: BreakerPolicy): Promise<BreakerDecision>;
  /**
   * Records a call's result and returns the new state: a failure in the window may open the circuit;
   * in `half_open`, success closes it and failure re-opens it for another cooldown.
   */
  breakerRecord(key: string, ok: boolean, now: number, policy: BreakerPolicy): Promise<BreakerStatus>;
  /**
   * Gives back a half-open trial whose call never reached the upstream (the gateway refused it, the
   * client left): the next caller may try at once. Optional for stores written before it; without
   * it the lease runs out after `cooldownMs`. With `lease` (the `trialUntil` the trial was granted),
   * a trial that has meanwhile passed to another caller is left alone.
   */
  breakerRelease?(key: string, now: number, policy: BreakerPolicy, lease?: number): Promise<void>;
}
