import type { AttemptOverrides } from '../upstream/attempt-overrides.js';
import type { Plan } from '../config/plan.js';
import type { AttemptSummary, GatewayError } from '../errors.js';
import type { CacheStatus } from '../http/headers.js';
import type { RouteName } from '../http/routes.js';
import type { ChatCompletion, EmbeddingsResponse, Usage } from '../providers/openai-types.js';
import type { ChunkOut, ResolvedTarget } from '../providers/types.js';
import type { GatewayContext, GatewayRequest } from '../types.js';

/** Everything one request accumulates on its way through the pipeline; stages read and add to it. */
export interface RequestState {
  traceId: string;
  route: RouteName;
  request: GatewayRequest;
  identity: GatewayContext;
  metadata: Record<string, unknown>;
  plan: Plan;
  /**
   * The validated body (OpenAI shape; `/v1/messages` bodies are translated first). Replace it, never
   * change it in place: a raw body's own JSON text may be sent upstream as is (`http/json-text.ts`).
   */
  body: Record<string, unknown> & { model: string };
  stream: boolean;
  /** The client asked for a usage chunk at the end of its stream. */
  wantsStreamUsage: boolean;
  startedAt: number;
  firstTokenAt?: number;
  /**
   * An upstream billed part of an answer that then failed (an embeddings request split into calls, one
   * refused after others answered): when no other attempt answers, budgets charge the reservation, as
   * for a stream cut after content.
   */
  billedWithoutAnswer?: true;
  /**
   * What those failed attempts' answered calls were billed, summed over attempts (a retry or fallback
   * may still answer): tokens, and USD at the price of the model that billed them. `uncounted`: one
   * came back without a token count, so its share is unknown.
   */
  billed?: { tokens: number; cost: number; uncounted: boolean };
  /** The usage a failed chat attempt was billed (the last such): the request's own when nothing answers. */
  billedUsage?: Usage;
  /**
   * The answer holds more than a cache entry can give back (an Anthropic answer relayed as it came to
   * `/v1/messages`, with server-tool blocks or citations): a hit would differ from the miss, so it is not stored.
   */
  notReplayable?: true;
  /** Lets go of the client's signal once the request is over (a stream's routing keeps it linked till then). */
  releaseClient?: () => void;
  target?: ResolvedTarget;
  /** When routing failed: the target tried last, which the record names as the error's headers do. */
  failedTarget?: ResolvedTarget;
  attempts: AttemptSummary[];
  retries: number;
  cache: CacheStatus;
  /** Attempt settings the request's headers ask for (Portkey's request timeout and forwarded headers). */
  overrides?: AttemptOverrides | undefined;
  /** The cache looked this request up by meaning too: Portkey then spells its miss `SEMANTIC MISS`. */
  semanticLookup?: true;
  usage?: Usage;
  /** USD; undefined while unknown. */
  cost?: number;
  /** Set by stages that need the whole stream once it completed (the cache). */
  recordChunks: boolean;
  /**
   * Characters past which the recording is let go (the cache's `maxEntryBytes`: a longer answer is never
   * stored, and holding it whole would cost memory with every long stream). Unset: no bound (logBodies).
   */
  recordLimit?: number;
  /** Headers stages add to the response. */
  headers: Record<string, string>;
  /** Per-stage scratch space, keyed by stage name. */
  scratch: Record<string, unknown>;
  /** A streamed answer's id, from its first chunk that shows one (a completion carries its own). */
  streamId?: string;
  /** A streamed answer's finish reasons by choice index, as its chunks gave them (holes: not finished). */
  streamFinishReasons?: string[];
}

export interface Outcome {
  status: number;
  error?: GatewayError;
  completion?: ChatCompletion;
  /** An embeddings answer, as sent. */
  embeddings?: EmbeddingsResponse;
  /** The full stream, when `recordChunks` was set and it ended normally. */
  chunks?: ChunkOut[];
  /** The recording was let go past `recordLimit`: the answer is too large to keep. */
  recordingTooLarge?: boolean;
  /** The stream ended early: client gone or upstream broke mid-way. */
  incomplete?: boolean;
}

/**
 * A pipeline stage: rate limits, budgets, cache, cost, logs. `before` runs ahead of routing and may
 * answer (a cache hit) or refuse (429, 402) by throwing; `after` runs once the response is complete —
 * after the last stream chunk — whether it succeeded, failed or was cut.
 */
export interface PipelineStage {
  readonly name: string;
  /**
   * Starts reads the stage's `before` will need, for every stage in the same tick before any
   * `before` runs, so a store that pipelines (Redis) sends them together with the next stage's
   * commands: one round trip before the upstream call. Reads only — an earlier stage may still
   * refuse the request — and `before` must cope with the state having changed since.
   */
  prefetch?(state: RequestState): void;
  before?(state: RequestState): Promise<ShortCircuit | void> | ShortCircuit | void;
  after?(state: RequestState, outcome: Outcome): Promise<void> | void;
  /**
   * Its `after` starts only once every earlier stage's `after` has finished (the log reads what they
   * settled and stored). Other `after` hooks overlap once their synchronous part ran, in order.
   */
  readonly afterOthers?: boolean;
}

/** A stage's own answer, sent instead of calling a provider. */
export type ShortCircuit =
  | { kind: 'completion'; completion: ChatCompletion }
  | { kind: 'stream'; chunks: AsyncIterable<ChunkOut> }
  | { kind: 'json'; status: number; body: unknown };
