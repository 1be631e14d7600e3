import type { PlanNode } from '../config/plan.js';
import { ANTHROPIC_VERSION } from '../providers/anthropic/headers.js';
import type { ChatMessage } from '../providers/openai-types.js';
import { fieldOf } from '../router/route-input.js';
import type { GatewayContext } from '../types.js';
import { canonicalJson, quotedName, sha256Hex, sha256HexNow, sortedKeys } from './canonical-key.js';

/** Request fields that never change the answer; everything else is part of the key. */
const NOT_ANSWER = new Set(['model', 'messages', 'stream', 'stream_options', 'user', 'metadata', 'store']);
/** Provider settings that are credentials: rotating them must not empty the cache. */
const SECRET = /key|secret|token|password|credential/i;
/** Client headers Anthropic-format upstreams read (`providers/anthropic/headers.ts`): beta flags change the answer. */
const ANTHROPIC_HEADERS = ['anthropic-beta', 'anthropic-version'].flatMap((h) => [h, `x-llmux-${h}`, `x-portkey-${h}`]);

export interface KeyInput {
  body: Record<string, unknown> & { model: string };
  /** The model after routing inference and aliases. */
  model: string;
  root: PlanNode;
  identity: GatewayContext;
  /** The client's request headers: those the upstream call reads (`forward_headers`, Anthropic betas) are part of the key. */
  headers?: Record<string, string | string[] | undefined>;
  /** The request's metadata: part of the key only where conditional routing reads it. */
  metadata: Record<string, unknown>;
  shared: boolean;
  /**
   * `x-llmux-cache-namespace` / `x-portkey-cache-namespace` (the portkey-ai SDK's `cacheNamespace`):
   * entries of different namespaces never answer each other (one per end user, per tenant…).
   */
  namespace?: string;
  /** A client-sent config: its own provider keys then separate entries too. */
  includeApiKeys: boolean;
  /** Headers the request itself asked to forward (`x-portkey-forward-headers`): their values reach the upstream too. */
  forwardHeaders?: string[] | undefined;
}

interface Route {
  withKeys: unknown;
  withoutKeys: unknown;
  /** Their canonical texts, written on first use: the tree is the same for every request it routes. */
  withKeysText?: string;
  withoutKeysText?: string;
  /** The fields conditional strategies test (`metadata.*`, `identity.*`, `params.*`, `model`): they pick the target, so the answer. */
  fields: string[];
  /** Request headers some target sends upstream: their values change the answer as much as the body does. */
  headers: string[];
}

const routes = new WeakMap<PlanNode, Route>();

function queryFields(query: unknown, out: Set<string>): void {
  if (Array.isArray(query)) return query.forEach((q) => queryFields(q, out));
  if (!query || typeof query !== 'object') return;
  for (const [k, v] of Object.entries(query)) {
    // Fields the answer would not otherwise be keyed on (metadata, identity, `user`, the model name the
    // client sent before aliases) pick the target when a condition tests them, so they key it too.
    if (/^(metadata|identity|params)(\.|$)/.test(k) || k === 'model') out.add(k);
    queryFields(v, out);
  }
}

/** Which upstreams may answer: every target of the tree with what changes its answers. */
function routeOf(root: PlanNode): Route {
  let known = routes.get(root);
  if (!known) {
    const fields = new Set<string>();
    const headers = new Set<string>();
    const collect = (node: PlanNode, keys: boolean): unknown => {
      if (node.kind === 'strategy') {
        if (node.mode === 'conditional') for (const c of node.strategy.conditions ?? []) queryFields(c.query, fields);
        return { mode: node.mode, targets: node.children.map((c) => collect(c, keys)) };
      }
      const t = node.target;
      for (const h of t.forwardHeaders) headers.add(h);
      if (t.provider === 'anthropic' || t.provider === 'bedrock') for (const h of ANTHROPIC_HEADERS) headers.add(h);
      const settings: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(t.extra)) if (!SECRET.test(k)) settings[k] = v;
      return { provider: t.provider, url: t.baseURL, params: t.overrideParams, settings, ...(keys && t.apiKey ? { key: t.apiKey } : {}) };
    };
    known = { withKeys: collect(root, true), withoutKeys: collect(root, false), fields: [...fields].sort(), headers: [...headers].sort() };
    routes.set(root, known);
  }
  return known;
}

/** The values of the request headers the route sends upstream; the default Anthropic version counts as absent. */
function headerValues(names: string[], headers: KeyInput['headers']): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name of names) {
    const raw = headers?.[name];
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    if (value === undefined || (name.endsWith('anthropic-version') && value === ANTHROPIC_VERSION)) continue;
    out.push([name, value]);
  }
  return out;
}

