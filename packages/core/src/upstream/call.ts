import { clientClosed, GatewayError, isGatewayError } from '../errors.js';
import type { ChatCompletion, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../providers/openai-types.js';
import type { CallContext, Provider, UpstreamRequest, UpstreamResponse } from '../providers/types.js';
import { statusNamedBy } from '../providers/parse-error.js';
import { concatBytes, utf8 } from '../http/bytes.js';
import type { ChunkBatches } from '../stream/batches.js';
import { holdBack } from '../stream/hold-back.js';
import { TranslatedStream, type StreamControl } from './translate-stream.js';
import { readText, type UpstreamClient } from './client.js';
import { joinEmbeddings } from '../providers/join-embeddings.js';
import { withBase64Vectors } from '../providers/embedding-base64.js';
import { redactSecrets } from './redact.js';
import { secretsOf } from './call-secrets.js';
import { rememberJsonText, takeLeftAsParsed } from '../http/json-text.js';
import { AbortLink, asAbortSignal, type AbortSource } from './abort-link.js';
import { clearDeadline, setDeadline, type Deadline } from '../timing/deadlines.js';
import { attemptTimeout, markShortenedByClient } from './attempt-overrides.js';

type ProviderText = { -readonly [K in 'message' | 'param' | 'providerCode' | 'type']: GatewayError[K] };

/** An error's provider-written fields without the call's credentials (or anything key-shaped). */
function redactError(e: GatewayError, secrets: string[]): GatewayError {
  const text = e as ProviderText;
  text.message = redactSecrets(e.message, secrets);
  if (e.param) text.param = redactSecrets(e.param, secrets);
  if (e.providerCode) text.providerCode = redactSecrets(e.providerCode, secrets);
  if (e.type) text.type = redactSecrets(e.type, secrets);
  return e;
}

/** The reason an attempt's own signal is aborted with when it ends early: no DOMException (~13 µs) to build. */
const ATTEMPT_OVER = new Error('the attempt is over');

/**
 * One attempt against one target: the signal its upstream call runs under, and a deadline for
 * `request_timeout` (on the shared timer lists of `timing/deadlines.ts`) that runs until the full
 * body (non-stream) or the first content token (stream) arrived. From then on a stream is watched
 * for silence instead (`silenceLimit`): an upstream that stops sending mid-stream — a stalled
 * model, a connection dropped without a FIN — would otherwise hold the client and the socket
 * until the client gave up, and SDKs do not time out a body that has begun.
 *
 * Without `request_timeout` a non-stream attempt runs directly under the router's signal (which
 * already follows the client and the deadline): an AbortSignal costs ~6 µs to create on Node 20,
 * linking it ~2 µs, and `abort()` without a reason ~20 µs — about 30 µs of every request. An attempt
 * that stops early (the client left mid-stream, a body that broke) still stops its upstream call:
 * leaving the body's iterator destroys undici's body, which aborts the request.
 */
class AttemptControl implements StreamControl {
  readonly signal: AbortSource;
  timedOut = false;
  /** The stream went silent past `silenceLimit` after its first token. */
  private silent = false;
  /** Set once the first token arrived and silence is what is timed. */
  private watching = false;
  /** The attempt's own link, when it has a timeout of its own. */
  private readonly own: AbortLink | undefined;
  private deadline: Deadline | undefined;
  private finished = false;
  private unfollow: (() => void) | undefined;

  constructor(
    private readonly parent: AbortSource,
    timeoutMs: number | undefined,
    private readonly deps?: CallDeps,
    private readonly silenceLimit?: number,
  ) {
    if (!timeoutMs && !silenceLimit) {
      this.signal = parent;
      return;
    }
    const own = (this.own = new AbortLink());
    this.signal = own;
    this.unfollow = own.follow(parent);
    if (timeoutMs) {
      this.deadline = setDeadline(timeoutMs, () => {
        this.timedOut = true;
        own.abort(new GatewayError('upstream_timeout', `no answer within ${timeoutMs} ms`));
      });
    }
  }

  stopTimeout(): void {
    if (this.deadline) clearDeadline(this.deadline);
    this.deadline = undefined;
  }

  /**
   * The first token arrived: from now on the limit is on silence, timed only while the stream waits
   * on the upstream (`waiting` to `heard`) — a client reading slowly is not an upstream gone quiet.
   */
  watchSilence(): void {
    this.stopTimeout();
    if (this.silenceLimit && !this.finished) this.watching = true;
  }

  waiting(): void {
    if (this.watching && !this.finished) this.deadline = setDeadline(this.silenceLimit!, this.onSilence);
  }

  heard(): void {
    if (!this.watching || !this.deadline) return;
    clearDeadline(this.deadline);
    this.deadline = undefined;
  }

  private readonly onSilence = (): void => {
    this.deadline = undefined;
    this.silent = true;
    this.own!.abort(new GatewayError('upstream_timeout', `nothing for ${this.silenceLimit} ms`));
  };

  /**
   * Unlinks from the request. `complete`: the upstream body was read to its end, so nothing is left
   * to stop; otherwise an attempt with its own signal aborts it.
   */
  finish(complete = false): void {
    if (this.finished) return;
    this.finished = true;
    this.watching = false;
    this.stopTimeout();
    const own = this.own;
    if (!own) return;
    this.unfollow?.();
    if (!complete && !own.aborted) own.abort(ATTEMPT_OVER);
  }

  /** Maps whatever the transport threw to a GatewayError that says what happened. */
  failure(e: unknown, provider: string, ctx: CallContext): GatewayError {
    if (this.deps?.cutting && !(isGatewayError(e) && e.code === 'gateway_closing')) return closingError('the upstream call was cut');
    if (this.timedOut) {
      const ms = attemptTimeout(ctx.target, ctx.overrides);
      // Shortened by the client's own x-portkey-request-timeout: Portkey's 408, which neither opens the
      // circuit for other clients nor is retried on the default statuses.
      const byClient = ms !== ctx.target.requestTimeout;
      const error = new GatewayError('upstream_timeout', `${provider} did not answer within ${ms} ms`, { provider, source: 'provider', ...(byClient ? { status: 408 } : {}) });
      if (byClient) markShortenedByClient(error);
      return error;
    }
    if (this.silent) {
      return new GatewayError('upstream_timeout', `${provider} sent nothing for ${this.silenceLimit} ms in the middle of the stream; the stream was cut`, {
        provider,
        source: 'provider',
      });
    }
    // A stream's error event is provider text too, and may echo the key it was sent.
    if (isGatewayError(e)) return redactError(e, secretsOf(ctx));
    if (this.parent.aborted) {
      // The request's own signal also carries the router's deadline (see router/run.ts).
      const reason: unknown = this.parent.reason;
      return isGatewayError(reason) ? reason : clientClosed(provider);
    }
    const message = redactSecrets(e instanceof Error ? e.message : String(e), secretsOf(ctx));
    return new GatewayError('network_error', `${provider} could not be reached: ${message}`, { provider, source: 'provider' });
  }
}

export interface CallDeps {
  client: UpstreamClient;
  /** The gateway is closing, and past its deadline cutting what runs (see `GatewayInternals`). */
  closing?: boolean;
  cutting?: boolean;
}

/**
 * Work `close()` refused or cut is the gateway's doing, not the provider's: without this a request
 * admitted just before close() and a stream cut at its deadline read as provider network errors
 * (and could count against a shared circuit breaker).
 */
const closingError = (what: string) => new GatewayError('gateway_closing', `the gateway is shutting down; ${what}`);

function send(deps: CallDeps, provider: Provider, req: UpstreamRequest, signal: AbortSource, clientHost: boolean): Promise<UpstreamResponse> {
  if (deps.closing) return Promise.reject(closingError('the upstream call was not made'));
  if (!provider.transport) return deps.client.send(req, signal, clientHost);
  // A provider's own transport is code outside the gateway: it gets a real AbortSignal, and its body
  // is read under the signal, whoever reads it (a timeout, a silence cut, a client gone, close()).
  return provider.transport(req, asAbortSignal(signal)).then((res) => ({ ...res, body: bodyUnderSignal(res.body, signal) }));
}

/**
 * A custom transport's body whose reads give up when `signal` aborts: a body that never watches the
 * signal it was given would otherwise leave the reader waiting on a read that never comes. undici's
 * bodies (the gateway's own client) reject on abort by themselves.
 */
function bodyUnderSignal(body: AsyncIterable<Uint8Array>, signal: AbortSource): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const it = body[Symbol.asyncIterator]();
      return {
        next: () => underSignal(it.next(), signal),
        return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
      };
    },
  };
}

