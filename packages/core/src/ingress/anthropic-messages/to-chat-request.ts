import { everySubschema } from '../../providers/json-schema-walk.js';
import { isPlainObject } from '../../plain-object.js';
import { sha256, toHex } from '../../auth/digest.js';
import { GatewayError } from '../../errors.js';
import type { ChatMessage, ChatRequest, ContentPart, ToolCall, ToolDefinition } from '../../providers/openai-types.js';
import type { AnthropicBlock, AnthropicRequest, AnthropicTool } from '../../providers/anthropic/wire-types.js';

/**
 * What the translation notes on its way. Blocks only Anthropic understands (search results, file
 * sources, …) are left out of the OpenAI body and noted in `issues`, so only non-Anthropic targets
 * refuse the request (an Anthropic target gets the client's body as is). Everything left out is
 * kept in `dropped`, so two requests that differ only there never share a cache entry.
 */
interface Translation {
  issues: GatewayError[];
  dropped: unknown[];
  /** Documents sent without a title so far (see `untitledName`). */
  untitled: number;
  /** Whether a cache breakpoint was carried, which targets that do not read them must not get. */
  breakpoints: boolean;
  /** Whether a tool message carries `is_error`, likewise. */
  toolErrors: boolean;
  /** Whether an assistant turn carries thinking handed back (`reasoning_content`, `thinking_blocks`), likewise. */
  reasoning: boolean;
  /** Where each OpenAI message came from in the client's body (see `clientParamOf`). */
  origins: Map<ChatMessage, Origin>;
}

/** The client's paths of an OpenAI message, its content, its parts and its tool calls. */
interface Origin {
  at: string;
  content: string;
  parts?: string[];
  calls?: string[];
  callId?: string;
}

function unsupported(tr: Translation, param: string, message: string, block: unknown): undefined {
  tr.issues.push(new GatewayError('invalid_request', `${param}: ${message}`, { param }));
  tr.dropped.push(block);
  return undefined;
}

/** OpenAI refuses a longer `user` (400 string_above_max_length); Claude Code's `user_id` runs to ~160 characters. */
const MAX_USER = 64;

/** `metadata.user_id` as OpenAI's `user`: a longer one as its SHA-256 (64 hex digits), the same for the same id, so per-user abuse tracking still tells users apart. */
function userOf(id: string): string {
  return id.length <= MAX_USER ? id : toHex(sha256(id));
}

/** Top-level fields the OpenAI body carries; the others travel in `anthropic_extras`. */
const TRANSLATED = new Set(['model', 'messages', 'system', 'max_tokens', 'stream', 'temperature', 'top_p', 'stop_sequences', 'tools', 'tool_choice', 'metadata']);

/** The field the OpenAI body keeps untranslatable parts in; taken off again before a non-Anthropic upstream sees the body. */
export const EXTRAS_FIELD = 'anthropic_extras';

/**
 * The filename of the n-th document sent without a title: OpenAI needs one, and Bedrock refuses two
 * documents of one name, so every one after the first gets its number (`document-2.pdf`).
 */
const untitledName = (n: number): string => (n === 1 ? 'document.pdf' : `document-${n}.pdf`);

/**
 * A document's fields beyond its source: `citations` asks for an answer no other provider gives (their
 * targets refuse it, as other Anthropic-only content), `context` and a text document's `title` have
 * no OpenAI place. Each is noted in `dropped`, so requests that differ only there never share a cache entry.
 */
function noteDocumentFields(block: AnthropicBlock, at: string, tr: Translation): void {
  const { citations, context, title } = block as { citations?: { enabled?: unknown }; context?: unknown; title?: unknown };
  if (citations?.enabled === true) tr.issues.push(new GatewayError('invalid_request', `${at}.citations: cited answers need an anthropic target`, { param: `${at}.citations` }));
  if (citations !== undefined || context !== undefined || title !== undefined) tr.dropped.push({ citations, context, title });
}

