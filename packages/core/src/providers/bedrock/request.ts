import { GatewayError } from '../../errors.js';
import { claudeStopSequences, DEFAULT_MAX_TOKENS, THINKING_BUDGET } from '../anthropic/translate-request.js';
import { objectSchema } from '../object-schema.js';
import { toAnthropicOutputSchema } from '../anthropic/output-schema.js';
import { betaList } from '../anthropic/headers.js';
import { BEDROCK_BETAS } from './betas.js';
import { withOverrides } from '../with-overrides.js';
import { refuseUnsupported, type AnswerParam } from '../unsupported-params.js';
import type { ChatRequest } from '../openai-types.js';
import type { CallContext } from '../types.js';
import type { ConverseMessage, ConverseRequest, ConverseToolChoice, ConverseToolSpec } from './converse-types.js';
import { hasToolBlocks, toConverseMessages } from './request-messages.js';
import { cachesPrompts, dropCachePoints } from './prompt-caching.js';

/**
 * OpenAI parameters that are translated below, refused (`UNSUPPORTED`), or harmless without a Converse
 * equivalent and dropped. None of them may reach `additionalModelRequestFields`, where every other body
 * field goes as a model-specific option (e.g. `top_k` for Claude): the model would refuse or misread them.
 */
const OPENAI_PARAMS = new Set([
  'model', 'messages', 'stream', 'stream_options', 'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'stop',
  'seed', 'n', 'tools', 'tool_choice', 'parallel_tool_calls', 'response_format', 'reasoning_effort', 'user', 'metadata',
  'logprobs', 'top_logprobs', 'frequency_penalty', 'presence_penalty', 'logit_bias', 'store', 'service_tier', 'modalities',
  'audio', 'prediction', 'web_search_options', 'verbosity', 'prompt_cache_key', 'safety_identifier', 'functions', 'function_call',
]);

/** Parameters that change the answer and that Converse (and InvokeModel) cannot honour. */
export const UNSUPPORTED: readonly AnswerParam[] = ['logprobs', 'logit_bias', 'audio', 'web_search_options'];

/** Converse's own top-level fields, passed through when a client sends them. */
const CONVERSE_FIELDS = ['guardrailConfig', 'performanceConfig', 'requestMetadata', 'promptVariables', 'additionalModelResponseFieldPaths'];

/** Anthropic's smallest thinking budget. */
const MIN_THINKING_BUDGET = 1024;
/** The efforts Nova 2 takes (`minimal` becomes its `low`). */
const NOVA_EFFORTS = ['minimal', 'low', 'medium', 'high'];

const invalid = (message: string, param: string) => new GatewayError('invalid_request', message, { param });

/** The input schema of a tool declared without one: any object. */
const anyObject = (): Record<string, unknown> => ({ type: 'object', properties: {} });

/** A tool the history alone names: declared so the earlier calls can be read, and said to be gone. */
const pastTool = (name: string): ConverseToolSpec => ({
  toolSpec: { name, description: 'Used earlier in this conversation; not available now.', inputSchema: { json: anyObject() } },
});

/** Stands in for the tools of results whose calls are no longer in the history. */
const PLACEHOLDER_TOOL = 'unavailable_tool';

/**
 * The tools a request without `tools` must still declare when its history holds tool blocks: Bedrock
 * refuses to read those without a `toolConfig` ("The toolConfig field must be defined when using
 * toolUse and toolResult content blocks"), while OpenAI takes such a request (a closing summary
 * turn). The names the history called are declared with any input; results alone get one placeholder.
 */
function historyTools(messages: ConverseMessage[]): ConverseToolSpec[] {
  const names = new Set<string>();
  let results = false;
  for (const m of messages) {
    for (const b of m.content) {
      if ('toolUse' in b) names.add(b.toolUse.name);
      else if ('toolResult' in b) results = true;
    }
  }
  if (names.size) return [...names].map(pastTool);
  return results ? [pastTool(PLACEHOLDER_TOOL)] : [];
}

/**
 * Claude on Converse enforces strict tools and JSON outputs with the same grammar as Anthropic's API,
 * so it takes the same schema subset (bounds moved into descriptions, objects closed).
 */
const forClaude = (schema: Record<string, unknown>, model: string) => (isClaude(model) ? toAnthropicOutputSchema(schema) : schema);

