import type { PlanNode } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import { gatewayHeader, portkeyOptionIndex, type CacheStatus } from '../http/headers.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { Outcome, PipelineStage, RequestState, ShortCircuit } from '../pipeline/state.js';
import type { ChatMessage } from '../providers/openai-types.js';
import { resolveWithSystem } from '../router/env-for-request.js';
import { checkRequestHosts, requestHostsOf, type RequestHost } from '../router/ssrf-guard.js';
import type { CacheStore } from '../store/cache-store.js';
import { createMemoryCache } from '../store/memory/cache.js';
import { asAbortSignal } from '../upstream/abort-link.js';
import { exactKey, lastUserText, semanticPartition, type KeyInput } from './cache-key.js';
import { DecodedEntries } from './decoded-entries.js';
import { encodeEntry, isCompleteStream, isEmbedding, type CacheEntry, type ReadEntry } from './entry.js';
import type { EmbeddingsResponse } from '../providers/openai-types.js';
import { isCacheStore, toCacheStore } from './keyv-cache-store.js';
import { replayChunks } from './replay.js';
import { embedderFor } from './semantic.js';
import { chunkText } from '../stream/encode.js';
import { cacheSettingsFor, type CacheSettings } from './settings.js';
import { within } from '../timing/within.js';

/**
 * What the cache did for a request, at `state.scratch.cache` for logs and metrics (absent when no
 * cache applies; `state.cache` is the status either way).
 */
export interface CacheScratch {
  status: CacheStatus;
  mode: 'simple' | 'semantic';
  /** The entry key (sha256 hex of the canonical request and its scope). */
  key: string;
  /** On a hit: USD the original call cost, i.e. what this answer saved (absent when it was not priced). */
  savedCost?: number;
  /** On a hit: the served entry's age, seconds. */
  ageSeconds?: number;
  /** On a hit: the provider that originally answered. */
  provider?: string;
  /** On a hit: the target (config path) that originally answered. */
  target?: string;
  /** On a semantic hit: cosine similarity of the matched prompt (also in `x-llmux-cache-similarity`). */
  similarity?: number;
  /** Why the semantic step found nothing: `no_prompt`, `tools`, `no_embedder`, `embedding_failed`, `no_match`. */
  semantic?: 'no_prompt' | 'tools' | 'no_embedder' | 'embedding_failed' | 'no_match';
  /** Tokens the semantic step's embedding call used. */
  embeddingTokens?: number;
  /** After a miss or refresh: the answer was stored, or why not (`not_complete`, `too_large`, `store_failed`). */
  stored?: true | 'not_complete' | 'not_replayable' | 'too_large' | 'store_failed';
  /** A store operation failed or timed out; the request went on as a miss. */
  storeError?: string;
}

interface Pending {
  key: string;
  settings: CacheSettings;
  partition?: string;
  vector?: Float32Array;
}

/** What a lookup needs, worked out from the request and its plan. */
interface Lookup {
  plan: RequestState['plan'];
  settings: CacheSettings;
  root: PlanNode;
  input: KeyInput;
  /** A string where the runtime hashes natively. */
  key: string | Promise<string>;
  refresh: boolean;
  /** The exact-match read, started early by `prefetch` (absent on a forced refresh). */
  entry?: Promise<{ entry: ReadEntry | undefined; storeError?: string }>;
  /** An embeddings request: exact match only (the semantic step compares chat prompts), and only embeddings entries answer it. */
  embeddings: boolean;
}

/**
 * A request's lookup (from `prefetch` to `before`) and pending write (from `before` to `after`), kept
 * on its state rather than in WeakMaps keyed by it: see `observability/opened-requests.ts` on what a
 * WeakMap keyed by a young object costs the young-generation GC.
 */
const PREFETCHED = Symbol('llmux.cache.prefetched');
const PENDING = Symbol('llmux.cache.pending');
type WithCacheSlots = RequestState & { [PREFETCHED]?: Lookup; [PENDING]?: Pending };

const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());