/** One user-side Anthropic block → an OpenAI content part, without its cache breakpoint. */
function partOf(block: AnthropicBlock, at: string, tr: Translation): ContentPart | undefined {
  const b = block as AnthropicBlock & { text?: string; source?: Record<string, string>; title?: string };
  switch (b.type) {
    case 'text':
      return { type: 'text', text: b.text ?? '' };
    case 'image': {
      const src = b.source ?? {};
      if (src.type === 'base64') return { type: 'image_url', image_url: { url: `data:${src.media_type};base64,${src.data}` } };
      if (src.type === 'url') return { type: 'image_url', image_url: { url: src.url ?? '' } };
      return unsupported(tr, `${at}.source.type`, `image source "${src.type}" needs an anthropic target; use base64 or url`, block);
    }
    case 'document': {
      const src = b.source ?? {};
      noteDocumentFields(block, at, tr);
      if (src.type === 'text') return { type: 'text', text: src.data ?? '' };
      if (src.type === 'base64') {
        const filename = b.title ?? untitledName(++tr.untitled);
        return { type: 'file', file: { filename, file_data: `data:${src.media_type};base64,${src.data}` } };
      }
      return unsupported(tr, `${at}.source.type`, `document source "${src.type}" needs an anthropic target; use base64 or text`, block);
    }
    default:
      return unsupported(tr, `${at}.type`, `content block type "${b.type}" needs an anthropic target`, block);
  }
}

/**
 * One user-side Anthropic block → an OpenAI content part. A cache breakpoint (`cache_control`) stays
 * on its part, Portkey's convention, which the Anthropic and Bedrock translators read (Bedrock makes
 * a cache point of it); targets that do not read it get the body `withoutBreakpoints`.
 */
function toPart(block: AnthropicBlock, at: string, tr: Translation): ContentPart | undefined {
  const part = partOf(block, at, tr);
  const cache = (block as { cache_control?: unknown }).cache_control;
  if (!part || !cache) return part;
  tr.breakpoints = true;
  return { ...part, cache_control: cache };
}

/**
 * Anthropic tool results become OpenAI `tool` messages; their text is the content, `is_error` is kept
 * for the round trip (see `withoutToolErrors`). A tool message holds text only (OpenAI: "Image URLs
 * are only allowed for messages with role 'user'"; Bedrock's translator reads text only too), so
 * images and files of a result (screenshots) go to `moved`, for the user turn after it.
 */
function toolMessage(block: AnthropicBlock, at: string, tr: Translation, moved: ContentPart[], movedFrom: string[]): ChatMessage {
  const b = block as { tool_use_id: string; content?: string | AnthropicBlock[]; is_error?: boolean };
  let content: string | ContentPart[];
  const from: string[] = [];
  const textFrom: string[] = [];
  if (typeof b.content === 'string') content = b.content;
  else {
    const all = parts(b.content ?? [], `${at}.content`, tr, from);
    all.forEach((p, j) => (p.type === 'text' ? textFrom : movedFrom).push(from[j]!));
    moved.push(...all.filter((p) => p.type !== 'text'));
    content = plain(all.filter((p) => p.type === 'text'));
  }
  const message: ChatMessage = { role: 'tool', tool_call_id: b.tool_use_id, content };
  tr.origins.set(message, { at, content: `${at}.content`, parts: textFrom, callId: `${at}.tool_use_id` });
  if (b.is_error) {
    message.is_error = true;
    tr.toolErrors = true;
  }
  return message;
}

/** The parts of `blocks`; `from` gets the client's path of each part kept. */
function parts(blocks: AnthropicBlock[], at: string, tr: Translation, from: string[] = []): ContentPart[] {
  const out: ContentPart[] = [];
  blocks.forEach((b, k) => {
    const part = toPart(b, `${at}[${k}]`, tr);
    if (part) {
      out.push(part);
      from.push(`${at}[${k}]`);
    }
  });
  return out;
}

