import { copyError, GatewayError, toGatewayError } from '../../errors.js';
import { copyHeaders, responseHeaders } from '../../http/headers.js';
import { checkDepth, readJsonBody } from '../../http/read-body.js';
import { encodedOnRead, factsOf, runChat } from '../../pipeline/chat.js';
import { createState } from '../../pipeline/create-state.js';
import type { GatewayInternals } from '../../pipeline/internals.js';
import type { RequestState } from '../../pipeline/state.js';
import type { ChatRequest } from '../../providers/openai-types.js';
import type { Provider, ResolvedTarget } from '../../providers/types.js';
import type { AnthropicRequest } from '../../providers/anthropic/wire-types.js';
import { sseHeaders } from '../../stream/encode.js';
import { costTrailers } from '../../cost/stream-cost.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../../types.js';
import { anthropicErrorResponse } from './errors.js';
import { createPassthrough, type Passthrough } from './passthrough.js';
import { toAnthropicSse } from './to-events.js';
import { EXTRAS_FIELD, toChatRequest, withoutBreakpoints, withoutReasoning, withoutToolErrors, withStrictReadyTools } from './to-chat-request.js';
import { openAICompatiblePresets } from '../../providers/openai-compatible/presets.js';
import { isClaude } from '../../providers/bedrock/request.js';
import { toMessage } from './to-message.js';
import { validateMessages } from './validate.js';

/**
 * Providers whose translators read the Anthropic marks the OpenAI body carries: `cache_control` on
 * content parts (Bedrock: Converse `cachePoint`, or the Anthropic body of InvokeModel) and `is_error`
 * on tool messages (Bedrock: toolResult `status`; Gemini: functionResponse `{error}`). Every other
 * one gets the body without them: the OpenAI-compatible ones would forward them, and OpenAI and
 * Groq reject such fields.
 */
const READS_BREAKPOINTS = new Set(['bedrock']);
const READS_TOOL_ERRORS = new Set(['bedrock', 'google', 'vertex-ai']);

/**
 * A translator's 400 as the client must read it: naming the field of the Anthropic body it sent,
 * not of the OpenAI body the gateway made of it.
 */
export function inClientTerms(e: unknown, clientParam: (param: string) => string | undefined): unknown {
  if (!(e instanceof GatewayError) || !e.param) return e;
  const param = clientParam(e.param);
  if (param === undefined || param === e.param) return e;
  return copyError(e, { message: e.message.split(e.param).join(param), param });
}

/**
 * A request on a server-held thread (`thread`, beta message-threads-2026-08-12) carries, after its first
 * turn, only the messages the thread lacks, which only Anthropic can join to the history it keeps. Any
 * other provider refuses it as Anthropic refuses a request it cannot thread: `@anthropic-ai/sdk` (its
 * `ThreadState.recoversFrom`) reads `error.details.error_code` "thread_unsupported_request" with an
 * `unsupported` list, stops threading and sends the same turn again with the whole conversation.
 */
export function threadRefusal(original: AnthropicRequest): GatewayError | undefined {
  if (original.thread === undefined || original.thread === null) return undefined;
  return new GatewayError('invalid_request', 'thread: this request is routed to a provider that cannot hold a message thread; send the whole conversation without `thread`', {
    param: 'thread',
    details: { error_code: 'thread_unsupported_request', unsupported: [] },
  });
}

/**
 * A non-Anthropic provider as `/v1/messages` uses it: the untranslatable extras come off the body,
 * so do the marks the provider does not read (`prepare`), a request it cannot serve (`refusal`: a thread,
 * Anthropic-only content) fails this attempt only (a fallback may still serve it), and translator
 * errors name the client's fields.
 */
function forOthers(
  provider: Provider,
  refusal: () => GatewayError | undefined,
  prepare: PrepareBody,
  clientParam: (param: string) => string | undefined,
): Provider {
  const translated = (e: unknown) => {
    throw inClientTerms(e, clientParam);
  };
  return {
    ...provider,
    chat: {
      ...provider.chat,
      request(body, ctx) {
        const refused = refusal();
        if (refused) throw refused;
        try {
          const out = provider.chat.request(prepare(body, ctx.model), ctx);
          return out instanceof Promise ? out.catch(translated) : out;
        } catch (e) {
          return translated(e);
        }
      },
    },
  };
}