async function providerError(provider: Provider, res: UpstreamResponse, ctx: CallContext): Promise<GatewayError> {
  const text = await readText(res.body, 1 << 20).catch(() => '');
  return errorFromBody(provider, res.status, text, res, ctx);
}

/** The provider's error body read by its own parser, as the error the client gets (secrets redacted). */
function errorFromBody(provider: Provider, status: number, text: string, res: UpstreamResponse, ctx: CallContext): GatewayError {
  const info = provider.error(status, text, res.headers);
  const error = new GatewayError('provider_error', info.message, {
    status,
    provider: provider.id,
    source: 'provider',
    type: info.type ?? 'provider_error',
    providerCode: info.code ?? null,
    param: info.param ?? null,
    ...(info.retryAfter !== undefined ? { retryAfter: info.retryAfter } : {}),
  });
  return redactError(error, secretsOf(ctx));
}

async function open(deps: CallDeps, provider: Provider, req: UpstreamRequest, control: AttemptControl, ctx: CallContext, signal = control.signal) {
  let res: UpstreamResponse;
  try {
    res = await send(deps, provider, req, signal, ctx.target.clientHost === true);
  } catch (e) {
    throw control.failure(e, provider.id, ctx);
  }
  if (res.status >= 400) throw await providerError(provider, res, ctx).catch((e) => control.failure(e, provider.id, ctx));
  return res;
}

