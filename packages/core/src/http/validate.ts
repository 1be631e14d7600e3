import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { formatPath } from '../config/format-issues.js';
import { chatCertainlyValid } from './chat-fast-check.js';
import { MAX_MODEL_LENGTH } from './model-name.js';
import type { ChatRequest, EmbeddingsRequest } from '../providers/openai-types.js';

/**
 * Only the fields the gateway itself relies on are checked; everything else passes through to the
 * provider, which knows its own parameters best.
 */
const content = z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]);

const message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: content.optional(),
  tool_calls: z
    .array(z.looseObject({ id: z.string(), type: z.string().optional(), function: z.looseObject({ name: z.string(), arguments: z.string() }) }))
    .optional(),
  tool_call_id: z.string().optional(),
});

const num = z.number().finite().nullable().optional();

export const modelName = z
  .string()
  .min(1, 'model must be a non-empty string')
  .max(MAX_MODEL_LENGTH, `model must be at most ${MAX_MODEL_LENGTH} characters`);

export const chatSchema = z.looseObject({
  model: modelName,
  messages: z.array(message).min(1, 'messages must contain at least one message'),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  temperature: num,
  top_p: num,
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  n: z.number().int().positive().nullable().optional(),
  // OpenAI's own bounds: translators map them (Gemini's `logprobs` takes the same 0–20), never guess.
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  stop: z.union([z.string(), z.array(z.string()), z.null()]).optional(),
  tools: z
    .array(z.looseObject({ type: z.string(), function: z.looseObject({ name: z.string().min(1) }).optional() }))
    .optional(),
});

/**
 * OpenAI's cap on inputs per request ("any array must be 2048 dimensions or less"); past it, a provider
 * that takes fewer per call would be sent dozens of calls for one request.
 */
export const MAX_EMBEDDING_INPUTS = 2048;

// OpenAI refuses an empty input, and a fan-out to a provider that also does (Titan) bills the others first.
const text = z.string().min(1, 'expected a non-empty string');
const tokens = z.array(z.number()).min(1, 'expected a non-empty token array');
/** An array of inputs. A single token array is not one: its length is a token count (LangChain sends up to 8,191). */
const inputs = <T extends z.ZodType>(item: T) =>
  z.array(item).min(1, 'expected at least one input').max(MAX_EMBEDDING_INPUTS, `expected at most ${MAX_EMBEDDING_INPUTS} inputs`);

const embeddingsSchema = z.looseObject({
  model: modelName,
  input: z.union([text, inputs(text), tokens, inputs(tokens)], {
    error: 'expected a string, an array of strings, or an array of token arrays',
  }),
});

const isLengthIssue = (i: z.core.$ZodIssue) => (i.code === 'too_big' || i.code === 'too_small') && i.path.length === 0;

function fail(error: z.ZodError): never {
  const issue = error.issues[0]!;
  const param = formatPath(issue.path).replace(/^\./, '') || 'body';
  // A union (embeddings' `input`) fails as a whole; every branch seeing `undefined` means the field is absent.
  const branches = issue.code === 'invalid_union' ? issue.errors.flat() : [issue];
  const missing = branches.length > 0 && branches.every((i) => i.code === 'invalid_type' && i.message.includes('undefined'));
  // Too many inputs, or none: the array branches fail on their length alone, which is the reason to give.
  const sized = issue.code === 'invalid_union' ? issue.errors.find((b) => b.length > 0 && b.every(isLengthIssue))?.[0] : undefined;
  const received = missing ? `missing required parameter '${param}'` : `${param}: ${(sized ?? issue).message}`;
  throw new GatewayError('invalid_request', received, { param });
}

export function validateChat(body: unknown, maxMessages: number): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object', { param: 'body' });
  }
  if (!chatCertainlyValid(body as Record<string, unknown>)) {
    const parsed = chatSchema.safeParse(body);
    if (!parsed.success) fail(parsed.error);
  }
  const count = (body as { messages: unknown[] }).messages.length;
  if (count > maxMessages) {
    throw new GatewayError('invalid_request', `messages has ${count} entries; the limit is ${maxMessages}`, { param: 'messages' });
  }
  // The input object is returned, not zod's copy: unknown fields must reach the provider as sent.
  return body as ChatRequest;
}

export function validateEmbeddings(body: unknown): EmbeddingsRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'request body must be a JSON object', { param: 'body' });
  }
  const parsed = embeddingsSchema.safeParse(body);
  if (!parsed.success) fail(parsed.error);
  return body as EmbeddingsRequest;
}