function toolConfig(body: ChatRequest, messages: ConverseMessage[], model: string): ConverseRequest['toolConfig'] {
  const tools: ConverseToolSpec[] = (body.tools ?? []).map((t, i) => {
    if (t.type !== 'function' || !t.function) throw invalid(`tools[${i}].type "${t.type}" is not supported by bedrock`, `tools[${i}].type`);
    const { name, description, parameters, strict } = t.function;
    return {
      toolSpec: {
        name,
        ...(description ? { description } : {}),
        inputSchema: { json: strict === true ? forClaude(objectSchema(parameters), model) : objectSchema(parameters) },
        ...(strict === true ? { strict: true } : {}),
      },
    };
  });
  if (!tools.length) {
    const past = historyTools(messages);
    return past.length ? { tools: past } : undefined;
  }
  const choice = body.tool_choice;
  // `none` has no Converse form: the tools are left out, unless the history holds tool blocks,
  // which Bedrock refuses to read without a `toolConfig`.
  if (choice === 'none') return hasToolBlocks(messages) ? { tools } : undefined;
  let toolChoice: ConverseToolChoice | undefined;
  if (choice === 'auto') toolChoice = { auto: {} };
  else if (choice === 'required') toolChoice = { any: {} };
  else if (typeof choice === 'object' && choice) {
    const name = choice.function?.name;
    if (typeof name !== 'string' || !tools.some((t) => t.toolSpec.name === name)) {
      throw invalid(`tool_choice.function.name "${String(name)}" is not one of the tools`, 'tool_choice.function.name');
    }
    toolChoice = { tool: { name } };
  } else if (choice !== undefined && choice !== null) {
    throw invalid(`tool_choice "${String(choice)}" is not supported`, 'tool_choice');
  }
  return toolChoice ? { tools, toolChoice } : { tools };
}

/** Claude on Bedrock: Anthropic's model, with Anthropic's rules for thinking and stop sequences. */
export const isClaude = (model: string) => /anthropic\.claude|claude-/.test(model);

function inferenceConfig(body: ChatRequest, model: string): NonNullable<ConverseRequest['inferenceConfig']> {
  const config: NonNullable<ConverseRequest['inferenceConfig']> = {};
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number') config.maxTokens = maxTokens;
  if (typeof body.temperature === 'number') config.temperature = body.temperature;
  if (typeof body.top_p === 'number') config.topP = body.top_p;
  if (body.stop !== undefined && body.stop !== null) {
    const stop = isClaude(model) ? claudeStopSequences(body.stop) : Array.isArray(body.stop) ? body.stop : [body.stop];
    if (stop) config.stopSequences = stop;
  }
  return config;
}

/**
 * `reasoning_effort` in each model family's own field. Claude's thinking is Anthropic's, so budgets and
 * limits follow the Anthropic provider: `max_tokens` covers thinking and answer, a missing limit gets
 * the budget on top of the default, a given one keeps at least half for the answer.
 */
function applyReasoning(body: ChatRequest, model: string, out: ConverseRequest, extra: Record<string, unknown>): void {
  const effort = body.reasoning_effort;
  if (typeof effort !== 'string' || effort === 'none') return;
  if (isClaude(model)) {
    // A `thinking` object sent as is wins over the effort shorthand.
    if (extra.thinking !== undefined) return;
    // Own keys only: a client's "constructor" or "toString" must not find Object.prototype's.
    const budget = Object.hasOwn(THINKING_BUDGET, effort) ? THINKING_BUDGET[effort] : undefined;
    if (!budget) throw invalid(`reasoning_effort "${effort}" is not one of ${Object.keys(THINKING_BUDGET).join(', ')}, none`, 'reasoning_effort');
    const config = (out.inferenceConfig ??= {});
    const explicit = config.maxTokens;
    if (explicit === undefined) config.maxTokens = DEFAULT_MAX_TOKENS + budget;
    else if (explicit <= MIN_THINKING_BUDGET) {
      const param = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
      throw invalid(`${param} must be above ${MIN_THINKING_BUDGET} when reasoning is on (Claude's smallest thinking budget)`, param);
    }
    const tokens = explicit === undefined ? budget : Math.min(budget, Math.max(MIN_THINKING_BUDGET, Math.floor(explicit / 2)));
    extra.thinking = { type: 'enabled', budget_tokens: tokens };
  } else if (/amazon\.nova-2/.test(model)) {
    if (!NOVA_EFFORTS.includes(effort)) throw invalid(`reasoning_effort "${effort}" is not one of ${NOVA_EFFORTS.join(', ')}, none`, 'reasoning_effort');
    extra.reasoningConfig = { type: 'enabled', maxReasoningEffort: effort === 'minimal' ? 'low' : effort };
  } else if (/(^|\.)openai\./.test(model)) {
    extra.reasoning_effort = effort;
  }
}

