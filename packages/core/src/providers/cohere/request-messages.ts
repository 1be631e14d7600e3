import { GatewayError } from '../../errors.js';
import type { ChatMessage, ContentPart } from '../openai-types.js';
import type { CohereContent, CohereMessage, CohereToolCall } from './wire.js';

const invalid = (param: string, message: string) => new GatewayError('invalid_request', `${param}: ${message}`, { param });

/**
 * Text of a message whose Cohere counterpart takes text only (system, tool, assistant). `separator`
 * goes between parts: a system prompt's blocks are instructions of their own ("…helpful." and
 * "Answer briefly." must not run together), while a tool's output may be one text cut in pieces.
 */
function textOnly(content: ChatMessage['content'], path: string, separator = ''): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      // `refusal` parts only ever come back from OpenAI itself; their text is what the assistant said.
      if ((part.type === 'text' || part.type === 'refusal') && typeof (part.text ?? part.refusal) === 'string') {
        return (part.text ?? part.refusal) as string;
      }
      throw invalid(`${path}.content[${j}].type`, `cohere accepts only text here, not "${part.type}"`);
    })
    .join(separator);
}

function userPart(part: ContentPart, path: string): CohereContent {
  if (part.type === 'text' && typeof part.text === 'string') return { type: 'text', text: part.text };
  if (part.type === 'image_url') {
    const image = part.image_url as { url?: unknown; detail?: unknown } | undefined;
    if (typeof image?.url !== 'string') throw invalid(`${path}.image_url.url`, 'must be a URL or a data: URL');
    return { type: 'image_url', image_url: typeof image.detail === 'string' ? { url: image.url, detail: image.detail } : { url: image.url } };
  }
  throw invalid(`${path}.type`, `cohere does not accept "${part.type}" content parts`);
}

function toolCalls(m: ChatMessage, path: string): CohereToolCall[] {
  return (m.tool_calls ?? []).map((t, j) => {
    if (typeof t.function?.name !== 'string') throw invalid(`${path}.tool_calls[${j}].function.name`, 'is required');
    return { id: t.id, type: 'function', function: { name: t.function.name, arguments: t.function.arguments || '{}' } };
  });
}

function assistant(m: ChatMessage, path: string): CohereMessage {
  const text = textOnly(m.content, path);
  const calls = toolCalls(m, path);
  if (!calls.length) return { role: 'assistant', content: text };
  // A Cohere tool-calling turn carries its words as `tool_plan`, not content. We hand the plan out as
  // `reasoning_content`, so a client echoing the turn back (with either field) restores it.
  const plan = typeof m.reasoning_content === 'string' && m.reasoning_content ? m.reasoning_content : text;
  return plan ? { role: 'assistant', tool_plan: plan, tool_calls: calls } : { role: 'assistant', tool_calls: calls };
}

/** OpenAI chat messages → Cohere v2 messages; errors name the offending field (`messages[2].content[0].type`). */
export function toCohereMessages(messages: ChatMessage[]): CohereMessage[] {
  return messages.map((m, i): CohereMessage => {
    const path = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: textOnly(m.content, path, '\n\n') };
      case 'user':
        return {
          role: 'user',
          content: Array.isArray(m.content) ? m.content.map((p, j) => userPart(p, `${path}.content[${j}]`)) : (m.content ?? ''),
        };
      case 'assistant':
        return assistant(m, path);
      case 'tool':
        if (typeof m.tool_call_id !== 'string' || !m.tool_call_id) throw invalid(`${path}.tool_call_id`, 'is required on tool messages');
        return { role: 'tool', tool_call_id: m.tool_call_id, content: textOnly(m.content, path) };
      default:
        throw invalid(`${path}.role`, `cohere does not accept "${m.role}" messages; send tool results as role "tool"`);
    }
  });
}
