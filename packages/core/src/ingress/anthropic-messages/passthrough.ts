import type { ChatCompletion, ChatCompletionChunk } from '../../providers/openai-types.js';
import { anthropicHeaders } from '../../providers/anthropic/headers.js';
import { createAnthropicStreamTranslator } from '../../providers/anthropic/stream.js';
import { translateResponse } from '../../providers/anthropic/translate-response.js';
import type { AnthropicRequest } from '../../providers/anthropic/wire-types.js';
import type { CallContext, ChunkOut, Provider, StreamTranslator, UpstreamEvent, UpstreamRequest } from '../../providers/types.js';
import { RAW_EVENTS, type RawChunkOut } from './raw-events.js';

/** Anthropic's message as it came, for the completion translated from it (non-stream passthrough). */
const rawMessages = new WeakMap<ChatCompletion, unknown>();

export const rawMessageOf = (completion: ChatCompletion): unknown => rawMessages.get(completion);

/** OpenAI names a target's `override_params` may use, and their Anthropic places. */
const RENAMED: Record<string, (body: AnthropicRequest, value: unknown) => void> = {
  max_completion_tokens: (b, v) => (b.max_tokens = v as number),
  stop: (b, v) => (b.stop_sequences = typeof v === 'string' ? [v] : (v as string[])),
  user: (b, v) => (b.metadata = { ...b.metadata, user_id: v as string }),
};
/** OpenAI-only parameters with no Anthropic meaning; sending them would fail the call. */
const OPENAI_ONLY = new Set(['n', 'seed', 'frequency_penalty', 'presence_penalty', 'logprobs', 'top_logprobs', 'logit_bias', 'response_format', 'reasoning_effort', 'stream_options', 'parallel_tool_calls']);

/** The client's body for one target: its model and `override_params` applied, everything else as sent. */
export function upstreamBody(original: AnthropicRequest, ctx: CallContext): AnthropicRequest {
  const body: AnthropicRequest = { ...original, model: ctx.model };
  for (const [key, value] of Object.entries(ctx.target.overrideParams)) {
    if (key === 'model') continue;
    const rename = RENAMED[key];
    if (rename) rename(body, value);
    else if (!OPENAI_ONLY.has(key)) body[key] = value;
  }
  return body;
}

function eventText(ev: UpstreamEvent): string {
  const data = ev.data.split('\n').map((line) => `data: ${line}\n`).join('');
  return `${ev.event === undefined ? '' : `event: ${ev.event}\n`}${data}\n`;
}

/**
 * Runs the normal Anthropic translator, for usage, fail-over and the stages, and hangs each
 * upstream event's own text on the chunks it produced. Events that produce no chunk (block starts,
 * pings) ride on the next chunk, so `message_start` and `ping` are held back with it until the
 * first content, and a fallback can still take over before the client saw anything.
 */
function rawCarryingTranslator(inner: StreamTranslator): StreamTranslator {
  let pending = '';
  let last: ChatCompletionChunk | undefined;
  const attach = (outs: ChunkOut[]): ChunkOut[] => {
    outs.forEach((o, i) => ((o as RawChunkOut)[RAW_EVENTS] = i === 0 ? pending : ''));
    if (outs.length) {
      pending = '';
      last = outs[outs.length - 1]!.chunk;
    }
    return outs;
  };
  return {
    push(ev) {
      pending += eventText(ev);
      return attach(inner.push(ev));
    },
    end() {
      const outs = attach(inner.end());
      if (!pending) return outs;
      // `message_stop` (and anything after the last chunk) still has to reach the client.
      const carrier: RawChunkOut = { chunk: { id: last?.id ?? '', object: 'chat.completion.chunk', created: last?.created ?? 0, model: last?.model ?? '', choices: [] } };
      carrier[RAW_EVENTS] = pending;
      pending = '';
      return [...outs, carrier];
    },
  };
}

/**
 * The provider `/v1/messages` uses for Anthropic targets: the client's Anthropic body goes upstream
 * unchanged (model and overrides applied, the target's key instead of the client's), and the answer
 * comes back unchanged, while the pipeline still sees OpenAI shapes for usage, cost and cache.
 */
export function passthroughProvider(base: Provider, original: AnthropicRequest): Provider {
  return {
    ...base,
    chat: {
      request(_body, ctx): UpstreamRequest {
        return {
          url: `${ctx.target.baseURL}/messages`,
          method: 'POST',
          headers: anthropicHeaders(ctx),
          body: JSON.stringify(upstreamBody(original, ctx)),
        };
      },
      response(json) {
        const completion = translateResponse(json, { jsonTool: false, provider: base.id });
        rawMessages.set(completion, json);
        return completion;
      },
      stream: () => rawCarryingTranslator(createAnthropicStreamTranslator({ jsonTool: false, provider: base.id })),
    },
  };
}