async function readJson(res: UpstreamResponse, provider: Provider): Promise<{ json: unknown; text: string }> {
  const text = await readText(res.body);
  try {
    return { json: JSON.parse(text), text };
  } catch {
    throw new GatewayError('provider_error', `${provider.id} answered with a body that is not JSON`, { provider: provider.id, source: 'provider' });
  }
}

/**
 * A 200 answer as the gateway's shape, or a provider error when it is not one: JSON `null`, `[]` or
 * `{}` from an upstream is a failed attempt (the fallback moves on, the client gets a 502 naming the
 * provider), never a 200 relaying it nor a TypeError blamed on the gateway.
 */
function translated<T>(provider: Provider, ctx: CallContext, what: string, translate: () => T, list: 'choices' | 'data'): T {
  let out: T;
  try {
    out = translate();
  } catch (e) {
    if (isGatewayError(e)) throw e;
    throw unreadable(provider, ctx, what, e);
  }
  if (typeof out !== 'object' || out === null || !Array.isArray((out as Record<string, unknown>)[list])) throw unreadable(provider, ctx, what);
  return out;
}

function unreadable(provider: Provider, ctx: CallContext, what: string, cause?: unknown): GatewayError {
  const why = cause instanceof Error ? `: ${redactSecrets(cause.message, secretsOf(ctx))}` : '';
  return new GatewayError('provider_error', `${provider.id} answered 200 with a body that is not ${what}${why}`, {
    provider: provider.id,
    source: 'provider',
    ...(cause ? { cause } : {}),
  });
}

/**
 * Failures of building the upstream request (a translator refusing a parameter the provider cannot
 * honour): no call went out, so they are no upstream attempt for the records, metrics and traces.
 */
const unsent = new WeakSet<object>();

export const neverSent = (e: unknown): boolean => typeof e === 'object' && e !== null && unsent.has(e);

function markUnsent(e: unknown): never {
  if (typeof e === 'object' && e !== null) unsent.add(e);
  throw e;
}

/** The request a translator builds, its refusal marked unsent; no async frame when it builds synchronously, as most do. */
function built<T>(make: () => T | Promise<T>): T | Promise<T> {
  try {
    const req = make();
    return req instanceof Promise ? req.catch(markUnsent) : req;
  } catch (e) {
    return markUnsent(e);
  }
}

export async function callChat(deps: CallDeps, provider: Provider, body: ChatRequest, ctx: CallContext, parent: AbortSource): Promise<ChatCompletion> {
  const control = new AttemptControl(parent, attemptTimeout(ctx.target, ctx.overrides), deps);
  try {
    const req = await built(() => provider.chat.request(body, ctx));
    const res = await open(deps, provider, req, control, ctx);
    const { json, text } = await readJson(res, provider).catch((e) => {
      throw control.failure(e, provider.id, ctx);
    });
    control.finish(true);
    const completion = translated(provider, ctx, 'a chat completion', () => provider.chat.response(json, ctx), 'choices');
    if (completion === json && takeLeftAsParsed(json)) rememberJsonText(json, text);
    return completion;
  } finally {
    control.finish();
  }
}

/** Upstream calls in flight at once when one embeddings request fans out (few, to stay under provider rate limits). */
const EMBED_CONCURRENCY = 4;

/**
 * Runs `run` over every item, `limit` at a time. The first failure ends the batch: no item not yet
 * started is sent, and the calls still running are aborted through the batch's own link — the
 * request is answered with that failure, so their answers could only spend the provider's quota.
 */