/**
 * Text-only content reads as plain text, the form every OpenAI-compatible server accepts (DeepSeek
 * refuses part arrays). Separate blocks are separate paragraphs (a system prompt split at its cache
 * breakpoints). Content with an image, a file or a cache breakpoint keeps its parts, which only the
 * array form can carry.
 */
const plain = (content: ContentPart[]): string | ContentPart[] =>
  content.every((p) => p.type === 'text' && !p.cache_control) ? content.map((p) => p.text as string).join('\n\n') : content;

function withoutCacheControl(part: ContentPart): ContentPart {
  const { cache_control: _cache, ...rest } = part;
  return rest as ContentPart;
}

/**
 * The body for a target that does not read cache breakpoints: OpenAI rejects unknown fields in
 * content parts. Content left with text only reads as plain text again, as `plain` gives it.
 */
export function withoutBreakpoints(body: ChatRequest): ChatRequest {
  const messages = body.messages.map((m) => (Array.isArray(m.content) ? { ...m, content: plain(m.content.map(withoutCacheControl)) } : m));
  return { ...body, messages };
}

/**
 * The body for an OpenAI-compatible target: the thinking an assistant turn hands back is Anthropic's
 * (and Bedrock's and Gemini's translators read it), but such servers forward the message as it is,
 * and strict ones refuse fields it does not define (Groq: "property 'reasoning_content' is unsupported").
 */
export function withoutReasoning(body: ChatRequest): ChatRequest {
  const messages = body.messages.map((m) => {
    if (m.reasoning_content === undefined && m.thinking_blocks === undefined) return m;
    const { reasoning_content: _text, thinking_blocks: _blocks, ...rest } = m;
    return rest as ChatMessage;
  });
  return { ...body, messages };
}

/**
 * The body for an OpenAI-compatible target: a tool is strict only where its schema meets OpenAI's
 * strict mode (`strictReady`). Anthropic's strict tools may have optional properties, which OpenAI's
 * strict mode refuses with a 400 on every turn; such a tool goes as a plain one.
 */
export function withStrictReadyTools(body: ChatRequest): ChatRequest {
  if (!body.tools?.some((t) => t.function?.strict === true && !strictReady(t.function.parameters))) return body;
  const tools = body.tools.map((t) => (t.function?.strict === true && !strictReady(t.function.parameters) ? { ...t, function: { ...t.function, strict: false } } : t));
  return { ...body, tools };
}

/**
 * The body for a target whose translator does not read `is_error` (Bedrock's and Gemini's do): strict
 * OpenAI-compatible servers refuse fields a message does not define (Groq: "property 'is_error' is
 * unsupported"), and the others ignore it anyway.
 */
export function withoutToolErrors(body: ChatRequest): ChatRequest {
  const messages = body.messages.map((m) => {
    if (m.is_error === undefined) return m;
    const { is_error: _flag, ...rest } = m;
    return rest as ChatMessage;
  });
  return { ...body, messages };
}

function userMessages(content: string | AnthropicBlock[], at: string, tr: Translation): ChatMessage[] {
  if (typeof content === 'string') {
    const user: ChatMessage = { role: 'user', content };
    tr.origins.set(user, { at: at.replace(/\.content$/, ''), content: at });
    return [user];
  }
  const tools: ChatMessage[] = [];
  const rest: ContentPart[] = [];
  const from: string[] = [];
  content.forEach((block, k) => {
    if (block.type === 'tool_result') tools.push(toolMessage(block, `${at}[${k}]`, tr, rest, from));
    else {
      const part = toPart(block, `${at}[${k}]`, tr);
      if (part) {
        rest.push(part);
        from.push(`${at}[${k}]`);
      }
    }
  });
  if (!rest.length) return tools;
  // OpenAI wants tool results right after the assistant's tool calls, before any new user text.
  const user: ChatMessage = { role: 'user', content: plain(rest) };
  tr.origins.set(user, { at: at.replace(/\.content$/, ''), content: at, parts: from });
  return [...tools, user];
}

