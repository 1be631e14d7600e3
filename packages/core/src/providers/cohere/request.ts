import { withOverrides } from '../with-overrides.js';
import { GatewayError } from '../../errors.js';
import type { ChatRequest, ToolDefinition } from '../openai-types.js';
import type { CallContext } from '../types.js';
import { refuseUnsupported } from '../unsupported-params.js';
import { toCohereMessages } from './request-messages.js';

const invalid = (param: string, message: string) => new GatewayError('invalid_request', `${param}: ${message}`, { param });

/** Cohere-native parameters with no OpenAI counterpart; a client or `override_params` may send them as they are. */
const NATIVE = ['documents', 'citation_options', 'safety_mode', 'k', 'strict_tools', 'priority', 'thinking'] as const;

/**
 * `reasoning_effort` → Cohere's `thinking` token budget. The same steps LiteLLM uses for Anthropic's
 * budget, so one effort means about the same spend on either provider.
 */
const THINKING: Record<string, { type: 'enabled' | 'disabled'; token_budget?: number }> = {
  none: { type: 'disabled' },
  minimal: { type: 'disabled' },
  low: { type: 'enabled', token_budget: 1024 },
  medium: { type: 'enabled', token_budget: 2048 },
  high: { type: 'enabled', token_budget: 4096 },
};

function tools(body: ChatRequest, out: Record<string, unknown>): void {
  const defs = body.tools ?? [];
  defs.forEach((t, i) => {
    if (t.type !== 'function' || typeof t.function?.name !== 'string') throw invalid(`tools[${i}].type`, 'cohere accepts only function tools');
  });
  let chosen: ToolDefinition[] = defs;
  const choice = body.tool_choice;
  if (choice === 'required' || choice === 'none') {
    if (!defs.length && choice === 'required') throw invalid('tool_choice', '"required" needs at least one tool in tools');
    if (defs.length) out.tool_choice = choice === 'required' ? 'REQUIRED' : 'NONE';
  } else if (typeof choice === 'object' && choice !== null) {
    // Cohere cannot be told which tool to call, only that it must call one: offer just that one.
    const name = choice.function?.name;
    chosen = defs.filter((t) => t.function.name === name);
    if (!chosen.length) throw invalid('tool_choice.function.name', `no tool named "${String(name)}" in tools`);
    out.tool_choice = 'REQUIRED';
  } else if (choice !== undefined && choice !== null && choice !== 'auto') {
    throw invalid('tool_choice', 'must be "auto", "none", "required" or {type:"function", function:{name}}');
  }
  if (!chosen.length) return;
  out.tools = chosen.map(({ function: f }) => ({
    type: 'function',
    function: {
      name: f.name,
      ...(f.description ? { description: f.description } : {}),
      parameters: f.parameters ?? { type: 'object', properties: {} },
    },
  }));
  if (chosen.some((t) => t.function.strict === true)) out.strict_tools = true;
}

function responseFormat(body: ChatRequest, out: Record<string, unknown>): void {
  const rf = body.response_format;
  if (!rf || rf.type === 'text') return;
  if (rf.type === 'json_object') {
    out.response_format = { type: 'json_object' };
  } else if (rf.type === 'json_schema') {
    const schema = rf.json_schema?.schema;
    if (typeof schema !== 'object' || schema === null) throw invalid('response_format.json_schema.schema', 'must be a JSON schema object');
    out.response_format = { type: 'json_object', json_schema: schema };
  } else {
    throw invalid('response_format.type', `cohere supports "text", "json_object" and "json_schema", not "${String((rf as { type: unknown }).type)}"`);
  }
}

function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined && value !== null) out[key] = value;
}

/** OpenAI chat body (with the target's `override_params`) → Cohere v2 `/chat` body. */
export function toCohereChat(input: ChatRequest, ctx: CallContext): Record<string, unknown> {
  const body = withOverrides(input, ctx.target.overrideParams);
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw invalid('n', 'cohere returns one choice per request; n must be 1');
  // Cohere's own `logprobs` gives one logprob per token id of a text chunk, with neither the token's
  // text nor alternatives, so OpenAI's `logprobs.content` cannot be built from it: refused too.
  refuseUnsupported(body, 'cohere', ['logprobs', 'logit_bias', 'audio', 'web_search_options']);
  const out: Record<string, unknown> = { model: ctx.model, messages: toCohereMessages(body.messages), stream: ctx.stream };
  put(out, 'temperature', body.temperature);
  put(out, 'p', body.top_p);
  put(out, 'max_tokens', body.max_completion_tokens ?? body.max_tokens);
  put(out, 'stop_sequences', typeof body.stop === 'string' ? [body.stop] : body.stop);
  put(out, 'seed', body.seed);
  put(out, 'frequency_penalty', body.frequency_penalty);
  put(out, 'presence_penalty', body.presence_penalty);
  tools(body, out);
  responseFormat(body, out);
  const effort = body.reasoning_effort;
  if (effort !== undefined && effort !== null) {
    // Own keys only: "constructor" or "toString" would find Object.prototype's functions.
    const thinking = Object.hasOwn(THINKING, effort) ? THINKING[effort] : undefined;
    if (!thinking) throw invalid('reasoning_effort', `must be one of ${Object.keys(THINKING).join(', ')}`);
    out.thinking = thinking;
  }
  for (const key of NATIVE) put(out, key, body[key]);
  return out;
}