/** One vector (non-empty) per input, indexed 0…n-1: a short or partial answer is never pinned in the cache. */
function answersEveryInput(answer: EmbeddingsResponse, input: unknown): boolean {
  // A string, or one array of token ids, is one input; otherwise one per item.
  const inputs = Array.isArray(input) && input.length > 0 && typeof input[0] !== 'number' ? input.length : 1;
  if (answer.data.length !== inputs) return false;
  const seen = new Set<number>();
  for (const item of answer.data) {
    if (!isEmbedding(item) || item.embedding.length === 0 || item.index >= inputs || seen.has(item.index)) return false;
    seen.add(item.index);
  }
  return true;
}

function textAtLeast(answer: EmbeddingsResponse): number {
  let n = 0;
  for (const item of answer.data) n += typeof item.embedding === 'string' ? item.embedding.length : item.embedding.length * 8;
  return n;
}

/**
 * Answers repeated requests from the cache: exact match on a canonical key, then (semantic mode) the
 * most similar earlier prompt of the same partition. Stores only complete, successful answers.
 */
export function cacheStage(gw: GatewayInternals): PipelineStage {
  const options = gw.options.cache ?? {};
  const store: CacheStore = options.store ? toCacheStore(options.store) : isCacheStore(gw.store) ? gw.store : createMemoryCache();
  const timeoutMs = options.timeoutMs ?? 250;
  const embeddingTimeoutMs = options.embeddingTimeoutMs ?? 5000;
  const maxEntryBytes = options.maxEntryBytes ?? 4 * 1024 * 1024;
  const now = options.now ?? Date.now;
  const decoded = new DecodedEntries();
  let lastWarn = 0;

  // A semantic cache that cannot embed is a config mistake: say so at start-up, naming the field.
  const serverPlan = gw.plans.serverPlan;
  const serverSettings = cacheSettingsFor(serverPlan);
  if (serverSettings?.mode === 'semantic' && serverPlan.root) {
    try {
      embedderFor(gw, serverSettings, serverPlan.root);
    } catch (e) {
      throw new TypeError(`llmux: ${(e as Error).message}`);
    }
  }

  function warn(obj: object, msg: string): void {
    // One line per 10 s at most: a cache outage must not flood the logs at request rate.
    if (Date.now() - lastWarn < 10_000) return;
    lastWarn = Date.now();
    gw.logger?.warn(obj, msg);
  }

  /** Runs a store operation with a bounded wait; a failure or timeout is `undefined` (fail open). */
  async function bounded<T>(
    state: RequestState,
    what: string,
    op: () => Promise<T>,
    scratch = state.scratch.cache as Pick<CacheScratch, 'storeError'> | undefined,
  ): Promise<T | undefined> {
    try {
      // Nothing to wait for in this process's memory: a deadline per operation costs more than the operation.
      if (store.inProcess) return await op();
      return await within(op(), timeoutMs, () => {
        if (scratch) scratch.storeError = `${what} timed out after ${timeoutMs} ms`;
        warn({ traceId: state.traceId, op: what }, `llmux cache: ${what} timed out; serving as a miss`);
        return undefined;
      });
    } catch (e) {
      if (scratch) scratch.storeError = `${what} failed: ${(e as Error)?.message ?? String(e)}`;
      warn({ traceId: state.traceId, op: what, err: e }, `llmux cache: ${what} failed; serving as a miss`);
      return undefined;
    }
  }

  /**
   * A fresh entry under `key` of the kind the request takes (`embeddings`, or a chat's completion or
   * stream), or undefined: absent, unreadable, of the other kind (a foreign value: keys of the two
   * kinds differ, and the semantic index names chat entries only), or older than `max_age`.
   */
  async function read(state: RequestState, key: string, settings: CacheSettings, embeddings: boolean, scratch?: Pick<CacheScratch, 'storeError'>): Promise<ReadEntry | undefined> {
    const entry = decoded.decode(key, await bounded(state, 'cache read', () => store.cacheGet(key), scratch));
    if (!entry || (entry.kind === 'embeddings') !== embeddings) return undefined;
    const age = now() - entry.createdAt;
    return age <= settings.maxAgeMs ? entry : undefined;
  }

  function serve(state: RequestState, entry: ReadEntry, status: 'HIT' | 'SEMANTIC_HIT'): ShortCircuit {
    const scratch = state.scratch.cache as CacheScratch;
    state.cache = scratch.status = status;
    // A cached answer costs nothing; the cost stage agrees when it sees the status.
    state.cost = 0;
    scratch.ageSeconds = Math.max(0, Math.round((now() - entry.createdAt) / 1000));
    if (entry.cost !== undefined) scratch.savedCost = entry.cost;
    if (entry.provider) {
      scratch.provider = entry.provider;
      // Every response names its provider and target (DESIGN): a hit names the ones that made the answer.
      state.headers['x-llmux-provider'] = state.headers['x-portkey-provider'] = entry.provider;
    }
    if (entry.target) {
      state.headers['x-llmux-target'] = scratch.target = entry.target;
      state.headers['x-portkey-last-used-option-index'] = portkeyOptionIndex(entry.target);
    }
    if (entry.kind === 'embeddings') return { kind: 'json', status: 200, body: entry.embeddings };
    if (entry.kind === 'completion') return { kind: 'completion', completion: entry.completion };
    return { kind: 'stream', chunks: entry.replay ? entry.replay.replay() : replayChunks(entry.chunks) };
  }

  /**
   * The semantic step calls an upstream before routing does: hosts a client chose (its targets', its
   * embedding target's) pass the SSRF guard first, as routing would make them (its DNS answers are kept).
   */
  async function guardHosts(state: RequestState, extra: RequestHost | undefined): Promise<void> {
    const hosts = [...(requestHostsOf(state.plan) ?? []), ...(extra ? [extra] : [])];
    if (hosts.length) await checkRequestHosts(hosts, gw.options.allowedHosts ?? [], gw.options.resolveHost ?? resolveWithSystem);
  }

  async function semanticLookup(state: RequestState, input: KeyInput, root: PlanNode, p: Pending, refresh: boolean): Promise<ShortCircuit | undefined> {
    const scratch = state.scratch.cache as CacheScratch;
    const prompt = lastUserText(state.body.messages as ChatMessage[]);
    if (!prompt) return void (scratch.semantic = 'no_prompt');
    const tools = state.body.tools ?? state.body.functions;
    if (Array.isArray(tools) && tools.length > 0 && !p.settings.semanticTools) return void (scratch.semantic = 'tools');
    let embedder;
    // An `embedding` target from a client's config is compiled as the client's (the server's own config is trusted).
    const clientEmbedding = state.plan.fromClient === true && p.settings.embedding !== undefined && p.settings.embedding !== serverSettings?.embedding;
    try {
      // The server's plan embeds with the server's first target even when the request was pinned to
      // another (the playground's compare): the cache settings stay the server's, its embedder too.
      const embedRoot = state.plan.fromClient === true ? root : (gw.plans.serverPlan.root ?? root);
      embedder = embedderFor(gw, p.settings, embedRoot, clientEmbedding);
    } catch (e) {
      // The client's own `cache.embedding` is bad input, refused like the server's is at start-up:
      // skipping the step would answer 200 and never tell the client its config is wrong.
      if (clientEmbedding && e instanceof GatewayError && e.code === 'invalid_config') throw e;
      warn({ traceId: state.traceId, err: e }, `llmux cache: semantic step skipped: ${(e as Error).message}`);
      return void (scratch.semantic = 'no_embedder');
    }
    await guardHosts(state, embedder.clientHost);
    const partition = await semanticPartition(input, prompt.index, embedder.id);
    const signals = [AbortSignal.timeout(embeddingTimeoutMs), ...(state.request.signal ? [asAbortSignal(state.request.signal)] : [])];
    try {
      const embedded = await embedder.embed(prompt.text, state.request.headers, AbortSignal.any(signals));
      p.vector = embedded.vector;
      if (embedded.tokens !== undefined) scratch.embeddingTokens = embedded.tokens;
    } catch (e) {
      warn({ traceId: state.traceId, err: e, embedder: embedder.source }, 'llmux cache: embedding failed; serving as a miss');
      return void (scratch.semantic = 'embedding_failed');
    }
    p.partition = partition;
    if (refresh) return undefined;
    const match = await bounded(state, 'semantic search', () => store.cacheIndexSearch(partition, p.vector!, p.settings.threshold));
    const entry = match && (await read(state, match.id, p.settings, false));
    if (!match || !entry) {
      if (match) void bounded(state, 'semantic delete', () => store.cacheIndexDelete(partition, match.id));
      return void (scratch.semantic = 'no_match');
    }
    scratch.similarity = match.score;
    state.headers['x-llmux-cache-similarity'] = match.score.toFixed(4);
    return serve(state, entry, 'SEMANTIC_HIT');
  }

  async function save(state: RequestState, p: Pending, outcome: Outcome): Promise<void> {
    const scratch = state.scratch.cache as CacheScratch;
    let entry: CacheEntry | undefined;
    // A stream's chunks as the texts the client was sent: stored as they are, not serialised again.
    let chunkTexts: string[] | undefined;
    if (outcome.embeddings) {
      const answer = outcome.embeddings;
      if (!answersEveryInput(answer, state.body.input)) return void (scratch.stored = 'not_complete');
      // Floats take 8+ characters each as JSON: a batch certainly over the limit is not serialised to find out.
      if (textAtLeast(answer) > maxEntryBytes) return void (scratch.stored = 'too_large');
      entry = { v: 1, createdAt: now(), kind: 'embeddings', embeddings: answer };
    }
    else if (outcome.completion?.choices?.length) entry = { v: 1, createdAt: now(), kind: 'completion', completion: outcome.completion };
    else if (outcome.chunks) {
      // Every chunk read (parsed where it was relayed as text): a stream is stored only when complete.
      const chunks = outcome.chunks.map((c) => c.chunk);
      if (isCompleteStream(chunks)) {
        entry = { v: 1, createdAt: now(), kind: 'stream', chunks };
        chunkTexts = outcome.chunks.map(chunkText);
      }
    }
    if (!entry) return void (scratch.stored = outcome.recordingTooLarge ? 'too_large' : 'not_complete');
    // Assigned rather than spread in: conditional spreads cost a temporary object each.
    if (state.target) {
      entry.provider = state.target.provider;
      entry.target = state.target.path;
    }
    if (state.cost !== undefined) entry.cost = state.cost;
    const text = encodeEntry(entry, chunkTexts);
    if (text.length > maxEntryBytes) return void (scratch.stored = 'too_large');
    const ttl = p.settings.maxAgeMs;
    const ok = await bounded(state, 'cache write', () => store.cacheSet(p.key, text, ttl).then(() => true));
    if (!ok) return void (scratch.stored = 'store_failed');
    scratch.stored = true;
    if (p.vector && p.partition) await bounded(state, 'semantic index write', () => store.cacheIndexAdd(p.partition!, p.key, p.vector!, ttl));
  }

  /** The lookup for this request; `null` when caching is off for its plan, undefined when it does not apply. */
  function lookupFor(state: RequestState): Lookup | null | undefined {
    const embeddings = state.route === 'embeddings';
    if (!embeddings && !Array.isArray(state.body.messages)) return undefined;
    const settings = cacheSettingsFor(state.plan);
    if (!settings) return null;
    let root: PlanNode;
    let inferred: string | undefined;
    try {
      ({ root, model: inferred } = gw.plans.rootFor(state.plan, state.body.model));
    } catch {
      return undefined; // the router reports an unroutable model with its own 400
    }
    const requested = inferred ?? state.body.model;
    const input: KeyInput = {
      body: state.body,
      model: state.plan.aliases[requested] ?? requested,
      root,
      identity: state.identity,
      headers: state.request.headers,
      metadata: state.metadata,
      shared: settings.shared,
      // A gateway key's copy of the server's plan is still the server's: its provider keys stay out of the key.
      includeApiKeys: state.plan.fromClient === true,
      forwardHeaders: state.overrides?.forwardHeaders,
    };
    const namespace = gatewayHeader(state.request.headers, 'cache-namespace');
    if (namespace) input.namespace = namespace;
    const refresh = truthy(gatewayHeader(state.request.headers, 'cache-force-refresh'));
    return { plan: state.plan, settings, root, input, key: exactKey(input, embeddings ? 'embeddings' : 'chat'), refresh, embeddings };
  }

  return {
    name: 'cache',
    prefetch(state) {
      const lookup = lookupFor(state);
      if (!lookup) return;
      // The read starts now, ahead of the limits stage's script: on Redis both go in one round trip.
      if (!lookup.refresh) {
        const key = lookup.key;
        lookup.entry = typeof key === 'string' ? prefetchRead(state, lookup, key) : key.then((k) => prefetchRead(state, lookup, k));
        lookup.entry.catch(() => undefined);
      }
      (state as WithCacheSlots)[PREFETCHED] = lookup;
    },
    before(state) {
      let lookup: Lookup | null | undefined = (state as WithCacheSlots)[PREFETCHED];
      if (lookup !== undefined) (state as WithCacheSlots)[PREFETCHED] = undefined;
      // A gateway key may have given the request a plan of its own since: start over with it.
      if (!lookup || lookup.plan !== state.plan) lookup = lookupFor(state);
      if (lookup === null) {
        state.cache = 'DISABLED';
        return undefined;
      }
      // Caching off for this request: nothing to wait for (the pipeline does not await a plain return).
      if (!lookup) return undefined;
      return look(state, lookup);
    },
    after(state, outcome) {
      const p = (state as WithCacheSlots)[PENDING];
      if (!p) return;
      (state as WithCacheSlots)[PENDING] = undefined;
      if (state.cache !== 'MISS' && state.cache !== 'REFRESH') return;
      // Never an error, a cut stream or a client that left: those must not be replayed as answers.
      if (outcome.status !== 200 || outcome.incomplete || outcome.error) return;
      if (state.notReplayable) return void ((state.scratch.cache as CacheScratch).stored = 'not_replayable');
      return save(state, p, outcome);
    },
  };

  async function prefetchRead(state: RequestState, lookup: Lookup, key: string): Promise<{ entry: ReadEntry | undefined; storeError?: string }> {
    const errors: Pick<CacheScratch, 'storeError'> = {};
    const entry = await read(state, key, lookup.settings, lookup.embeddings, errors);
    return errors.storeError ? { entry, storeError: errors.storeError } : { entry };
  }

  async function look(state: RequestState, lookup: Lookup): Promise<ShortCircuit | undefined> {
    const { settings, root, input, refresh } = lookup;
    const key = typeof lookup.key === 'string' ? lookup.key : await lookup.key;
    const scratch: CacheScratch = { status: 'MISS', mode: settings.mode, key };
    state.scratch.cache = scratch;
    const p: Pending = { key, settings };
    (state as WithCacheSlots)[PENDING] = p;
    if (!refresh) {
      let entry: ReadEntry | undefined;
      if (lookup.entry) {
        const read = await lookup.entry;
        entry = read.entry;
        if (read.storeError) scratch.storeError = read.storeError;
      } else entry = await read(state, key, settings, lookup.embeddings);
      if (entry) return serve(state, entry, 'HIT');
    }
    if (settings.mode === 'semantic' && !lookup.embeddings) {
      state.semanticLookup = true;
      const hit = await semanticLookup(state, input, root, p, refresh);
      if (hit) return hit;
    }
    state.cache = scratch.status = refresh ? 'REFRESH' : 'MISS';
    // The stream must be kept whole to be stored; the pipeline hands it over only if it ends normally.
    if (state.stream) {
      state.recordChunks = true;
      state.recordLimit ??= maxEntryBytes;
    }
    return undefined;
  }
}