function assistantMessage(content: string | AnthropicBlock[], at: string, tr: Translation): ChatMessage {
  if (typeof content === 'string') {
    const message: ChatMessage = { role: 'assistant', content };
    tr.origins.set(message, { at, content: `${at}.content` });
    return message;
  }
  const texts: string[] = [];
  let reasoning: string | undefined;
  const thinkingBlocks: AnthropicBlock[] = [];
  const calls: ToolCall[] = [];
  const callsFrom: string[] = [];
  for (const [k, block] of content.entries()) {
    const b = block as { type: string; text?: string; thinking?: string; id?: string; name?: string; input?: unknown };
    if (b.type === 'text' && b.text) texts.push(b.text);
    else if (b.type === 'thinking') {
      reasoning = (reasoning ?? '') + (b.thinking ?? '');
      thinkingBlocks.push(block);
    } else if (b.type === 'redacted_thinking') thinkingBlocks.push(block);
    else if (b.type === 'tool_use') {
      calls.push({ id: b.id ?? '', type: 'function', function: { name: b.name ?? '', arguments: JSON.stringify(b.input ?? {}) } });
      callsFrom.push(`${at}.content[${k}]`);
    }
    // Server tool blocks (web search, code execution) only mean something to Anthropic itself.
    else if (b.type !== 'text') tr.dropped.push(block);
  }
  // One string, as servers that refuse part arrays need; text blocks of one answer join end to end, as the Anthropic provider joins them.
  const message: ChatMessage = { role: 'assistant', content: texts.length ? texts.join('') : null };
  if (reasoning !== undefined) message.reasoning_content = reasoning;
  if (thinkingBlocks.length) message.thinking_blocks = thinkingBlocks;
  if (reasoning !== undefined || thinkingBlocks.length) tr.reasoning = true;
  if (calls.length) message.tool_calls = calls;
  tr.origins.set(message, { at, content: `${at}.content`, calls: callsFrom });
  return message;
}

/** Client tools become functions; Anthropic's server tools (typed `web_search_…`) have no equivalent elsewhere and are left out. */
function toTools(tools: AnthropicTool[], tr: Translation, from: string[]): ToolDefinition[] {
  const kept = tools.filter((t, k) => {
    if (t.type === undefined || t.type === 'custom') return from.push(`tools[${k}]`) > 0;
    tr.dropped.push(t);
    return false;
  });
  return kept.map((t) => {
    const { name, description, input_schema: schema, type: _type, strict, cache_control: _breakpoint, ...rest } = t as AnthropicTool & { strict?: unknown; cache_control?: unknown };
    const fn: ToolDefinition['function'] = { name, parameters: schema ?? { type: 'object', properties: {} } };
    if (description) fn.description = description;
    // OpenAI's own field, which the Anthropic and Bedrock translators read back (OpenAI-compatible
    // targets get it only where their strict mode takes the schema: `withStrictReadyTools`).
    if (typeof strict === 'boolean') fn.strict = strict;
    // Fields with no OpenAI place (`input_examples`, `defer_loading`…) keep requests apart in the cache.
    if (Object.keys(rest).length) tr.dropped.push(rest);
    return { type: 'function' as const, function: fn };
  });
}

/** An Anthropic thinking budget → the OpenAI effort whose budget (see the anthropic provider) is nearest below. */
function effortFor(req: AnthropicRequest): string | undefined {
  const thinking = req.thinking as { type?: string; budget_tokens?: number } | undefined;
  if (thinking?.type === 'enabled') {
    const budget = thinking.budget_tokens ?? 0;
    return budget < 2048 ? 'low' : budget < 4096 ? 'medium' : 'high';
  }
  const effort = req.output_config?.effort;
  if (effort === 'low' || effort === 'medium' || effort === 'high') return effort;
  if (effort === 'xhigh' || effort === 'max') return 'high';
  // Adaptive thinking is steered by the effort above; without one the model still thinks.
  if (thinking?.type === 'adaptive') return 'medium';
  return undefined;
}

