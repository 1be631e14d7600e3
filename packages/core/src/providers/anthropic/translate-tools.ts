import { GatewayError } from '../../errors.js';
import { objectSchema } from '../object-schema.js';
import type { ChatRequest } from '../openai-types.js';
import type { AnthropicRequest, AnthropicTool, AnthropicToolChoice } from './wire-types.js';

/** The forced tool that carries a JSON answer when native structured output is not used. */
export const JSON_TOOL = 'json';

function toTool(tool: unknown, i: number): AnthropicTool {
  const t = tool as { type?: string; function?: { name?: string; description?: string; parameters?: Record<string, unknown> }; cache_control?: unknown };
  // Anthropic's own tool types (web search, code execution, …) pass through as the client wrote them.
  if (t.type !== 'function') return tool as AnthropicTool;
  const fn = t.function;
  if (!fn?.name) throw new GatewayError('invalid_request', `tools[${i}].function.name is required`, { param: `tools[${i}].function.name` });
  const out: AnthropicTool = { name: fn.name, input_schema: objectSchema(fn.parameters) };
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
  /** `native` (default): `output_config.format`; `tool`: a forced `json` tool, for models without structured output. */
  structuredOutput: 'native' | 'tool';
}

/**
 * Tools, `tool_choice` and `response_format`. JSON-schema answers use Anthropic's structured output
 * (`output_config.format`) unless the target asks for the tool technique; `json_object` has no
 * native equivalent, so it always uses a `json` tool whose input is the answer.
 * Returns whether the `json` tool was added, so the response translators turn its input into text.
 */
export function translateTools(body: ChatRequest, out: AnthropicRequest, opts: ToolsOptions): { jsonTool: boolean } {
  const tools = (body.tools ?? []).map(toTool);
  let choice = toChoice(body.tool_choice);
  let jsonTool = false;
  const format = body.response_format;
  if (format?.type === 'json_schema' || format?.type === 'json_object') {
    const schema = format.type === 'json_schema' ? format.json_schema?.schema : undefined;
    if (format.type === 'json_schema' && !schema) {
      throw new GatewayError('invalid_request', 'response_format.json_schema.schema is required', { param: 'response_format.json_schema.schema' });
    }
    if (schema && opts.structuredOutput === 'native') {
      out.output_config = { ...out.output_config, format: { type: 'json_schema', schema } };
    } else {
      jsonTool = true;
      tools.push({ name: JSON_TOOL, description: 'Respond with a JSON object that is the answer.', input_schema: schema ?? { type: 'object' } });
      // Forcing only works without other tools (the model may need them first) and without thinking.
      if (!body.tools?.length && !opts.thinking) choice = { type: 'tool', name: JSON_TOOL };
    }
  }
  if (!tools.length) return { jsonTool };
  out.tools = tools;
  if (body.parallel_tool_calls === false && choice?.type !== 'none') choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true };
  if (choice) out.tool_choice = choice;
  return { jsonTool };
}