function applyResponseFormat(body: ChatRequest, out: ConverseRequest, model: string): void {
  const format = body.response_format;
  if (!format || format.type === 'text') return;
  if (format.type === 'json_schema') {
    const spec = format.json_schema;
    if (!spec?.schema) throw invalid('response_format.json_schema.schema is required', 'response_format.json_schema.schema');
    out.outputConfig = {
      textFormat: {
        type: 'json_schema',
        // Converse takes the schema as a JSON string (see the recorded structured-output request).
        structure: { jsonSchema: { name: spec.name, schema: JSON.stringify(forClaude(spec.schema as Record<string, unknown>, model)), ...(spec.description ? { description: spec.description } : {}) } },
      },
    };
    return;
  }
  if (format.type === 'json_object') {
    // Converse has no plain JSON mode; an instruction is what the model family understands.
    (out.system ??= []).push({ text: 'Respond with a single valid JSON object and nothing else.' });
    return;
  }
  throw invalid(`response_format.type "${(format as { type: string }).type}" is not supported`, 'response_format.type');
}

/** The OpenAI chat body (with the target's `override_params`) as a Converse / ConverseStream body. */
export function toConverseRequest(input: ChatRequest, ctx: CallContext): ConverseRequest {
  const body = withOverrides(input, ctx.target.overrideParams);
  if (typeof body.n === 'number' && body.n > 1) throw invalid('n: bedrock returns one choice per request', 'n');
  refuseUnsupported(body, 'bedrock', UNSUPPORTED);
  const out: ConverseRequest = toConverseMessages(body.messages);
  if (!cachesPrompts(ctx.model)) dropCachePoints(out);
  const config = inferenceConfig(body, ctx.model);
  if (Object.keys(config).length) out.inferenceConfig = config;
  const tools = toolConfig(body, out.messages, ctx.model);
  if (tools) out.toolConfig = tools;
  applyResponseFormat(body, out, ctx.model);
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === undefined || OPENAI_PARAMS.has(k) || k === 'additionalModelRequestFields' || CONVERSE_FIELDS.includes(k)) continue;
    extra[k] = v;
  }
  const given = body.additionalModelRequestFields;
  if (given && typeof given === 'object') Object.assign(extra, given);
  applyReasoning(body, ctx.model, out, extra);
  // The client's beta flags: only those Bedrock documents (a first-party one is its 400 "invalid beta
  // flag"); a target's own, from its override_params, is the operator's and goes as set.
  if (isClaude(ctx.model) && extra.anthropic_beta !== undefined && ctx.target.overrideParams.anthropic_beta === undefined) {
    const kept = betaList(extra.anthropic_beta).filter((flag) => BEDROCK_BETAS.has(flag));
    if (kept.length) extra.anthropic_beta = kept;
    else delete extra.anthropic_beta;
  }
  if (Object.keys(extra).length) out.additionalModelRequestFields = extra;
  for (const k of CONVERSE_FIELDS) if (body[k] !== undefined) out[k] = body[k];
  askStopSequence(out, ctx.model);
  return out;
}

/** Claude's own answer field naming the stop sequence it stopped at (AWS's example of `additionalModelResponseFieldPaths`). */
const STOP_SEQUENCE_PATH = '/stop_sequence';

/**
 * Converse says only `stopReason: "stop_sequence"`; which of several sequences it was, Claude says in
 * `additionalModelResponseFields` when the request asks for the field, besides any the client asked for.
 * A single sequence needs no asking: it can only be that one.
 */
function askStopSequence(out: ConverseRequest, model: string): void {
  if (!isClaude(model) || (out.inferenceConfig?.stopSequences?.length ?? 0) < 2) return;
  const asked = out.additionalModelResponseFieldPaths ?? [];
  if (Array.isArray(asked) && !asked.includes(STOP_SEQUENCE_PATH)) out.additionalModelResponseFieldPaths = [...asked, STOP_SEQUENCE_PATH];
}