/**
 * Whether OpenAI's strict mode takes the schema as it is: it wants every object to list all its
 * properties in `required` and to set `additionalProperties: false`, where Anthropic lets properties
 * be optional. Sent strict, any other schema is a 400 upstream.
 */
function strictReady(node: unknown): boolean {
  if (Array.isArray(node)) return node.every(strictReady);
  if (!isPlainObject(node)) return true;
  const props = node.properties;
  const object = node.type === 'object' || (Array.isArray(node.type) && node.type.includes('object')) || props !== undefined;
  if (object) {
    if (node.additionalProperties !== false) return false;
    const required = Array.isArray(node.required) ? node.required : [];
    if (isPlainObject(props) && Object.keys(props).some((k) => !required.includes(k))) return false;
  }
  return everySubschema(node, strictReady);
}

/** The OpenAI fields whose names differ in the client's Anthropic body, for `clientParamOf`. */
const RENAMED: Array<[RegExp, string]> = [
  [/^\.(?:image_url|file)(?:\.[a-z_]+)?/, '.source'],
  [/^\.function\.arguments/, '.input'],
  [/^\.function\.parameters/, '.input_schema'],
  [/^\.function\.(name|description)/, '.$1'],
];
const TOP_LEVEL: Record<string, string> = { max_completion_tokens: 'max_tokens', stop: 'stop_sequences', response_format: 'output_config.format' };

/**
 * A system turn in the client's body (`at`: `system` or `messages[i]`) as an OpenAI system message.
 */
function systemMessage(content: string | AnthropicBlock[], at: string, contentAt: string, tr: Translation): ChatMessage {
  const from: string[] = [];
  const message: ChatMessage = { role: 'system', content: typeof content === 'string' ? content : plain(parts(content, contentAt, tr, from)) };
  tr.origins.set(message, { at, content: contentAt, parts: from });
  return message;
}

/**
 * The translator errors of non-Anthropic targets name a field of the OpenAI body (`messages[2].content[1].image_url.url`);
 * the client sent an Anthropic body, whose indexes differ (the system prompt is no message there, a
 * tool result is a block). This maps such a path back to the client's (`messages[1].content[0].content[1].source`).
 */
function clientParamOf(messages: ChatMessage[], tr: Translation, toolsFrom: string[]): (param: string) => string | undefined {
  let paths: Map<string, string> | undefined;
  return (param) => {
    // Built on the first error only: most requests never need it.
    paths ??= pathsOf(messages, tr, toolsFrom);
    // The longest prefix that ends at a field or an index is the node it names.
    for (let end = param.length; end > 0; end = Math.max(param.lastIndexOf('.', end - 1), param.lastIndexOf('[', end - 1))) {
      const to = paths.get(param.slice(0, end));
      if (to === undefined) continue;
      let rest = param.slice(end);
      for (const [from, name] of RENAMED) rest = rest.replace(from, name);
      return to + rest;
    }
    return undefined;
  };
}

/** Each OpenAI path that has a counterpart in the client's body → that counterpart. */
function pathsOf(messages: ChatMessage[], tr: Translation, toolsFrom: string[]): Map<string, string> {
  const paths = new Map<string, string>();
  messages.forEach((m, n) => {
    const o = tr.origins.get(m);
    if (!o) return;
    const at = `messages[${n}]`;
    paths.set(at, o.at);
    paths.set(`${at}.content`, o.content);
    if (Array.isArray(m.content)) o.parts?.forEach((p, j) => paths.set(`${at}.content[${j}]`, p));
    o.calls?.forEach((c, j) => paths.set(`${at}.tool_calls[${j}]`, c));
    if (o.callId) paths.set(`${at}.tool_call_id`, o.callId);
  });
  toolsFrom.forEach((t, j) => paths.set(`tools[${j}]`, t));
  for (const [from, to] of Object.entries(TOP_LEVEL)) paths.set(from, to);
  return paths;
}

