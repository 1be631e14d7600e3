import { rebuildable } from './tool-use-fields.js';
import { GatewayError } from '../../errors.js';
import type { ChatCompletion, ChatMessage, ToolCall } from '../openai-types.js';
import { survivesTranslation, toFinishReason } from './stop-reason.js';
import { stopSequenceField } from '../stop-sequence.js';
import { JSON_TOOL } from './translate-tools.js';
import { toOpenAIUsage } from './usage.js';
import type { AnthropicBlock, AnthropicResponse } from './wire-types.js';

/**
 * An Anthropic message → an OpenAI completion: text blocks join into `content`, thinking into
 * `reasoning_content` (the signed blocks kept in `thinking_blocks` so the next turn can send them
 * back), `tool_use` into `tool_calls`. Server-side tool blocks (web search, code execution) were
 * already acted on upstream and are not the client's to run, so they are left out. `onDropped` hears
 * of anything the translation cannot carry (those blocks, citations, a stop reason OpenAI has no
 * name for): `/v1/messages` then does not cache the answer, which a hit would give back changed.
 */
export function translateResponse(json: unknown, opts: { jsonTool: boolean; provider?: string; onDropped?: () => void }): ChatCompletion {
  const res = json as AnthropicResponse;
  if (!res || typeof res !== 'object' || !Array.isArray(res.content)) {
    throw new GatewayError('provider_error', `${opts.provider ?? 'anthropic'} answered with a body that is not a message`, {
      provider: opts.provider ?? 'anthropic',
      source: 'provider',
    });
  }
  let text: string | null = null;
  let reasoning: string | null = null;
  const thinkingBlocks: AnthropicBlock[] = [];
  const toolCalls: ToolCall[] = [];
  // The json tool's input is the whole answer: Claude, when the tool is offered rather than forced
  // (beside client tools, or with thinking on), often writes a sentence first, and text + JSON is no JSON.
  let jsonAnswer: string | null = null;
  for (const block of res.content) {
    if (block.type === 'text') {
      text = (text ?? '') + (block.text as string);
      if (Array.isArray(block.citations) && block.citations.length) opts.onDropped?.();
    } else if (block.type === 'thinking') {
      reasoning = (reasoning ?? '') + (block.thinking as string);
      thinkingBlocks.push(block);
    } else if (block.type === 'redacted_thinking') thinkingBlocks.push(block);
    else if (block.type === 'tool_use') {
      const b = block as { id: string; name: string; input: unknown };
      if (!rebuildable(block)) opts.onDropped?.();
      if (opts.jsonTool && b.name === JSON_TOOL) {
        jsonAnswer = (jsonAnswer ?? '') + JSON.stringify(b.input ?? {});
      } else {
        toolCalls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } });
      }
    } else opts.onDropped?.();
  }
  if (!survivesTranslation(res.stop_reason)) opts.onDropped?.();
  const answeredByJsonTool = jsonAnswer !== null;
  const message: ChatMessage & { role: 'assistant' } = { role: 'assistant', content: jsonAnswer ?? text };
  if (reasoning !== null) message.reasoning_content = reasoning;
  if (thinkingBlocks.length) message.thinking_blocks = thinkingBlocks;
  if (toolCalls.length) message.tool_calls = toolCalls;
  const finish = answeredByJsonTool && !toolCalls.length && res.stop_reason === 'tool_use' ? 'stop' : toFinishReason(res.stop_reason);
  return {
    id: res.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: res.model,
    choices: [{ index: 0, message, finish_reason: finish, logprobs: null, ...stopSequenceField(res.stop_reason === 'stop_sequence', (res as { stop_sequence?: unknown }).stop_sequence) }],
    usage: toOpenAIUsage(res.usage ?? {}),
  };
}
