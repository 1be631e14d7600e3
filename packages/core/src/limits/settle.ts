import type { GatewayInternals } from '../pipeline/internals.js';
import type { SettleAmounts, SettleOptions } from '../store/limit-store.js';
import type { Claims } from './claims.js';

/** The first wait after a failed settlement; each next one doubles, up to `MAX_WAIT_MS`. */
const FIRST_WAIT_MS = 100;
const MAX_WAIT_MS = 5000;

/**
 * The last retry goes this long before the reservation expires (a 20th of its TTL, at most 1 s): once
 * it has expired, an admission may drop it, and a retry — which counts only over a reservation still
 * held — then finds nothing to settle.
 */
const marginOf = (ttlMs: number) => Math.min(1000, ttlMs / 20);

const RETRY: SettleOptions = { retry: true };

/**
 * Settles a request's claims. A settlement that fails (a store blip) is not dropped: the answer was
 * given, its reservation is all that counts it, and once that expires the budget would be overspent
 * by it. The first attempt stays one store call on the request's path; a failure is retried in the
 * background with backoff until shortly before the reservation expires, as `retry` settlements (an
 * attempt that timed out may have run: a retry counts only where the reservation is still held).
 * Pending retries are in-flight work, so `close()` wakes them and waits for them within its deadline.
 */
export function settleClaims(gw: GatewayInternals, claims: Claims, amounts: SettleAmounts, traceId: string): Promise<void> {
  return gw.store.settle(claims.request, amounts).then(undefined, (e: unknown) => {
    gw.logger?.warn({ traceId, err: e, store: gw.store.kind }, 'llmux: settling budgets and limits failed; retrying in the background');
    gw.inflight.enter();
    const deadline = claims.admittedAt + claims.request.ttlMs - marginOf(claims.request.ttlMs);
    void retry(gw, claims, amounts, deadline, traceId, e).then(gw.inflight.leave, gw.inflight.leave);
  });
}

async function retry(gw: GatewayInternals, claims: Claims, amounts: SettleAmounts, deadline: number, traceId: string, error: unknown): Promise<void> {
  let wait = FIRST_WAIT_MS;
  let attempts = 1;
  for (let left = deadline - Date.now(); left > 0; left = deadline - Date.now()) {
    // Jittered, so instances that lost Redis together do not all come back in the same millisecond;
    // never past the deadline, so the last attempt still finds the reservation.
    if (!(await gw.inflight.pause(Math.min(wait * (0.75 + Math.random() / 2), left)))) break;
    attempts++;
    try {
      await gw.store.settle(claims.request, amounts, RETRY);
      gw.logger?.info({ traceId, attempts, store: gw.store.kind }, 'llmux: budgets and limits settled after a retry');
      return;
    } catch (e) {
      error = e;
    }
    wait = Math.min(wait * 2, MAX_WAIT_MS);
  }
  gw.logger?.error(
    { traceId, err: error, attempts, store: gw.store.kind, counters: claims.request.counters.map((c) => c.key), amounts: amounts.counters },
    'llmux: settlement lost: the store stayed unreachable until the reservation expired (or the gateway closed); this answer is not counted',
  );
}
