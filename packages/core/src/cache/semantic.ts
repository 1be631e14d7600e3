import { resolveTarget, type CompileEnv } from '../config/compile.js';
import type { PlanNode } from '../config/plan.js';
import { GatewayError } from '../errors.js';
import type { GatewayInternals } from '../pipeline/internals.js';
import type { EmbeddingsRequest } from '../providers/openai-types.js';
import type { ResolvedTarget } from '../providers/types.js';
import { parseRequestHost, type RequestHost } from '../router/ssrf-guard.js';
import { callEmbeddings } from '../upstream/call.js';
import { canonicalJson } from './canonical-key.js';
import { DEFAULT_EMBEDDING_MODELS, firstTarget, type CacheSettings } from './settings.js';
import { decodeVector, normalise } from './vector-codec.js';

/** Turns a prompt into a unit vector through the gateway's own provider layer. */
export interface Embedder {
  /** Provider, URL, model and parameters: part of every semantic partition, so models never mix. */
  readonly id: string;
  /** Where it came from, for messages (`config.cache.embedding`, or the first target's provider). */
  readonly source: string;
  /** The `custom_host` of an embedding target a client config chose: it must pass the SSRF guard before each call. */
  readonly clientHost?: RequestHost;
  embed(text: string, headers: Record<string, string | string[] | undefined>, signal: AbortSignal): Promise<{ vector: Float32Array; tokens?: number }>;
}

function compileEnv(gw: GatewayInternals): CompileEnv {
  return { registry: gw.registry, providers: gw.options.providers ?? {}, env: gw.options.env ?? process.env };
}

function build(gw: GatewayInternals, settings: CacheSettings, root: PlanNode, client: boolean): Embedder {
  const path = `${settings.path}.embedding`;
  let target: ResolvedTarget;
  let model: string | undefined;
  let clientHost: RequestHost | undefined;
  if (settings.embedding) {
    // A client's embedding target is compiled like its chat targets: no server key for a host it chose.
    const env: CompileEnv = client
      ? { ...compileEnv(gw), clientConfig: true, onCustomHost: (url, param) => void (clientHost = parseRequestHost(url, param)) }
      : compileEnv(gw);
    target = resolveTarget(settings.embedding, path, 0, env);
    model = settings.embedding.model as string | undefined;
  } else {
    const first = firstTarget(root);
    if (first?.kind !== 'target') throw new GatewayError('invalid_config', `${path} is required: there is no target to take it from`, { param: path });
    // The chat target's endpoint and key, without its chat parameters (`override_params.model` would
    // be a chat model, and an Azure `deployment_id` names the chat deployment: the embedding model's
    // own deployment is then its name).
    const { deployment_id: _chatDeployment, ...extra } = first.target.extra;
    target = { ...first.target, extra, overrideParams: {}, path };
  }
  model ??= DEFAULT_EMBEDDING_MODELS[target.provider];
  const provider = gw.registry.get(target.provider);
  if (!model || !provider?.embeddings) {
    throw new GatewayError(
      'invalid_config',
      `${path} is required: provider "${target.provider}" has no standard embedding model; set e.g. { "provider": "openai", "model": "text-embedding-3-small" }`,
      { param: path },
    );
  }
  const chosen = model;
  return {
    id: canonicalJson({ provider: target.provider, url: target.baseURL, model: chosen, params: target.overrideParams }),
    source: settings.embedding ? path : `${target.provider} (the first target's provider)`,
    ...(clientHost ? { clientHost } : {}),
    async embed(text, headers, signal) {
      const body: EmbeddingsRequest = { model: chosen, input: text };
      const res = await callEmbeddings(gw, provider, body, { target, model: chosen, stream: false, headers }, signal);
      const raw = res.data?.[0]?.embedding;
      const vector = normalise(typeof raw === 'string' ? decodeVector(raw) ?? new Float32Array() : Float32Array.from(Array.isArray(raw) ? raw : []));
      if (!vector) throw new GatewayError('provider_error', `${target.provider} returned no usable embedding for the semantic cache`, { provider: target.provider });
      return { vector, ...(res.usage?.prompt_tokens !== undefined ? { tokens: res.usage.prompt_tokens } : {}) };
    },
  };
}

const cache = new WeakMap<CacheSettings, WeakMap<PlanNode, Embedder | GatewayError>>();

/**
 * The embedder for a plan's cache settings (built once per plan); throws a GatewayError naming
 * `cache.embedding` when none can be found. `client`: the `embedding` target came from a client's config.
 */
export function embedderFor(gw: GatewayInternals, settings: CacheSettings, root: PlanNode, client = false): Embedder {
  let byRoot = cache.get(settings);
  if (!byRoot) cache.set(settings, (byRoot = new WeakMap()));
  let found = byRoot.get(root);
  if (!found) {
    try {
      found = build(gw, settings, root, client);
    } catch (e) {
      found = e instanceof GatewayError ? e : new GatewayError('invalid_config', `${settings.path}.embedding: ${(e as Error).message}`);
    }
    byRoot.set(root, found);
  }
  if (found instanceof GatewayError) throw found;
  return found;
}
