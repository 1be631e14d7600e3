import { toGatewayError, type GatewayError } from '../../errors.js';
import { copyHeaders, responseHeaders } from '../../http/headers.js';
import { checkDepth, readJsonBody } from '../../http/read-body.js';
import { encodedOnRead, factsOf, runChat } from '../../pipeline/chat.js';
import { createState } from '../../pipeline/create-state.js';
import { markNotReplayable } from '../../cache/replayable.js';
import type { GatewayInternals } from '../../pipeline/internals.js';
import type { RequestState } from '../../pipeline/state.js';
import type { ChatRequest } from '../../providers/openai-types.js';
import type { Provider, ResolvedTarget } from '../../providers/types.js';
import { sseHeaders } from '../../stream/encode.js';
import { costTrailers } from '../../cost/stream-cost.js';
import type { GatewayContext, GatewayRequest, GatewayResponse } from '../../types.js';
import { anthropicErrorResponse } from './errors.js';
import { createPassthrough } from './passthrough.js';
import { toAnthropicSse } from './to-events.js';
import { EXTRAS_FIELD, toChatRequest, withoutBreakpoints, withoutToolErrors } from './to-chat-request.js';
import { toMessage } from './to-message.js';
import { validateMessages } from './validate.js';

/**
 * Providers whose translators read the Anthropic marks the OpenAI body carries: `cache_control` on
 * content parts (Bedrock: Converse `cachePoint`, or the Anthropic body of InvokeModel) and `is_error`
 * on tool messages (toolResult `status`). Every other one gets the body without them: the
 * OpenAI-compatible ones would forward them, and OpenAI and Groq reject such fields.
 */
const READS_MARKS = new Set(['bedrock']);

/**
 * A non-Anthropic provider as `/v1/messages` uses it: the untranslatable extras come off the body,
 * so do the marks the provider does not read (`strip`), and a request with Anthropic-only
 * content fails this attempt only (a fallback may still serve it).
 */
function forOthers(provider: Provider, unsupported: GatewayError | undefined, strip: (body: ChatRequest) => ChatRequest): Provider {
  return {
    ...provider,
    chat: {
      ...provider.chat,
      request(body, ctx) {
        if (unsupported) throw unsupported;
        const { [EXTRAS_FIELD]: _extras, ...rest } = body;
        return provider.chat.request(strip(rest as ChatRequest), ctx);
      },
    },
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
): Promise<GatewayResponse> {
  try {
    const raw = await readJsonBody(req.body, gw.limits.maxBodyBytes);
    checkDepth(raw, gw.limits.maxJsonDepth);
    const original = validateMessages(raw, gw.limits.maxMessages);
    const { body, unsupported, breakpoints, toolErrors } = toChatRequest(original);
    const state = createState(gw, 'messages', req, body as RequestState['body'], context, traceId);
    const anthropic = gw.registry.get('anthropic');
    // An answer a cache hit could not rebuild (server tools, citations, a stop sequence) is not stored.
    const pass = anthropic && createPassthrough(anthropic, original, () => markNotReplayable(state));
    const others = new Map<string, Provider>();
    const providerFor = (target: ResolvedTarget): Provider | undefined => {
      if (target.provider === 'anthropic') return pass?.provider;
      if (!unsupported && !breakpoints && !toolErrors && body[EXTRAS_FIELD] === undefined) return undefined;
      const base = gw.registry.get(target.provider)!;
      let p = others.get(base.id);
      if (!p) {
        const reads = READS_MARKS.has(base.id);
        const strip = (b: ChatRequest): ChatRequest => {
          if (reads) return b;
          const out = breakpoints ? withoutBreakpoints(b) : b;
          return toolErrors ? withoutToolErrors(out) : out;
        };
        others.set(base.id, (p = forOthers(base, unsupported, strip)));
      }
      return p;
    };
    const result = await runChat(gw, state, { providerFor });
    // A cache hit or a fallback to another provider answers in OpenAI shapes, translated below.
    const passed = pass && state.target?.provider === 'anthropic' ? pass : undefined;
    if (result.kind === 'completion') {
      const answer = passed?.message() ?? toMessage(result.completion, original.model);
      return { status: 200, headers: responseHeaders(factsOf(state), copyHeaders(state.headers)), body: answer };
    }
    const upstreamEvents = passed?.streamed() ? () => passed.takeEvents() : undefined;
    return {
      status: 200,
      headers: responseHeaders(factsOf(state), sseHeaders(state.headers)),
      body: encodedOnRead(result.chunks, () =>
        toAnthropicSse(result.chunks, { model: original.model, requestId: traceId, onError: toGatewayError, ...(upstreamEvents ? { upstreamEvents } : {}) }),
      ),
      // As on /v1/chat/completions: the cost is known only after the last event.
      trailers: () => costTrailers(state),
    };
  } catch (e) {
    return anthropicErrorResponse(e, traceId);
  }
}
