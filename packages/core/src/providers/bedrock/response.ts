import { GatewayError } from '../../errors.js';
import type { ChatCompletion, ChatMessage, ToolCall } from '../openai-types.js';
import type { CallContext } from '../types.js';
import type { ConverseResponse } from './converse-types.js';
import { finishReason } from './finish-reason.js';
import { stopSequenceField } from '../stop-sequence.js';
import { toUsage } from './usage.js';

/** Converse returns no id; one is made so clients that key on it still can. */
export const completionId = () => `chatcmpl-bedrock-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;

/** A Converse answer as an OpenAI chat completion: text, reasoning (with signatures kept), tool calls, usage. */
export function toChatCompletion(json: unknown, ctx: CallContext): ChatCompletion {
  const res = json as ConverseResponse;
  const blocks = res?.output?.message?.content;
  if (!Array.isArray(blocks)) {
    throw new GatewayError('provider_error', 'bedrock answered without output.message.content', { provider: 'bedrock', source: 'provider' });
  }
  let text: string | null = null;
  let reasoning: string | undefined;
  const thinking: Array<Record<string, string>> = [];
  const toolCalls: ToolCall[] = [];
  for (const b of blocks) {
    if (typeof b.text === 'string') text = (text ?? '') + b.text;
    else if (b.toolUse) {
      toolCalls.push({ id: b.toolUse.toolUseId, type: 'function', function: { name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) } });
    } else if (b.reasoningContent) {
      const r = b.reasoningContent;
      if (r.reasoningText) {
        reasoning = (reasoning ?? '') + r.reasoningText.text;
        thinking.push({ type: 'thinking', thinking: r.reasoningText.text, ...(r.reasoningText.signature ? { signature: r.reasoningText.signature } : {}) });
      } else if (r.redactedContent) thinking.push({ type: 'redacted_thinking', data: r.redactedContent });
    }
  }
  const message: ChatMessage & { role: 'assistant' } = { role: 'assistant', content: text };
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  if (thinking.length) message.thinking_blocks = thinking;
  if (toolCalls.length) message.tool_calls = toolCalls;
  const completion: ChatCompletion = {
    id: completionId(),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
    choices: [{ index: 0, message, finish_reason: finishReason(res.stopReason), logprobs: null, ...stopSequenceField(res.stopReason === 'stop_sequence', res.additionalModelResponseFields?.stop_sequence) }],
  };
  const usage = toUsage(res.usage);
  if (usage) completion.usage = usage;
  return completion;
}