/**
 * Anthropic parameters without an OpenAI name, for the translators that read them as extra body
 * fields on /v1/chat/completions too — Claude on Bedrock (`additionalModelRequestFields`), Gemini:
 * `top_k`, and the `thinking` object, so the client's budget goes upstream as sent
 * (`reasoning_effort` only approximates it by a preset). Cohere gets the budget in its own
 * `thinking.token_budget`.
 */
function withNativeExtras(providerId: string, body: ChatRequest, extras: unknown, model: string): ChatRequest {
  const { thinking, top_k: topK } = (extras ?? {}) as { thinking?: unknown; top_k?: unknown };
  if (providerId === 'cohere') return withCohereThinking(body, thinking);
  const gemini = providerId === 'google' || providerId === 'vertex-ai';
  if (!gemini && !(providerId === 'bedrock' && isClaude(model))) return body;
  const out: ChatRequest = topK === undefined ? { ...body } : { ...body, top_k: topK };
  if (thinking === undefined) return out;
  // Gemini reads the effort first; the exact budget (or `disabled`) wins here. Adaptive thinking has
  // no Gemini form, so its effort is what asks Gemini to think and show its thoughts.
  const type = (thinking as { type?: unknown } | null)?.type;
  if (gemini && (type === 'enabled' || type === 'disabled')) delete out.reasoning_effort;
  return { ...out, thinking };
}

/** An exact budget goes as Cohere's `thinking.token_budget`; anything else keeps the effort preset. */
function withCohereThinking(body: ChatRequest, thinking: unknown): ChatRequest {
  const t = thinking as { type?: unknown; budget_tokens?: unknown } | null | undefined;
  if (t?.type !== 'enabled' || typeof t.budget_tokens !== 'number') return body;
  const { reasoning_effort: _preset, ...rest } = body;
  return { ...rest, thinking: { type: 'enabled', token_budget: t.budget_tokens } };
}

/** OpenAI-compatible servers forward messages as they are; DeepSeek's reasoner reads `reasoning_content` back in a tool turn. */
const OPENAI_COMPATIBLE = new Set(openAICompatiblePresets.map((p) => p.id));
const FORWARDS_MESSAGES = new Set([...OPENAI_COMPATIBLE].filter((id) => id !== 'deepseek'));

/** The translated body as one provider's chat translator gets it on /v1/messages (see `bodyPreparer`). */
export type PrepareBody = (body: ChatRequest, model: string) => ChatRequest;

/**
 * What `/v1/messages` hands a non-Anthropic provider's chat translator: the translation's extras as the
 * fields that provider reads natively (Gemini's exact thinking budget, `top_k`), and without the marks it
 * does not read (`marks`, from `toChatRequest`). Counting tokens prepares its body the same way, so a
 * count is of what a message would send.
 */
export function bodyPreparer(providerId: string, marks: { breakpoints: boolean; toolErrors: boolean; reasoning: boolean }): PrepareBody {
  const dropBreakpoints = marks.breakpoints && !READS_BREAKPOINTS.has(providerId);
  const dropToolErrors = marks.toolErrors && !READS_TOOL_ERRORS.has(providerId);
  const forwards = marks.reasoning && FORWARDS_MESSAGES.has(providerId);
  const compatible = OPENAI_COMPATIBLE.has(providerId);
  return (body, model) => {
    const { [EXTRAS_FIELD]: extras, ...rest } = body;
    const b = withNativeExtras(providerId, rest as ChatRequest, extras, model);
    const tools = compatible ? withStrictReadyTools(b) : b;
    const thought = forwards ? withoutReasoning(tools) : tools;
    const out = dropBreakpoints ? withoutBreakpoints(thought) : thought;
    return dropToolErrors ? withoutToolErrors(out) : out;
  };
}

