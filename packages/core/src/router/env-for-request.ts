import type { Plan } from '../config/plan.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { RequestState } from '../pipeline/state.js';
import { createBreaker, type Breaker } from './breaker.js';
import type { RouteEnv } from './execute.js';
import type { ResolveHost } from './routing-options.js';
import { checkRequestHosts, requestHostsOf } from './ssrf-guard.js';
import { AbortLink } from '../upstream/abort-link.js';

/** One breaker per plan (its policy is the plan's), sharing the gateway's store. */
const breakers = new WeakMap<Plan, Breaker>();

/** Loaded on first use so the core entry itself imports nothing from `node:`. */
let systemResolver: ResolveHost | undefined;
export const resolveWithSystem: ResolveHost = async (host) => {
  systemResolver ??= (await import('../node/resolve-host.js')).resolveHost;
  return systemResolver(host);
};

/**
 * The router's view of one request: the client's signal, what conditional routing may read, the
 * plan's deadline and breaker. Client-chosen hosts pass the SSRF guard here, right before routing;
 * without them the answer is immediate (no promise for the common case).
 */
export function routeEnvFor(gw: GatewayInternals, state: RequestState): RouteEnv | Promise<RouteEnv> {
  const hosts = requestHostsOf(state.plan);
  if (hosts) return checkRequestHosts(hosts, gw.options.allowedHosts ?? [], gw.options.resolveHost ?? resolveWithSystem).then(() => envFor(gw, state));
  return envFor(gw, state);
}

function envFor(gw: GatewayInternals, state: RequestState): RouteEnv {
  const env: RouteEnv = {
    signal: state.request.signal ?? new AbortLink(),
    attempts: state.attempts,
    retries: 0,
    input: { metadata: state.metadata, identity: state.identity, params: state.body, model: state.body.model },
    deadline: state.plan.deadline,
    backingOff: gw.backingOff,
    streaming: state.stream,
  };
  if (gw.options.routing) env.routing = gw.options.routing;
  const config = state.plan.breaker;
  if (config) {
    let breaker = breakers.get(state.plan);
    if (!breaker) breakers.set(state.plan, (breaker = createBreaker(gw.store, config, gw.options.routing?.now ?? Date.now)));
    env.breaker = breaker;
  }
  return env;
}
