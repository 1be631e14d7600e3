import { modelName } from '../../http/validate.js';
import { z } from 'zod';
import { formatPath } from '../../config/format-issues.js';
import { GatewayError } from '../../errors.js';
import type { AnthropicRequest } from '../../providers/anthropic/wire-types.js';

/**
 * The fields the translation relies on, checked the way Anthropic checks them (`max_tokens` is
 * required). Everything else passes through: an Anthropic target knows its newest parameters best.
 */
const block = z.looseObject({ type: z.string() });
// A tool result's content is translated block by block: it must be text or blocks, not any JSON.
const toolResultContent = z.union([z.string(), z.array(block)]);
const contentBlock = block.refine((b) => b.type !== 'tool_result' || b.content === undefined || toolResultContent.safeParse(b.content).success, {
  message: 'tool_result content must be a string or an array of content blocks',
  path: ['content'],
});

/**
 * Client tools (untyped or `custom`) need a `name`: the translation makes functions of them. Typed
 * tools (server tools, beta toolsets such as `mcp_toolset`) have shapes of their own, some without
 * a name; only an Anthropic target takes them, and it checks them itself.
 */
const tool = z.looseObject({ type: z.string().optional(), name: z.string().min(1).optional() }).superRefine((t, ctx) => {
  const client = t.type === undefined || t.type === 'custom';
  if (client && t.name === undefined) ctx.addIssue({ code: 'custom', message: 'Field required', path: ['name'] });
});

const messageSchema = z.looseObject({
  // `system` turns inside `messages` are Anthropic's mid-conversation instructions.
  role: z.enum(['user', 'assistant', 'system']),
  content: z.union([z.string(), z.array(contentBlock)]),
});

const schema = z.looseObject({
  model: modelName,
  max_tokens: z.number().int().positive(),
  messages: z.array(messageSchema).min(1, 'messages must contain at least one message'),
  system: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string() }))]).optional(),
  stream: z.boolean().optional(),
  temperature: z.number().finite().optional(),
  top_p: z.number().finite().optional(),
  top_k: z.number().int().optional(),
  stop_sequences: z.array(z.string()).optional(),
  tools: z.array(tool).optional(),
  tool_choice: z.looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional() }).optional(),
  metadata: z.looseObject({ user_id: z.string().nullable().optional() }).optional(),
});

/** `count_tokens` takes a Messages body without `max_tokens` (Anthropic's own count accepts one and ignores it). */
const countSchema = schema.extend({ max_tokens: z.number().int().positive().optional() });

/** Returns the client's own object (not zod's copy), so unknown fields reach an Anthropic upstream as sent. */
export function validateMessages(body: unknown, maxMessages: number, { count = false } = {}): AnthropicRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object', { param: 'body' });
  }
  const parsed = (count ? countSchema : schema).safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = formatPath(issue.path).replace(/^\./, '') || 'body';
    const missing = issue.code === 'invalid_type' && issue.message.includes('undefined');
    throw new GatewayError('invalid_request', missing ? `${param}: Field required` : `${param}: ${issue.message}`, { param });
  }
  if (parsed.data.messages.length > maxMessages) {
    throw new GatewayError('invalid_request', `messages has ${parsed.data.messages.length} entries; the limit is ${maxMessages}`, { param: 'messages' });
  }
  if (parsed.data.tool_choice?.type === 'tool' && !parsed.data.tool_choice.name) {
    throw new GatewayError('invalid_request', 'tool_choice.name: Field required', { param: 'tool_choice.name' });
  }
  return body as AnthropicRequest;
}
