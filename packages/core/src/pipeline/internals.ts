import type { GatewayError } from '../errors.js';
import type { InFlight } from './in-flight.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { GatewayLogger, GatewayOptions } from '../options.js';
import type { GatewayStore } from '../store/types.js';
import type { UpstreamClient } from '../upstream/client.js';
import type { PlanResolver } from './resolve-plan.js';
import type { PipelineStage } from './state.js';

/** What every route handler and stage may use; built once in `createGateway`. */
export interface GatewayInternals {
  options: GatewayOptions;
  registry: ProviderRegistry;
  plans: PlanResolver;
  client: UpstreamClient;
  store: GatewayStore;
  stages: PipelineStage[];
  logger?: GatewayLogger;
  limits: { maxBodyBytes: number; maxMessages: number; maxJsonDepth: number };
  /** In-flight requests, so `close()` can wait for streams to finish. */
  inflight: InFlight;
  /** Set by `close()`: new upstream calls are refused (running ones may finish until its deadline). */
  closing: boolean;
  /** Set by `close()` at its deadline, before it cuts what still runs: those failures are the gateway's doing. */
  cutting: boolean;
  /** Routing runs waiting out a retry's backoff: `close()` wakes them at its deadline (they hold no socket to cut). */
  backingOff: Set<{ cut(error: GatewayError): void }>;
}
