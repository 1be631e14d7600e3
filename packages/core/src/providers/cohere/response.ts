import { withBilledUsage } from '../../upstream/billed-failure.js';
import type { GatewayError } from '../../errors.js';
import type { ChatCompletion, ChatMessage, ToolCall } from '../openai-types.js';
import type { CallContext } from '../types.js';
import { toFinishReason } from './finish-reason.js';
import { stopSequenceField } from '../stop-sequence.js';
import { toUsage } from './usage.js';
import type { CohereChatResponse } from './wire.js';

/** Between thinking and a tool plan when a turn has both (the stream translator uses the same). */
export const PLAN_SEPARATOR = '\n\n';

/**
 * Cohere's `tool_plan` ("I will use the weather tool to…") is the model reasoning about its calls, not
 * the answer, so it joins thinking in `reasoning_content` instead of polluting `content`.
 */
export function fromCohereChat(json: unknown, ctx: CallContext): ChatCompletion {
  const res = json as CohereChatResponse;
  const m = res.message ?? {};
  let text = '';
  let thinking = '';
  for (const part of m.content ?? []) {
    if (part.type === 'text' && typeof part.text === 'string') text += part.text;
    else if (part.type === 'thinking' && typeof part.thinking === 'string') thinking += part.thinking;
  }
  const calls: ToolCall[] = (m.tool_calls ?? []).map((t, i) => ({
    id: t.id ?? `call_${res.id}_${i}`,
    type: 'function',
    // A tool without parameters comes back with empty arguments; OpenAI sends "{}", which clients parse.
    function: { name: t.function?.name ?? '', arguments: t.function?.arguments || '{}' },
  }));
  const message: ChatMessage & { role: 'assistant' } = { role: 'assistant', content: text || (calls.length ? null : '') };
  const reasoning = [thinking, m.tool_plan ?? ''].filter(Boolean).join(PLAN_SEPARATOR);
  if (reasoning) message.reasoning_content = reasoning;
  if (calls.length) message.tool_calls = calls;
  if (m.citations?.length) message.citations = m.citations;
  const usage = toUsage(res.usage);
  let finish: ReturnType<typeof toFinishReason>;
  try {
    finish = toFinishReason(res.finish_reason);
  } catch (e) {
    // A failed generation (`ERROR`) was still billed: its usage is charged (`billed-failure.ts`).
    throw withBilledUsage(e as GatewayError, usage);
  }
  const completion: ChatCompletion = {
    id: res.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
    choices: [{ index: 0, message, finish_reason: finish, logprobs: null, ...stopSequenceField(res.finish_reason === 'STOP_SEQUENCE') }],
  };
  if (usage) completion.usage = usage;
  return completion;
}
