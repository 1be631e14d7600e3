import { GatewayError, withDetails } from '../../errors.js';
import { anthropicErrorDetails } from '../../providers/anthropic/error.js';
import { anthropicHeaders } from '../../providers/anthropic/headers.js';
import { createAnthropicStreamTranslator } from '../../providers/anthropic/stream.js';
import { translateResponse } from '../../providers/anthropic/translate-response.js';
import type { AnthropicRequest } from '../../providers/anthropic/wire-types.js';
import type { CallContext, Provider, StreamTranslator, UpstreamEvent, UpstreamRequest } from '../../providers/types.js';
import { secretsOf } from '../../upstream/call-secrets.js';
import { redactSecrets } from '../../upstream/redact.js';

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
    // Own keys only: a key named like an Object.prototype member (`valueOf`) is a parameter to send, not a rename.
    const rename = Object.hasOwn(RENAMED, key) ? RENAMED[key] : undefined;
    if (rename) rename(body, value);
    else if (!OPENAI_ONLY.has(key)) body[key] = value;
  }
  return body;
}

function eventText(ev: UpstreamEvent): string {
  const data = ev.data.split('\n').map((line) => `data: ${line}\n`).join('');
  return `${ev.event === undefined ? '' : `event: ${ev.event}\n`}${data}\n`;
}

/** What the client gets back from the Anthropic attempt that answered. */
export interface Passthrough {
  provider: Provider;
  /** The upstream message of the last non-stream attempt. */
  message(): unknown;
  /** Whether a stream attempt ran; the text of its events since the last call is drained by `takeEvents`. */
  streamed(): boolean;
  takeEvents(): string;
  /** The client's error, with the `error.details` of the Anthropic answer it reports (see `createPassthrough`). */
  withDetails(e: unknown): unknown;
  /**
   * Anthropic's own last error answer when its details carry an `error_code` (a lost thread: the SDK
   * replays the history under a new one), as the error to give the client; else undefined.
   */
  recoverable(): GatewayError | undefined;
}

/**
 * The provider `/v1/messages` uses for Anthropic targets: the client's Anthropic body goes upstream
 * unchanged (model and overrides applied, the target's key instead of the client's), and the answer
 * comes back unchanged, while the pipeline still sees OpenAI shapes for usage, cost, cache and
 * fail-over. Each upstream event's own text is queued as the normal translator reads it; the
 * ingress drains the queue whenever a chunk reaches it, so events without a chunk of their own
 * (`message_start`, `ping`) are held back with the chunks until the first content, as fail-over needs.
 * Attempts run one after another, and the one that answered is the last, so its queue is the current one.
 * `notReplayable` hears, from the translators, of an answer its OpenAI translation cannot give back whole (it is then not cached).
 * An error answer's `error.details` (the `error_code` the SDKs recover by) has no place in the provider
 * error the gateway builds, so the last one is kept here and put back on the error that reports it.
 */
export function createPassthrough(base: Provider, original: AnthropicRequest, notReplayable: () => void = () => {}): Passthrough {
  let raw: unknown;
  let queue: string[] | undefined;
  let call: CallContext | undefined;
  let failed: { status: number; message: string; details: Record<string, unknown> } | undefined;
  const provider: Provider = {
    ...base,
    error(status, body, headers) {
      const info = base.error(status, body, headers);
      const details = anthropicErrorDetails(body);
      // Held to what the error message is held to: nothing that holds one of the call's secrets.
      const text = details && JSON.stringify(details);
      const clean = text !== undefined && redactSecrets(text, call ? secretsOf(call) : []) === text;
      failed = clean ? { status, message: info.message, details: details! } : undefined;
      return info;
    },
    chat: {
      request(_body, ctx): UpstreamRequest {
        call = ctx;
        return {
          url: `${ctx.target.baseURL}/messages`,
          method: 'POST',
          headers: anthropicHeaders(ctx),
          body: JSON.stringify(upstreamBody(original, ctx)),
        };
      },
      response(json) {
        const completion = translateResponse(json, { jsonTool: false, provider: base.id, onDropped: notReplayable });
        raw = json;
        return completion;
      },
      stream(): StreamTranslator {
        const inner = createAnthropicStreamTranslator({ jsonTool: false, provider: base.id, onDropped: notReplayable });
        const mine: string[] = (queue = []);
        return {
          push(ev) {
            mine.push(eventText(ev));
            return inner.push(ev);
          },
          end: () => inner.end(),
        };
      },
    },
  };
  return {
    provider,
    message: () => raw,
    streamed: () => queue !== undefined,
    takeEvents() {
      const text = queue?.join('') ?? '';
      if (queue) queue.length = 0;
      return text;
    },
    recoverable() {
      if (!failed || typeof failed.details.error_code !== 'string') return undefined;
      return new GatewayError('provider_error', failed.message, { status: failed.status, source: 'provider', provider: base.id, details: failed.details });
    },
    withDetails(e) {
      if (!failed || !(e instanceof GatewayError) || e.details || e.status !== failed.status) return e;
      // Attempts run one after another, so the last error answer is the one the error reports when it
      // comes from this provider with the same status and message (a fallback's error wraps it as its cause).
      let root = e;
      while (root.cause instanceof GatewayError) root = root.cause;
      if (root.provider !== base.id || root.source !== 'provider' || root.message !== failed.message) return e;
      return withDetails(e, failed.details);
    },
  };
}
