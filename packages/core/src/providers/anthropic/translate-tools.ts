import { GatewayError } from '../../errors.js';
import { objectSchema } from '../object-schema.js';
import type { ChatRequest } from '../openai-types.js';
import { toAnthropicOutputSchema } from './output-schema.js';
import type { AnthropicRequest, AnthropicTool, AnthropicToolChoice } from './wire-types.js';

/** The forced tool that carries a JSON answer when native structured output is not used. */
export const JSON_TOOL = 'json';

/** `nativeStrict`: the model has structured output, so a strict tool can be compiled into a grammar. */
function toTool(tool: unknown, i: number, nativeStrict: boolean): AnthropicTool {
  const t = tool as {
    type?: string;
    function?: { name?: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
    cache_control?: unknown;
  };
  // Anthropic's own tool types (web search, code execution, …) pass through as the client wrote them.
  if (t.type !== 'function') return tool as AnthropicTool;
  const fn = t.function;
  if (!fn?.name) throw new GatewayError('invalid_request', `tools[${i}].function.name is required`, { param: `tools[${i}].function.name` });
  const schema = objectSchema(fn.parameters);
  const strict = nativeStrict && fn.strict === true;
  // The grammar a strict tool's schema becomes takes only the structured-output subset.
  const out: AnthropicTool = { name: fn.name, input_schema: strict ? toAnthropicOutputSchema(schema) : schema };
  if (strict) out.strict = true;
  if (fn.description) out.description = fn.description;
  if (t.cache_control) out.cache_control = t.cache_control as AnthropicTool['cache_control'];
  return out;
}

function toChoice(choice: ChatRequest['tool_choice']): AnthropicToolChoice | undefined {
  if (choice === undefined || choice === null) return undefined;
  if (choice === 'auto') return { type: 'auto' };
  if (choice === 'required') return { type: 'any' };
  if (choice === 'none') return { type: 'none' };
  if (typeof choice === 'object' && choice.type === 'function' && choice.function?.name) return { type: 'tool', name: choice.function.name };
  throw new GatewayError('invalid_request', 'tool_choice must be "auto", "required", "none" or {"type":"function","function":{"name"}}', { param: 'tool_choice' });
}

export interface ToolsOptions {
  /** Thinking is on: Anthropic then allows only `auto` and `none`, so a JSON answer cannot be forced. */
  thinking: boolean;
  /**
   * `native` (default): `output_config.format` and strict tools; `tool`: a forced `json` tool and no
   * `strict`, for models without structured output.
   */
  structuredOutput: 'native' | 'tool';
}

/** Anthropic's server-side web search, the tool OpenAI's `web_search_options` stands for. */
const WEB_SEARCH_TOOL = { type: 'web_search_20250305', name: 'web_search' } as const;

/**
 * `web_search_options` as the web search tool, unless the client already offers one in `tools`.
 * `user_location.approximate` has the fields Anthropic's `user_location` takes. `search_context_size`
 * has no counterpart (the tool's `max_uses` caps searches, not context) and only tunes how much is read.
 */
function webSearchTool(body: ChatRequest, tools: AnthropicTool[]): AnthropicTool | undefined {
  const options = body.web_search_options;
  if (options === undefined || options === null) return undefined;
  if (tools.some((t) => typeof t.type === 'string' && t.type.startsWith('web_search'))) return undefined;
  const location = (options as { user_location?: { approximate?: Record<string, unknown> } | null }).user_location?.approximate;
  return location && typeof location === 'object' ? { ...WEB_SEARCH_TOOL, user_location: { type: 'approximate', ...location } } : { ...WEB_SEARCH_TOOL };
}

/**
 * Tools, `tool_choice`, `web_search_options` and `response_format`. JSON-schema answers use
 * Anthropic's structured output (`output_config.format`) unless the target asks for the tool
 * technique; `json_object` has no native equivalent, so it always uses a `json` tool whose input is
 * the answer. Returns whether the `json` tool was added, so the response translators turn its input into text.
 */
export function translateTools(body: ChatRequest, out: AnthropicRequest, opts: ToolsOptions): { jsonTool: boolean } {
  const tools = (body.tools ?? []).map((t, i) => toTool(t, i, opts.structuredOutput === 'native'));
  const search = webSearchTool(body, tools);
  if (search) tools.push(search);
  let choice = toChoice(body.tool_choice);
  let jsonTool = false;
  const format = body.response_format;
  const formatType = (format as { type?: unknown } | null | undefined)?.type;
  // OpenAI refuses a type it does not know; ignoring one (vLLM's `regex`, `structural_tag`) would answer in free prose.
  if (format && formatType !== 'text' && formatType !== 'json_object' && formatType !== 'json_schema') {
    throw new GatewayError('invalid_request', `response_format.type "${String(formatType)}" is not supported by anthropic; use "text", "json_object" or "json_schema"`, {
      param: 'response_format.type',
    });
  }
  if (format?.type === 'json_schema' || format?.type === 'json_object') {
    const schema = format.type === 'json_schema' ? format.json_schema?.schema : undefined;
    if (format.type === 'json_schema' && !schema) {
      throw new GatewayError('invalid_request', 'response_format.json_schema.schema is required', { param: 'response_format.json_schema.schema' });
    }
    if (schema && opts.structuredOutput === 'native') {
      out.output_config = { ...out.output_config, format: { type: 'json_schema', schema: toAnthropicOutputSchema(schema) } };
    } else {
      jsonTool = true;
      // Forcing only works without other tools (the model may need them first, web search too) and without thinking.
      if (!tools.length && !opts.thinking) choice = { type: 'tool', name: JSON_TOOL };
      tools.push({ name: JSON_TOOL, description: 'Respond with a JSON object that is the answer.', input_schema: schema ?? { type: 'object' } });
    }
  }
  if (!tools.length) return { jsonTool };
  out.tools = tools;
  if (body.parallel_tool_calls === false && choice?.type !== 'none') choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true };
  if (choice) out.tool_choice = choice;
  return { jsonTool };
}
