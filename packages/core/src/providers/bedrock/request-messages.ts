import { GatewayError } from '../../errors.js';
import type { ChatMessage, ContentPart } from '../openai-types.js';
import type { ConverseBlock, ConverseImage, ConverseMessage, ConverseRequest } from './converse-types.js';
import { parseDataURL } from './data-url.js';

const IMAGE_FORMATS: Record<string, ConverseImage['format']> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

const DOCUMENT_FORMATS: Record<string, string> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};

const invalid = (message: string, param: string) => new GatewayError('invalid_request', message, { param });

/** Bedrock's longest document name. */
const MAX_DOCUMENT_NAME = 200;

/** Bedrock document names allow letters, digits, single spaces, hyphens, parentheses and brackets. */
function documentBase(filename: unknown, n: number): string {
  const base = typeof filename === 'string' ? filename.replace(/\.[^.]*$/, '') : '';
  const clean = base.replace(/[^A-Za-z0-9\s\-()[\]]/g, '-').replace(/\s+/g, ' ').trim();
  return clean || `document-${n}`;
}

/**
 * A name no earlier document of the request (`used`) has: Bedrock refuses a request in which two
 * documents share a name, wherever they stand ("report.pdf" sent twice, or "report.pdf" and
 * "report.docx"). A repeated name gets a counter, `report (2)`, within the length limit.
 */
function documentName(filename: unknown, used: Set<string>): string {
  const base = documentBase(filename, used.size + 1);
  let name = base.slice(0, MAX_DOCUMENT_NAME).trimEnd();
  for (let k = 2; used.has(name); k++) {
    const suffix = ` (${k})`;
    name = base.slice(0, MAX_DOCUMENT_NAME - suffix.length).trimEnd() + suffix;
  }
  used.add(name);
  return name;
}

/** Anthropic-style `cache_control` on a part becomes a Converse cache point right after its block. */
const cachePoint = (part: ContentPart): ConverseBlock[] => (part.cache_control ? [{ cachePoint: { type: 'default' } }] : []);

function partToBlocks(part: ContentPart, param: string, docNames: Set<string>): ConverseBlock[] {
  switch (part.type) {
    case 'text': {
      const text = (part as { text?: unknown }).text;
      if (typeof text !== 'string') throw invalid(`${param}.text must be a string`, `${param}.text`);
      // Bedrock rejects blank text blocks; an empty part carries nothing anyway.
      return text ? [{ text }, ...cachePoint(part)] : [];
    }
    case 'image_url': {
      const url = (part as { image_url?: { url?: unknown } }).image_url?.url;
      if (typeof url !== 'string') throw invalid(`${param}.image_url.url must be a string`, `${param}.image_url.url`);
      const { mediaType, base64 } = parseDataURL(url, `${param}.image_url.url`);
      // Own keys only: the media type is the client's (`data:constructor;…`).
      const format = Object.hasOwn(IMAGE_FORMATS, mediaType) ? IMAGE_FORMATS[mediaType] : undefined;
      if (!format) throw invalid(`${param}.image_url.url: bedrock takes png, jpeg, gif or webp images, not ${mediaType}`, `${param}.image_url.url`);
      return [{ image: { format, source: { bytes: base64 } } }, ...cachePoint(part)];
    }
    case 'file': {
      const file = (part as { file?: { file_data?: unknown; filename?: unknown } }).file;
      if (typeof file?.file_data !== 'string') throw invalid(`${param}.file.file_data must be a base64 data URL`, `${param}.file.file_data`);
      const { mediaType, base64 } = parseDataURL(file.file_data, `${param}.file.file_data`);
      const format = Object.hasOwn(DOCUMENT_FORMATS, mediaType) ? DOCUMENT_FORMATS[mediaType] : undefined;
      if (!format) throw invalid(`${param}.file.file_data: bedrock does not take ${mediaType} documents`, `${param}.file.file_data`);
      return [{ document: { format, name: documentName(file.filename, docNames), source: { bytes: base64 } } }, ...cachePoint(part)];
    }
    default:
      throw invalid(`${param}.type "${part.type}" is not supported by bedrock`, `${param}.type`);
  }
}

function contentToBlocks(content: ChatMessage['content'], param: string, docNames: Set<string>): ConverseBlock[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  return content.flatMap((part, j) => partToBlocks(part, `${param}[${j}]`, docNames));
}

function partText(part: ContentPart, param: string): string {
  const text = (part as { text?: unknown }).text;
  if (part.type !== 'text' || typeof text !== 'string') throw invalid(`${param} must be a text part`, param);
  return text;
}

/** The non-empty texts of a tool answer: Bedrock rejects blank text blocks. */
function textOf(content: ChatMessage['content'], param: string): string[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content ? [content] : [];
  return content.map((part, j) => partText(part, `${param}[${j}]`)).filter((text) => text !== '');
}

/**
 * What an empty tool answer (common for tools run for their side effect) says instead: Converse
 * needs content in a tool result and refuses a blank text block.
 */
const EMPTY_TOOL_RESULT = '(no output)';

