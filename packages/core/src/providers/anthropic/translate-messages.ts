import { GatewayError } from '../../errors.js';
import type { ChatMessage, ContentPart } from '../openai-types.js';
import { systemBlocks, toBlocks, type ContentOptions } from './translate-content.js';
import type { AnthropicBlock, AnthropicMessage, AnthropicRequest } from './wire-types.js';

type Turn = { role: 'user' | 'assistant'; content: AnthropicBlock[] };

function toolInput(args: unknown, param: string): unknown {
  if (args === undefined || args === null || args === '') return {};
  if (typeof args !== 'string') return args;
  try {
    return JSON.parse(args);
  } catch {
    throw new GatewayError('invalid_request', `${param} is not valid JSON; anthropic needs tool arguments as an object`, { param });
  }
}

function assistantBlocks(m: ChatMessage, at: string, opts: ContentOptions): AnthropicBlock[] {
  const blocks: AnthropicBlock[] = [];
  // Signed thinking from an earlier turn must precede that turn's tool use when thinking is on.
  const thinking = m.thinking_blocks;
  if (Array.isArray(thinking)) for (const b of thinking) if (b && typeof b === 'object') blocks.push(b as AnthropicBlock);
  blocks.push(...toBlocks(m.content as string | ContentPart[] | null | undefined, `${at}.content`, opts));
  (m.tool_calls ?? []).forEach((call, j) => {
    blocks.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: toolInput(call.function.arguments, `${at}.tool_calls[${j}].function.arguments`),
    });
  });
  return blocks;
}

function toolResult(m: ChatMessage, at: string, opts: ContentOptions): AnthropicBlock {
  if (!m.tool_call_id) throw new GatewayError('invalid_request', `${at}.tool_call_id is required for tool messages`, { param: `${at}.tool_call_id` });
  const block: AnthropicBlock & { content?: unknown; is_error?: boolean } = { type: 'tool_result', tool_use_id: m.tool_call_id };
  if (typeof m.content === 'string') block.content = m.content;
  else if (Array.isArray(m.content)) block.content = toBlocks(m.content, `${at}.content`, opts);
  if (m.is_error === true) block.is_error = true;
  return block;
}

const onlyToolResults = (turn: Turn | undefined) => !!turn && turn.role === 'user' && turn.content.every((b) => b.type === 'tool_result');

/**
 * OpenAI messages → Anthropic `system` + alternating turns. System and developer messages leave the
 * list; tool results join one user turn (Anthropic wants every result of a parallel call together,
 * first in the turn after the tool use); consecutive turns of one role merge.
 */
export function translateMessages(messages: ChatMessage[], opts: ContentOptions = {}): Pick<AnthropicRequest, 'system' | 'messages'> {
  const system: Array<{ type: 'text'; text: string; cache_control?: unknown }> = [];
  const turns: Turn[] = [];
  const push = (role: Turn['role'], content: AnthropicBlock[], mergeable: (prev: Turn) => boolean) => {
    if (!content.length) return;
    const prev = turns[turns.length - 1];
    if (prev && prev.role === role && mergeable(prev)) prev.content.push(...content);
    else turns.push({ role, content });
  };
  messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(...systemBlocks(m.content as string | ContentPart[] | null | undefined, `${at}.content`));
        return;
      case 'user':
        push('user', toBlocks(m.content as string | ContentPart[] | null | undefined, `${at}.content`, opts), () => true);
        return;
      case 'assistant':
        push('assistant', assistantBlocks(m, at, opts), () => true);
        return;
      case 'tool':
        push('user', [toolResult(m, at, opts)], onlyToolResults);
        return;
      default:
        throw new GatewayError('invalid_request', `${at}.role "${m.role}" is not supported by anthropic; use "tool" messages`, { param: `${at}.role` });
    }
  });
  if (!turns.length) throw new GatewayError('invalid_request', 'messages: anthropic needs at least one user or assistant message with content', { param: 'messages' });
  const out: Pick<AnthropicRequest, 'system' | 'messages'> = { messages: turns as AnthropicMessage[] };
  if (system.length === 1 && !system[0]!.cache_control) out.system = system[0]!.text;
  else if (system.length) out.system = system as AnthropicRequest['system'];
  return out;
}
