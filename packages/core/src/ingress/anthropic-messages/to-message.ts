import type { ChatCompletion, ContentPart } from '../../providers/openai-types.js';
import { toStopReason } from '../../providers/anthropic/stop-reason.js';
import { stopSequenceOf } from '../../providers/stop-sequence.js';
import { toAnthropicUsage } from '../../providers/anthropic/usage.js';
import { withCacheCreationTokens } from '../../cost/token-counts.js';
import type { AnthropicBlock, AnthropicResponse } from '../../providers/anthropic/wire-types.js';

/** Tool arguments are JSON text in OpenAI and an object in Anthropic; a model's broken JSON is kept visible, not dropped. */
export function parseToolInput(args: string | undefined): unknown {
  if (!args) return {};
  try {
    const parsed: unknown = JSON.parse(args);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? parsed : { value: parsed };
  } catch {
    return { _raw_arguments: args };
  }
}

export const messageId = (id: string | undefined) => (id?.startsWith('msg_') ? id : `msg_${id || crypto.randomUUID().replace(/-/g, '')}`);

const textOf = (content: string | ContentPart[] | null | undefined): string =>
  typeof content === 'string' ? content : (content ?? []).map((p) => (typeof p.text === 'string' ? p.text : '')).join('');

/**
 * OpenAI ends a forced tool call (`tool_choice` naming a function) with `finish_reason: "stop"`, and
 * Anthropic clients loop on `stop_reason: "tool_use"` (the SDK's tool runner too): an answer that
 * holds tool calls and stopped normally stopped for them.
 */
export function withCalls(finish: string | null | undefined, hasCalls: boolean): string | null | undefined {
  return hasCalls && (finish === 'stop' || !finish) ? 'tool_calls' : finish;
}

/** An OpenAI completion (from any provider, or the cache) → the Anthropic message the client asked for. */
export function toMessage(completion: ChatCompletion, requestedModel: string, stopSequences?: string[]): AnthropicResponse {
  const choice = completion.choices[0];
  const m = choice?.message;
  const content: AnthropicBlock[] = [];
  const blocks = Array.isArray(m?.thinking_blocks) ? (m.thinking_blocks as AnthropicBlock[]) : undefined;
  if (blocks?.length) content.push(...blocks);
  else if (m?.reasoning_content) content.push({ type: 'thinking', thinking: m.reasoning_content, signature: '' });
  const text = textOf(m?.content as string | ContentPart[] | null | undefined);
  if (text) content.push({ type: 'text', text });
  // OpenAI's structured outputs put a refusal beside the content, not in it; Anthropic says it with
  // the stop reason and the text of the refusal.
  const refusal = typeof m?.refusal === 'string' && m.refusal ? m.refusal : undefined;
  if (refusal && !text) content.push({ type: 'text', text: refusal });
  for (const call of m?.tool_calls ?? []) {
    // The SDK's types require `caller`; only calls the model made itself are built here (see tool-use-fields.ts).
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseToolInput(call.function.arguments), caller: { type: 'direct' } });
  }
  const atSequence = stopSequenceOf(choice, stopSequences);
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: completion.model || requestedModel,
    content,
    stop_reason: refusal ? 'refusal' : atSequence.stopped ? 'stop_sequence' : toStopReason(withCalls(choice?.finish_reason, (m?.tool_calls?.length ?? 0) > 0)),
    stop_sequence: atSequence.sequence,
    usage: toAnthropicUsage(withCacheCreationTokens(completion.usage)),
  };
}