async function inBatches<T, R>(items: T[], limit: number, parent: AbortSource, run: (item: T, signal: AbortSource) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  const batch = new AbortLink();
  const unfollow = batch.follow(parent);
  let next = 0;
  const worker = async () => {
    while (next < items.length && !batch.aborted) {
      const i = next++;
      out[i] = await run(items[i]!, batch);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } catch (e) {
    batch.abort(ATTEMPT_OVER);
    throw e;
  } finally {
    unfollow();
  }
  return out;
}

/** The usage of the calls that answered, summed; undefined when one reported none (the sum would undercount). */
function summedUsage(answered: unknown[], answer: (json: unknown) => EmbeddingsResponse): EmbeddingsResponse['usage'] {
  let prompt = 0;
  let total = 0;
  for (const json of answered) {
    let usage;
    try {
      usage = answer(json).usage;
    } catch {
      return undefined;
    }
    if (!usage) return undefined;
    prompt += usage.prompt_tokens;
    total += usage.total_tokens;
  }
  return { prompt_tokens: prompt, total_tokens: total };
}

export async function callEmbeddings(
  deps: CallDeps,
  provider: Provider,
  body: EmbeddingsRequest,
  ctx: CallContext,
  parent: AbortSource,
  /**
   * Told when a split request fails after some of its calls answered (and were billed), with their
   * summed usage; undefined when one of them reported none.
   */
  onPartlyBilled?: (usage: EmbeddingsResponse['usage']) => void,
): Promise<EmbeddingsResponse> {
  if (!provider.embeddings) {
    throw new GatewayError('invalid_request', `provider ${provider.id} does not offer embeddings`, { param: 'model', status: 400 });
  }
  const control = new AttemptControl(parent, attemptTimeout(ctx.target, ctx.overrides), deps);
  try {
    const req = await built(() => provider.embeddings!.request(body, ctx));
    const one = async (r: UpstreamRequest, signal?: AbortSource) =>
      (await readJson(await open(deps, provider, r, control, ctx, signal), provider).catch((e) => {
        throw control.failure(e, provider.id, ctx);
      })).json;
    const embeddings = provider.embeddings;
    const answer = (json: unknown) => translated(provider, ctx, 'embeddings', () => embeddings.response(json, ctx), 'data');
    // The client's ask, not the provider's: vectors go back in the format the client decodes.
    const encoded = (a: EmbeddingsResponse) => (body.encoding_format === 'base64' ? withBase64Vectors(a) : a);
    if (!Array.isArray(req)) {
      const json = await one(req);
      control.finish(true);
      return encoded(answer(json));
    }
    // Split to the provider's per-call limit (or one text per call): each answer translated on its own, joined in order.
    const answered: unknown[] = [];
    const answers = await inBatches(req, EMBED_CONCURRENCY, control.signal, (r, signal) => one(r, signal).then((json) => (answered.push(json), json))).catch((e: unknown) => {
      if (answered.length > 0) onPartlyBilled?.(summedUsage(answered, answer));
      throw e;
    });
    control.finish(true);
    return encoded(joinEmbeddings(answers.map(answer), ctx.model));
  } finally {
    control.finish();
  }
}

/** `read`, or the signal's reason once it aborts, whichever comes first. */
function underSignal<T>(read: Promise<T>, signal: AbortSource): Promise<T> {
  if (signal.aborted) {
    read.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    read.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * A 200 whose body held no event but a JSON error (a server refusing a stream request the way it
 * refuses others, `{"error": {...}}` with `application/json`): the provider's own reason, as a
 * non-stream request would get it, rather than "the stream was cut".
 */
function refusalInsteadOfEvents(provider: Provider, kept: Uint8Array[], size: number, res: UpstreamResponse, ctx: CallContext): GatewayError | undefined {
  const text = utf8.decode(concatBytes(kept, size)).trim();
  if (!text.startsWith('{')) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const error = (json as { error?: unknown } | null)?.error;
  if (typeof error !== 'object' || error === null) return undefined;
  // The status the error names (OpenRouter's 402 for no credits), as the same non-stream answer gets it.
  return errorFromBody(provider, statusNamedBy(error as Record<string, unknown>) ?? 502, text, res, ctx);
}

/**
 * Opens a stream and reads it up to the first content token, so any failure before that throws here
 * and the router can still fall over; what comes after is the caller's to relay.
 */
export async function callChatStream(
  deps: CallDeps,
  provider: Provider,
  body: ChatRequest,
  ctx: CallContext,
  parent: AbortSource,
): Promise<ChunkBatches> {
  const control = new AttemptControl(parent, attemptTimeout(ctx.target, ctx.overrides), deps, ctx.silenceLimit);
  let req: UpstreamRequest;
  try {
    req = await built(() => provider.chat.request(body, ctx));
  } catch (e) {
    // Building the request is the gateway's own work: its failure is no network error (as non-stream).
    control.finish();
    throw e;
  }
  try {
    const res = await open(deps, provider, req, control, ctx);
    const refusal = (kept: Uint8Array[], size: number) => refusalInsteadOfEvents(provider, kept, size, res, ctx);
    const stream = await holdBack(new TranslatedStream(res, provider, ctx, control, refusal));
    control.watchSilence();
    return stream;
  } catch (e) {
    control.finish();
    throw control.failure(e, provider.id, ctx);
  }
}
