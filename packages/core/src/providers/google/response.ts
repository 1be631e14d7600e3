import { GatewayError } from '../../errors.js';
import type { ChatCompletion, ChatMessage, ToolCall } from '../openai-types.js';
import type { CallContext } from '../types.js';
import { failedCandidate, toFinishReason } from './finish-reason.js';
import { toAnnotations } from './grounding.js';
import { toChoiceLogprobs } from './logprobs.js';
import { callId, readParts } from './parts.js';
import { extraContent } from './thought-signature.js';
import { toUsage } from './usage.js';
import type { GenerateContentResponse } from './wire.js';

/** Identity of one answer, shared by the non-stream translation and every chunk of a stream. */
export interface AnswerHead {
  id: string;
  responseId: string;
  created: number;
  model: string;
}

const randomId = () => Math.random().toString(36).slice(2, 14);

export function answerHead(res: GenerateContentResponse, ctx: CallContext): AnswerHead {
  const responseId = res.responseId ?? randomId();
  const created = res.createTime ? Math.floor(Date.parse(res.createTime) / 1000) : NaN;
  return {
    id: `chatcmpl-${responseId}`,
    responseId,
    created: Number.isFinite(created) ? created : Math.floor(Date.now() / 1000),
    model: res.modelVersion ?? ctx.model,
  };
}

/** Text for a prompt Gemini refused to answer at all (`promptFeedback.blockReason`, no candidates). */
export function blockedMessage(res: GenerateContentResponse): string | undefined {
  const reason = res.promptFeedback?.blockReason;
  if (!reason) return undefined;
  const detail = res.promptFeedback?.blockReasonMessage;
  return `Gemini blocked the prompt (${reason})${detail ? `: ${detail}` : ''}`;
}

/** A `generateContent` answer → an OpenAI chat completion, one choice per candidate. */
export function toChatCompletion(json: unknown, ctx: CallContext): ChatCompletion {
  const res = (json ?? {}) as GenerateContentResponse;
  const head = answerHead(res, ctx);
  const completion: ChatCompletion = { id: head.id, object: 'chat.completion', created: head.created, model: head.model, choices: [] };
  const candidates = res.candidates ?? [];
  if (!candidates.length) {
    const blocked = blockedMessage(res);
    if (!blocked) throw new GatewayError('provider_error', `${ctx.target.provider} answered without any candidate`, { provider: ctx.target.provider, source: 'provider' });
    // A refused prompt is an answer, not a failure: the SDKs surface `refusal` and `content_filter`.
    completion.choices.push({ index: 0, message: { role: 'assistant', content: null, refusal: blocked }, finish_reason: 'content_filter', logprobs: null });
  }
  for (const [position, candidate] of candidates.entries()) {
    const index = candidate.index ?? position;
    const parts = readParts(candidate.content?.parts);
    const failed = candidates.length === 1 ? failedCandidate(ctx.target.provider, candidate, parts.hasText || parts.calls.length > 0 || !!parts.reasoning) : undefined;
    if (failed) throw failed;
    const message: ChatMessage & { role: 'assistant' } = { role: 'assistant', content: parts.hasText || !parts.calls.length ? parts.text : null };
    if (!parts.hasText && !parts.calls.length && candidate.finishReason && candidate.finishReason !== 'STOP') message.content = null;
    if (parts.reasoning) message.reasoning_content = parts.reasoning;
    if (parts.signature) message.extra_content = extraContent(parts.signature);
    const annotations = toAnnotations(candidate.groundingMetadata, typeof message.content === 'string' ? message.content : '');
    if (annotations) message.annotations = annotations;
    if (parts.calls.length) {
      message.tool_calls = parts.calls.map((call, n): ToolCall => {
        const tool: ToolCall = { id: call.id ?? callId(head.responseId, index, n), type: 'function', function: { name: call.name, arguments: JSON.stringify(call.args) } };
        if (call.signature) tool.extra_content = extraContent(call.signature);
        return tool;
      });
    }
    completion.choices.push({ index, message, finish_reason: toFinishReason(candidate.finishReason, parts.calls.length > 0), logprobs: toChoiceLogprobs(candidate.logprobsResult) });
  }
  const usage = toUsage(res.usageMetadata);
  if (usage) completion.usage = usage;
  return completion;
}
