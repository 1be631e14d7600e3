import { withBilledUsage } from '../../upstream/billed-failure.js';
import { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk } from '../openai-types.js';
import { errorMessageOf, statusNamedBy } from '../parse-error.js';
import type { CallContext, ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';
import { redactSecrets } from '../../upstream/redact.js';
import { outHasContent } from '../../stream/hold-back.js';
import { createChunkNormalizer } from './normalize-chunk.js';

/**
 * OpenRouter reports failures inside a 200 stream as a chunk with an `error` object (`code: 400`);
 * Groq as `event: error` with `{error: {code: "tool_use_failed", status_code: 400, type}}`.
 */
function inStreamError(provider: string, error: Record<string, unknown>, fallback = `${provider} reported an error inside the stream`): GatewayError {
  const status = statusNamedBy(error) ?? 502;
  return new GatewayError('provider_error', errorMessageOf(error) ?? fallback, {
    provider,
    source: 'provider',
    status,
    ...(typeof error.type === 'string' ? { type: error.type } : {}),
    providerCode: typeof error.code === 'string' ? error.code : null,
    param: typeof error.param === 'string' ? error.param : null,
  });
}

/**
 * A choice that ended with `finish_reason: "error"`: Mistral's enum says the generation failed, and
 * OpenRouter sends it with the choice's own `error`. What came before it is no complete answer.
 */
function failedChoice(provider: string, choices: unknown): GatewayError | undefined {
  if (!Array.isArray(choices)) return undefined;
  const failed = choices.find((c: { finish_reason?: unknown } | null) => c?.finish_reason === 'error') as { error?: unknown } | undefined;
  if (!failed) return undefined;
  const detail = failed.error && typeof failed.error === 'object' ? (failed.error as Record<string, unknown>) : {};
  return inStreamError(provider, detail, `${provider} failed while generating the answer (finish_reason "error")`);
}

/**
 * OpenRouter (and some self-hosted servers) answer a failure as a 200 whose body is only `{ error }`,
 * Mistral and OpenRouter as a 200 whose choice finished with "error": an error, never an answer to
 * relay with a 200. Its text may echo the key it was sent.
 */
export function throwErrorBody(json: unknown, ctx: CallContext): void {
  const body = json as { error?: unknown; choices?: unknown; data?: unknown } | null;
  let error = failedChoice(ctx.target.provider, body?.choices);
  if (!error) {
    if (!body?.error || typeof body.error !== 'object' || Array.isArray(body.choices) || Array.isArray(body.data)) return;
    error = inStreamError(ctx.target.provider, body.error as Record<string, unknown>);
  }
  error.message = redactSecrets(error.message, [ctx.target.apiKey]);
  // A failed generation was still billed: its usage is charged (`billed-failure.ts`).
  throw withBilledUsage(error, (body as { usage?: unknown }).usage);
}

/** The usage of a chunk that also carries an error, as a usage-only chunk: nothing of the failed chunk but what it billed. */
function usageOnly(chunk: ChatCompletionChunk): ChunkOut {
  return { chunk: { id: chunk.id, object: 'chat.completion.chunk', created: chunk.created, model: chunk.model, choices: [], usage: chunk.usage } };
}

/** Anything that makes a payload more than a plain delta, or JSON laid out so the test cannot tell. */
const NOT_PLAIN = /"(?:tool_calls|error)"|"reasoning|"content":\[|": |"usage":(?!null)|"finish_reason":(?!null)/;

/**
 * Whether a `data:` payload is a plain content delta, decided from its text: every `finish_reason`
 * null, no usage (or `"usage":null`, as OpenAI sends with `include_usage`), no error, nothing the
 * normalizer rewrites (tool calls, reasoning, content parts), compact JSON. Conservative: text that
 * merely mentions one of these gets parsed as before. One regex pass (~0.3 µs): a chain of
 * `indexOf`s cost as much as the JSON.parse it saves. The finish is searched from the end, where
 * providers put it: on OpenAI's 360-character chunks `lastIndexOf` took ~0.1 µs where `includes`
 * took ~0.28 µs (V8's forward search skips little over JSON, whose characters the pattern shares).
 */
export function isPlainDelta(data: string): boolean {
  return data.lastIndexOf('"finish_reason":null') !== -1 && !NOT_PLAIN.test(data);
}

/**
 * A plain delta (see `isPlainDelta`), relayed as its text and parsed only if something reads
 * `chunk`: JSON.parse costs ~1.7 µs for a typical 170-byte chunk on Node 20, and a relayed stream
 * has one per token.
 */
class PlainDelta implements ChunkOut {
  readonly plain = true;
  private parsed: ChatCompletionChunk | undefined;
  constructor(readonly raw: string) {}
  get chunk(): ChatCompletionChunk {
    return (this.parsed ??= JSON.parse(this.raw) as ChatCompletionChunk);
  }
}

/**
 * OpenAI-style SSE passes through and is re-sent byte for byte via `raw` unless it had to be
 * normalized or a later stage changes it. Plain deltas are recognised without parsing; every other
 * payload is parsed once (for usage, errors, the finish and fail-over).
 */
export function createPassthroughTranslator(provider: string, choices = 1): StreamTranslator {
  let done = false;
  /** Choices that got their finish_reason: without [DONE], all `choices` (the request's `n`) must have. */
  const finished = new Set<number>();
  const normalize = createChunkNormalizer();
  /** A chunk the client counts as the answer went out: the stream can no longer fall over (see `holdBack`). */
  let answered = false;
  /** An in-stream error held back while the usage that came with it goes out; thrown at the next event or the end. */
  let pending: GatewayError | undefined;
  const noteAnswer = (out: ChunkOut[]): ChunkOut[] => {
    // Judged from a plain delta's text: parsing it here would undo what relaying it as text saves.
    if (!answered) answered = out.some(outHasContent);
    return out;
  };
  return {
    push(ev: UpstreamEvent): ChunkOut[] {
      if (pending) throw pending;
      const data = ev.data;
      if (data === '[DONE]') {
        done = true;
        return [];
      }
      // Relayed as its text only when it came whole (not the unfinished tail of a body) and is one line
      // (an event of several `data:` lines is joined with `\n`, which would end the client's line).
      const relayable = ev.final !== true && data.indexOf('\n') === -1;
      if (ev.event === undefined && relayable && isPlainDelta(data)) return noteAnswer([new PlainDelta(data)]);
      let chunk: ChatCompletionChunk & { error?: unknown };
      try {
        chunk = JSON.parse(data);
      } catch {
        if (ev.event === 'error') throw new GatewayError('provider_error', `${provider} stream error: ${data.slice(0, 300)}`, { provider, source: 'provider' });
        // The body ended inside its last event: cut short, not a malformed event.
        if (ev.final) throw new GatewayError('stream_interrupted', `${provider} closed the stream before it finished`, { provider, source: 'provider' });
        throw new GatewayError('provider_error', `${provider} sent a stream event that is not JSON`, { provider, status: 502 });
      }
      if (typeof chunk !== 'object' || chunk === null || Array.isArray(chunk)) {
        // `data: null`, a number, a list: JSON, but no chunk — the provider's fault, not a network error.
        throw new GatewayError('provider_error', `${provider} sent a stream event that is not a chunk: ${data.slice(0, 100)}`, { provider, status: 502 });
      }
      if (chunk.error && typeof chunk.error === 'object') {
        const error = inStreamError(provider, chunk.error as Record<string, unknown>);
        // OpenRouter's error chunk carries what it billed. Once the answer started the request is
        // charged, so that usage must reach the costing ahead of the error; before it, the error
        // alone keeps the stream free to fall over, as any failure before the first token.
        if (!answered || !chunk.usage) throw error;
        pending = error;
        return [usageOnly(chunk)];
      }
      if (ev.event === 'error') {
        throw new GatewayError('provider_error', `${provider} stream error: ${data.slice(0, 300)}`, { provider, source: 'provider' });
      }
      const failed = failedChoice(provider, chunk.choices);
      if (failed) {
        // Held back as an error chunk is: relayed, it and the [DONE] after it would pass a cut answer off as whole.
        if (!answered || !chunk.usage) throw failed;
        pending = failed;
        return [usageOnly(chunk)];
      }
      if (chunk.choices) for (const c of chunk.choices) if (c.finish_reason) finished.add(c.index ?? 0);
      return noteAnswer([normalize(chunk) || !relayable ? { chunk } : { chunk, raw: data }]);
    },
    end(): ChunkOut[] {
      if (pending) throw pending;
      // Without [DONE], every choice must have finished: with n > 1 one may end while another is cut.
      if (!done && finished.size < choices) {
        throw new GatewayError('stream_interrupted', `${provider} closed the stream before it finished`, { provider, source: 'provider' });
      }
      return [];
    },
  };

}
