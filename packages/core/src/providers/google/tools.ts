import { GatewayError } from '../../errors.js';
import type { ChatRequest, ToolDefinition } from '../openai-types.js';
import { objectSchema } from '../object-schema.js';
import { isRecord, refsAlone } from './json-schema.js';
import { hasOpenObject, toGeminiParameters } from './schema.js';
import type { GenerateContentRequest } from './wire.js';

/** Gemini's built-in tools, reachable with `{ "type": "google_search" }` and the like in `tools`. */
const BUILTIN: Record<string, string> = { google_search: 'googleSearch', code_execution: 'codeExecution', url_context: 'urlContext' };

type ToolFields = Pick<GenerateContentRequest, 'tools' | 'toolConfig'>;

/**
 * The tools with OpenAI's `web_search_options` as the `google_search` built-in, unless the client
 * already offers it. Its `search_context_size` and `user_location` have no `googleSearch` field and
 * only tune the search, so they are left out.
 */
function withWebSearch(body: ChatRequest): ToolDefinition[] {
  const tools = body.tools ?? [];
  if (body.web_search_options === undefined || body.web_search_options === null) return tools;
  if (tools.some((t) => (t as { type?: string }).type === 'google_search')) return tools;
  return [...tools, { type: 'google_search' } as unknown as ToolDefinition];
}

/**
 * `tools` → `functionDeclarations` (schemas converted to Gemini's subset, or sent verbatim as
 * `parametersJsonSchema` when the target sets `native_json_schema` or the subset cannot declare
 * them — a free-form object inside), `tool_choice` → `toolConfig`, `web_search_options` → `googleSearch`.
 */
export function toTools(body: ChatRequest, nativeSchema: boolean): ToolFields {
  const out: ToolFields = {};
  const declarations: Array<Record<string, unknown>> = [];
  const builtins: Array<Record<string, unknown>> = [];
  for (const [i, tool] of withWebSearch(body).entries()) {
    const type = (tool as { type?: string }).type;
    if (type === 'function') {
      // The chat schema lets `function` be absent; without it there is nothing to declare, and that is the client's error.
      const fn = tool.function as typeof tool.function | undefined;
      if (!fn || typeof fn !== 'object') {
        throw new GatewayError('invalid_request', `tools[${i}].function is required for a function tool`, { param: `tools[${i}].function` });
      }
      const decl: Record<string, unknown> = { name: fn.name };
      if (fn.description) decl.description = fn.description;
      if (fn.parameters !== undefined) {
        const params = nativeSchema ? undefined : toGeminiParameters(fn.parameters, `tools[${i}].function.parameters`);
        if (nativeSchema) decl.parametersJsonSchema = fn.parameters;
        // Root typed as in `parameters` (see toGeminiParameters): Vertex insists on an object root. A root
        // that is itself a record (`additionalProperties` only) has no `parameters` form at all.
        else if ((params && hasOpenObject(params)) || (!params && isRecord(fn.parameters))) decl.parametersJsonSchema = refsAlone(objectSchema(fn.parameters));
        else if (params) decl.parameters = params;
      }
      declarations.push(decl);
    } else if (typeof type === 'string' && Object.hasOwn(BUILTIN, type)) {
      // Own keys only (above): "constructor" or "__proto__" would find Object.prototype's members.
      const { type: _t, ...config } = tool as unknown as Record<string, unknown>;
      builtins.push({ [BUILTIN[type]!]: config[type] ?? {} });
    } else {
      throw new GatewayError('invalid_request', `tools[${i}].type: "${String(type)}" is not a tool type Gemini offers`, { param: `tools[${i}].type` });
    }
  }
  if (declarations.length || builtins.length) {
    out.tools = [...(declarations.length ? [{ functionDeclarations: declarations }] : []), ...builtins];
  }
  if (declarations.length && body.tool_choice !== undefined && body.tool_choice !== null) {
    out.toolConfig = { functionCallingConfig: toolChoice(body.tool_choice) };
  }
  return out;
}

function toolChoice(choice: NonNullable<ChatRequest['tool_choice']>): NonNullable<GenerateContentRequest['toolConfig']>['functionCallingConfig'] {
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'required') return { mode: 'ANY' };
  if (typeof choice === 'object' && choice.type === 'function' && typeof choice.function?.name === 'string') {
    return { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
  }
  throw new GatewayError('invalid_request', 'tool_choice must be "auto", "none", "required" or {"type":"function","function":{"name":…}}', {
    param: 'tool_choice',
  });
}
