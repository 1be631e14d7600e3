import { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk, ChunkDelta } from '../openai-types.js';
import type { CallContext, ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';
import { streamError } from './errors.js';
import { failedCandidate, toFinishReason } from './finish-reason.js';
import { toAnnotations } from './grounding.js';
import { toChoiceLogprobs } from './logprobs.js';
import { callId, readParts } from './parts.js';
import { answerHead, blockedMessage, type AnswerHead } from './response.js';
import { extraContent } from './thought-signature.js';
import { toUsage } from './usage.js';
import type { GenerateContentResponse, GeminiUsage } from './wire.js';

/**
 * `streamGenerateContent?alt=sse` → OpenAI chunks. Every event is a whole GenerateContentResponse
 * carrying the usage so far; function calls arrive complete, so each becomes one tool-call delta with
 * its own index. There is no terminator: a stream is complete once every candidate sent a finishReason.
 */
export function createGeminiStream(ctx: CallContext): StreamTranslator {
  const provider = ctx.target.provider;
  let head: AnswerHead | undefined;
  let usage: GeminiUsage | undefined;
  /** Per candidate: role sent, tool calls so far, finished. */
  const started = new Set<number>();
  const calls = new Map<number, number>();
  const finished = new Set<number>();
  /** Candidates that sent any text, reasoning or tool call. */
  const produced = new Set<number>();
  /**
   * Per candidate, its text so far: grounding segments are UTF-8 byte offsets into the whole answer,
   * and arrive with (or after) its last part.
   */
  const texts = new Map<number, string>();
  /** Per candidate, the latest grounding not yet sent as annotations. */
  const grounding = new Map<number, unknown>();

  const chunk = (choices: ChatCompletionChunk['choices']): ChunkOut => ({
    chunk: { id: head!.id, object: 'chat.completion.chunk', created: head!.created, model: head!.model, choices },
  });

  return {
    push(ev: UpstreamEvent): ChunkOut[] {
      let res: GenerateContentResponse & { error?: Parameters<typeof streamError>[1] };
      try {
        res = JSON.parse(ev.data);
      } catch {
        throw new GatewayError('provider_error', `${provider} sent a stream event that is not JSON`, { provider, source: 'provider' });
      }
      if (res.error) throw streamError(provider, res.error);
      head ??= answerHead(res, ctx);
      if (res.usageMetadata) usage = res.usageMetadata;
      const candidates = res.candidates ?? [];
      const out: ChunkOut[] = [];
      if (!candidates.length) {
        const blocked = blockedMessage(res);
        if (blocked && !finished.has(0)) {
          started.add(0);
          finished.add(0);
          out.push(chunk([{ index: 0, delta: { role: 'assistant', content: null, refusal: blocked }, finish_reason: 'content_filter' }]));
        }
        return out;
      }
      for (const [position, candidate] of candidates.entries()) {
        const index = candidate.index ?? position;
        const parts = readParts(candidate.content?.parts);
        const delta: ChunkDelta = {};
        if (!started.has(index)) {
          started.add(index);
          delta.role = 'assistant';
        }
        if (parts.reasoning) delta.reasoning_content = parts.reasoning;
        if (parts.text) {
          delta.content = parts.text;
          texts.set(index, (texts.get(index) ?? '') + parts.text);
        }
        if (parts.signature) delta.extra_content = extraContent(parts.signature);
        if (parts.calls.length) {
          let n = calls.get(index) ?? 0;
          delta.tool_calls = parts.calls.map((call) => {
            const tool = { index: n, id: call.id ?? callId(head!.responseId, index, n), type: 'function' as const, function: { name: call.name, arguments: JSON.stringify(call.args) } };
            n++;
            return call.signature ? { ...tool, extra_content: extraContent(call.signature) } : tool;
          });
          calls.set(index, n);
        }
        if (parts.text || parts.reasoning || parts.calls.length) produced.add(index);
        if (candidates.length === 1 && started.size === 1) {
          // Before any content the hold-back still lets the router try elsewhere.
          const failed = failedCandidate(provider, candidate, produced.has(index));
          if (failed) throw failed;
        }
        const finish = candidate.finishReason ? toFinishReason(candidate.finishReason, (calls.get(index) ?? 0) > 0) : null;
        if (candidate.groundingMetadata) grounding.set(index, candidate.groundingMetadata);
        // Sent once, with the finish (or after it, when the grounding comes late), so clients that
        // gather a stream's annotations (the SDK's stream helpers, the cache's assembler) get each once.
        if ((finish || finished.has(index)) && grounding.has(index)) {
          const annotations = toAnnotations(grounding.get(index), texts.get(index) ?? '');
          grounding.delete(index);
          if (annotations) delta.annotations = annotations;
        }
        if (finish) finished.add(index);
        const logprobs = toChoiceLogprobs(candidate.logprobsResult);
        if (Object.keys(delta).length || finish || logprobs) out.push(chunk([{ index, delta, finish_reason: finish, logprobs }]));
      }
      return out;
    },
    end(): ChunkOut[] {
      if (!finished.size || [...started].some((i) => !finished.has(i))) {
        throw new GatewayError('stream_interrupted', `${provider} closed the stream before it finished (no finishReason)`, { provider, source: 'provider' });
      }
      const total = toUsage(usage);
      // Usage is cumulative in every event, so it is sent once, after the last choice, as OpenAI does.
      return total && head ? [{ chunk: { ...chunk([]).chunk, usage: total } }] : [];
    },
  };
}