/** The route part of a key: the tree, the values of the fields conditional routing tests, and the headers sent upstream. */
function routeKey(input: KeyInput): unknown {
  const route = routeOf(input.root);
  const tree = input.includeApiKeys ? route.withKeys : route.withoutKeys;
  const names = input.forwardHeaders ? [...new Set([...route.headers, ...input.forwardHeaders])].sort() : route.headers;
  const headers = headerValues(names, input.headers);
  if (route.fields.length === 0 && headers.length === 0) return tree;
  // Conditions see the model name as the client sent it, before aliases (env-for-request.ts).
  const routeInput = { metadata: input.metadata, identity: input.identity, params: input.body, model: input.body.model };
  return {
    tree,
    ...(route.fields.length ? { fields: route.fields.map((f) => [f, fieldOf(routeInput, f) ?? null]) } : {}),
    ...(headers.length ? { headers } : {}),
  };
}

/** `routeKey` as canonical text: a plain tree's text is kept with the route rather than written per request. */
function routeText(input: KeyInput): string {
  const route = routeOf(input.root);
  if (route.fields.length === 0 && route.headers.length === 0 && !input.forwardHeaders) {
    if (input.includeApiKeys) return (route.withKeysText ??= canonicalJson(route.withKeys));
    return (route.withoutKeysText ??= canonicalJson(route.withoutKeys));
  }
  return canonicalJson(routeKey(input));
}

/** The request's fields that change the answer (all but `NOT_ANSWER`), as canonical text. */
function paramsText(body: Record<string, unknown>): string {
  let out = '{';
  const keys = sortedKeys(body);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const v = body[k];
    if (NOT_ANSWER.has(k) || v === undefined || typeof v === 'function') continue;
    if (out.length > 1) out += ',';
    out += quotedName(k) + ':' + canonicalJson(v);
  }
  return out + '}';
}

/** The identity fields that scope an entry, in code-unit order. */
const SCOPE_FIELDS = ['key', 'team', 'tenant', 'user'] as const;

/**
 * Whose entry it is: by default the caller's (gateway key, user, team, tenant), `null` when `shared`
 * pools them. Written as canonical text, its members in sorted order.
 */
function scopeText(identity: GatewayContext, shared: boolean): string {
  if (shared) return 'null';
  let out = '{';
  for (const field of SCOPE_FIELDS) {
    const v = identity[field];
    if (v === undefined || v === null) continue;
    if (out.length > 1) out += ',';
    out += `"${field}":${JSON.stringify(String(v))}`;
  }
  return out + '}';
}

/**
 * The exact-match key: sha256 of everything that changes the answer, in canonical form. An
 * embeddings request (its `input` among the params) is keyed apart from chats by its `kind`.
 * Synchronous where the runtime hashes natively (Node), so a hit waits on nothing but the store.
 */
export function exactKey(input: KeyInput, kind: 'chat' | 'embeddings' = 'chat'): string | Promise<string> {
  // The text `canonicalJson` makes of { v, scope, route, model, namespace, params, messages | kind }, written member
  // by member in its sorted order (a stored entry's key must not change between versions), so the route's
  // text is reused and no key object is built.
  let text = '{';
  if (kind !== 'chat') text += `"kind":${JSON.stringify(kind)},`;
  else if (input.body.messages !== undefined) text += `"messages":${canonicalJson(input.body.messages)},`;
  if (input.model !== undefined) text += `"model":${canonicalJson(input.model)},`;
  if (input.namespace !== undefined) text += `"namespace":${JSON.stringify(input.namespace)},`;
  text += `"params":${paramsText(input.body)},"route":${routeText(input)},"scope":${scopeText(input.identity, input.shared)},"v":1}`;
  return sha256HexNow(text) ?? sha256Hex(text);
}

/** The text of the last user message, or undefined when it has no text or carries non-text parts (images, audio). */
export function lastUserText(messages: ChatMessage[]): { index: number; text: string } | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content.trim() ? { index: i, text: m.content } : undefined;
    if (!Array.isArray(m.content)) return undefined;
    const texts: string[] = [];
    for (const part of m.content) {
      if (part.type !== 'text' || typeof part.text !== 'string') return undefined;
      texts.push(part.text);
    }
    const text = texts.join('\n');
    return text.trim() ? { index: i, text } : undefined;
  }
  return undefined;
}

/**
 * The semantic partition: everything the exact key covers except the last user message's text, plus
 * the embedding model. Only requests alike in all of that (same system prompt, same earlier turns,
 * tools, model, parameters, scope) can ever match each other by similarity.
 */
export function semanticPartition(input: KeyInput, userIndex: number, embedder: string): Promise<string> {
  const messages = (input.body.messages as ChatMessage[]).map((m, i) => {
    if (i !== userIndex) return m;
    const { content: _content, ...rest } = m;
    return { ...rest, content: { $llmux: 'semantic-prompt' } };
  });
  // The canonical text of { v, semantic, scope, route, model, namespace, params, messages }, member by
  // member in sorted order, as `exactKey` writes its own.
  let text = `{"messages":${canonicalJson(messages)},`;
  if (input.model !== undefined) text += `"model":${canonicalJson(input.model)},`;
  if (input.namespace !== undefined) text += `"namespace":${JSON.stringify(input.namespace)},`;
  text += `"params":${paramsText(input.body)},"route":${routeText(input)},"scope":${scopeText(input.identity, input.shared)},"semantic":${JSON.stringify(embedder)},"v":1}`;
  return sha256Hex(text);
}