/**
 * An Anthropic Messages body → the OpenAI chat body the pipeline runs on (any provider can then
 * answer it), the first part that only an Anthropic target could take, if any, whether the body
 * carries cache breakpoints or failed tool results, and the map of its fields back to the client's.
 */
export function toChatRequest(req: AnthropicRequest): {
  body: ChatRequest;
  unsupported?: GatewayError;
  breakpoints: boolean;
  toolErrors: boolean;
  reasoning: boolean;
  clientParam: (param: string) => string | undefined;
} {
  const tr: Translation = { issues: [], dropped: [], untitled: 0, breakpoints: false, toolErrors: false, reasoning: false, origins: new Map() };
  const messages: ChatMessage[] = [];
  if (typeof req.system === 'string') {
    if (req.system) messages.push(systemMessage(req.system, 'system', 'system', tr));
  } else if (Array.isArray(req.system) && req.system.length) {
    messages.push(systemMessage(req.system, 'system', 'system', tr));
  }
  req.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (m.role === 'user') messages.push(...userMessages(m.content, `${at}.content`, tr));
    else if (m.role === 'system') messages.push(systemMessage(m.content, at, `${at}.content`, tr));
    else messages.push(assistantMessage(m.content, at, tr));
  });
  // OpenAI's reasoning models refuse `max_tokens` (400 "Use 'max_completion_tokens' instead"), and Anthropic makes
  // the client send it; the non-OpenAI translators read `max_completion_tokens` first, Mistral's preset renames it back.
  const body: ChatRequest = { model: req.model, messages, max_completion_tokens: req.max_tokens };
  if (req.stream) {
    body.stream = true;
    // Usage is needed for the closing `message_delta`, whatever the client asked.
    body.stream_options = { include_usage: true };
  }
  if (typeof req.temperature === 'number') body.temperature = req.temperature;
  if (typeof req.top_p === 'number') body.top_p = req.top_p;
  if (req.stop_sequences?.length) body.stop = req.stop_sequences;
  const toolsFrom: string[] = [];
  const tools = toTools(req.tools ?? [], tr, toolsFrom);
  if (tools.length) {
    body.tools = tools;
    const choice = req.tool_choice;
    if (choice?.type === 'any') body.tool_choice = 'required';
    else if (choice?.type === 'none') body.tool_choice = 'none';
    else if (choice?.type === 'tool') body.tool_choice = { type: 'function', function: { name: choice.name } };
    else if (choice?.type === 'auto') body.tool_choice = 'auto';
    if (choice?.disable_parallel_tool_use) body.parallel_tool_calls = false;
  }
  const format = req.output_config?.format;
  if (format?.type === 'json_schema') {
    const strict = isPlainObject(format.schema) && strictReady(format.schema);
    body.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: format.schema, strict } };
  }
  const effort = effortFor(req);
  if (effort) body.reasoning_effort = effort;
  if (typeof req.metadata?.user_id === 'string' && req.metadata.user_id) body.user = userOf(req.metadata.user_id);
  const extras: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (!TRANSLATED.has(k)) extras[k] = v;
  // With only server tools (web search), the choice has no OpenAI place but still changes the answer.
  if (!tools.length && req.tool_choice !== undefined) extras.tool_choice = req.tool_choice;
  if (tr.dropped.length) extras.dropped = tr.dropped;
  if (Object.keys(extras).length) body[EXTRAS_FIELD] = extras;
  const first = tr.issues[0];
  const marks = { breakpoints: tr.breakpoints, toolErrors: tr.toolErrors, reasoning: tr.reasoning, clientParam: clientParamOf(messages, tr, toolsFrom) };
  return first ? { body, unsupported: first, ...marks } : { body, ...marks };
}