/**
 * `POST /v1/messages`: an Anthropic Messages request runs through the same stages and router as a
 * chat completion (its OpenAI translation is what stages, cache keys and non-Anthropic targets see),
 * and the answer goes back in Anthropic's shape. Anthropic targets get the client's body as is.
 * The client's `x-api-key` is never sent upstream: each target carries its own key.
 */
export async function handleMessages(
  gw: GatewayInternals,
  req: GatewayRequest,
  context: GatewayContext | undefined,
  traceId: string,
  startedAt = Date.now(),
): Promise<GatewayResponse> {
  let pass: Passthrough | undefined;
  let threadRefused: GatewayError | undefined;
  try {
    const raw = await readJsonBody(req.body, gw.limits.maxBodyBytes, req.headers);
    checkDepth(raw, gw.limits.maxJsonDepth);
    const original = validateMessages(raw, gw.limits.maxMessages);
    const { body, unsupported, breakpoints, toolErrors, reasoning, clientParam } = toChatRequest(original);
    const state = createState(gw, 'messages', req, body as RequestState['body'], context, traceId, startedAt);
    const anthropic = gw.registry.get('anthropic');
    // An answer a cache hit could not rebuild (server-tool blocks, citations) is not stored.
    pass = anthropic && createPassthrough(anthropic, original, () => (state.notReplayable = true));
    // Which provider a threaded request may go to is decided per attempt, as passthrough or translation
    // is: Anthropic targets of the tree serve it, every other one refuses it. Once one has refused and
    // nothing answered, that refusal is what the client hears (see the catch below).
    const thread = threadRefusal(original);
    const refusal = (): GatewayError | undefined => {
      if (!thread) return unsupported;
      threadRefused = thread;
      return thread;
    };
    const others = new Map<string, Provider>();
    const providerFor = (target: ResolvedTarget): Provider | undefined => {
      if (target.provider === 'anthropic') return pass?.provider;
      const base = gw.registry.get(target.provider)!;
      let p = others.get(base.id);
      if (!p) others.set(base.id, (p = forOthers(base, refusal, bodyPreparer(base.id, { breakpoints, toolErrors, reasoning }), clientParam)));
      return p;
    };
    const result = await runChat(gw, state, { providerFor });
    // A cache hit or a fallback to another provider answers in OpenAI shapes, translated below.
    const passed = pass && state.target?.provider === 'anthropic' ? pass : undefined;
    if (result.kind === 'completion') {
      const answer = passed?.message() ?? toMessage(result.completion, original.model, original.stop_sequences);
      return { status: 200, headers: responseHeaders(factsOf(state), copyHeaders(state.headers)), body: answer };
    }
    const upstreamEvents = passed?.streamed() ? () => passed.takeEvents() : undefined;
    return {
      status: 200,
      headers: responseHeaders(factsOf(state), sseHeaders(state.headers)),
      body: encodedOnRead(result.chunks, () =>
        toAnthropicSse(result.chunks, {
          model: original.model,
          requestId: traceId,
          onError: toGatewayError,
          ...(original.stop_sequences ? { stopSequences: original.stop_sequences } : {}),
          ...(upstreamEvents ? { upstreamEvents } : {}),
        }),
      ),
      // As on /v1/chat/completions: the cost is known only after the last event.
      trailers: () => costTrailers(state),
    };
  } catch (e) {
    // A thread refused anywhere wins over how the rest of the tree failed: without the thread the same
    // turn can go to any target, while a retry of the threaded one meets the same refusal (and the
    // router's summary of several failures would drop its details).
    // But Anthropic's own answer on the thread (404 thread_not_found) comes first: the SDK recovers from
    // it by replaying the history under a new thread, while a refusal makes it stop threading.
    const recoverable = threadRefused ? pass?.recoverable() : undefined;
    return anthropicErrorResponse(recoverable ?? threadRefused ?? pass?.withDetails(e) ?? e, traceId);
  }
}