/** An OpenAI `tool` message as a Converse tool result; `is_error` (kept by the /v1/messages ingress) marks a failed call. */
function toolResultBlock(m: ChatMessage, param: string): ConverseBlock {
  if (!m.tool_call_id) throw invalid(`${param}.tool_call_id is required for a tool message`, `${param}.tool_call_id`);
  const texts = textOf(m.content, `${param}.content`);
  const content = (texts.length ? texts : [EMPTY_TOOL_RESULT]).map((text) => ({ text }));
  return { toolResult: { toolUseId: m.tool_call_id, content, status: m.is_error === true ? 'error' : 'success' } };
}

type SystemBlock = NonNullable<ConverseRequest['system']>[number];

function systemBlocks(content: ChatMessage['content'], param: string): SystemBlock[] {
  const parts: ContentPart[] = typeof content === 'string' ? [{ type: 'text', text: content }] : content ?? [];
  return parts.flatMap((part, j): SystemBlock[] => {
    const text = partText(part, `${param}[${j}]`);
    return text ? [{ text }, ...(part.cache_control ? [{ cachePoint: { type: 'default' as const } }] : [])] : [];
  });
}

/** Thinking blocks kept from an earlier answer; Claude needs them (with signatures) back alongside tool results. */
function reasoningBlocks(message: ChatMessage): ConverseBlock[] {
  const blocks = message.thinking_blocks;
  if (!Array.isArray(blocks)) return [];
  return blocks.flatMap((b: { type?: string; thinking?: unknown; signature?: unknown; data?: unknown }): ConverseBlock[] => {
    if (b?.type === 'thinking' && typeof b.thinking === 'string') {
      return [{ reasoningContent: { reasoningText: { text: b.thinking, ...(typeof b.signature === 'string' ? { signature: b.signature } : {}) } } }];
    }
    if (b?.type === 'redacted_thinking' && typeof b.data === 'string') return [{ reasoningContent: { redactedContent: b.data } }];
    return [];
  });
}

function toolUseBlocks(message: ChatMessage, param: string): ConverseBlock[] {
  return (message.tool_calls ?? []).map((call, j) => {
    const raw = call.function.arguments;
    let input: unknown = {};
    if (raw && raw.trim()) {
      try {
        input = JSON.parse(raw);
      } catch {
        throw invalid(`${param}.tool_calls[${j}].function.arguments is not valid JSON`, `${param}.tool_calls[${j}].function.arguments`);
      }
    }
    return { toolUse: { toolUseId: call.id, name: call.function.name, input } };
  });
}

/**
 * The user turn put before a conversation that opens with an assistant turn (a greeting the app
 * shows first). OpenAI accepts such a conversation and Bedrock refuses it ("A conversation must
 * start with a user message"); answering 400 would fail requests that work everywhere else, so a
 * neutral turn goes first instead, as LiteLLM does.
 */
const openingTurn = (): ConverseMessage => ({ role: 'user', content: [{ text: '(conversation start)' }] });

/**
 * The text put beside a document in a user turn that has none: Bedrock refuses such a turn ("A text
 * block must be included when using documents"), common when a tool returns a PDF alone or a client
 * sends just the file; a 400 would fail what Anthropic itself accepts.
 */
const DOCUMENT_NOTE = '(document attached)';

const hasText = (blocks: ConverseBlock[]) => blocks.some((b) => 'text' in b && typeof b.text === 'string' && b.text.trim() !== '');

/**
 * OpenAI messages → Converse `system` and `messages`. System and developer messages move to `system`
 * wherever they stand (Converse has no system turn); tool answers become `toolResult` blocks in a user
 * turn; consecutive turns of one role are merged because Bedrock requires roles to alternate.
 */
export function toConverseMessages(messages: ChatMessage[]): Pick<ConverseRequest, 'system' | 'messages'> {
  const system: NonNullable<ConverseRequest['system']> = [];
  const out: ConverseMessage[] = [];
  const docNames = new Set<string>();
  const push = (role: ConverseMessage['role'], content: ConverseBlock[]) => {
    if (!content.length) return;
    const last = out[out.length - 1];
    if (last?.role === role) last.content.push(...content);
    else out.push({ role, content });
  };
  messages.forEach((m, i) => {
    const param = `messages[${i}]`;
    switch (m.role) {
      case 'system':
      case 'developer':
        return void system.push(...systemBlocks(m.content, `${param}.content`));
      case 'user':
        return push('user', contentToBlocks(m.content, `${param}.content`, docNames));
      case 'assistant':
        return push('assistant', [...reasoningBlocks(m), ...contentToBlocks(m.content, `${param}.content`, docNames), ...toolUseBlocks(m, param)]);
      case 'tool':
        return push('user', [toolResultBlock(m, param)]);
      default:
        throw invalid(`${param}.role "${m.role}" is not supported by bedrock; send tool results as role "tool"`, `${param}.role`);
    }
  });
  if (out[0]?.role === 'assistant') out.unshift(openingTurn());
  for (const turn of out) if (turn.role === 'user' && turn.content.some((b) => 'document' in b) && !hasText(turn.content)) turn.content.push({ text: DOCUMENT_NOTE });
  return system.length ? { system, messages: out } : { messages: out };
}

/** Whether the conversation already holds tool calls or results (Bedrock then requires `toolConfig`). */
export const hasToolBlocks = (messages: ConverseMessage[]): boolean =>
  messages.some((m) => m.content.some((b) => 'toolUse' in b || 'toolResult' in b));
