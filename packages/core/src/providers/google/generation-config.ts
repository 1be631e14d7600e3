import { GatewayError } from '../../errors.js';
import type { ChatRequest } from '../openai-types.js';
import { isRecord, refsAlone } from './json-schema.js';
import { hasOpenObject, isOpenObject, toGeminiSchema } from './schema.js';

/**
 * OpenAI sampling parameters, `logprobs`, `response_format` and `reasoning_effort` → `generationConfig`.
 * Unset and `null` parameters are left out so Gemini's own defaults apply.
 */

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Gemini 2.x budgets for OpenAI's effort levels (the mapping Google's OpenAI endpoint documents: 1K/8K/24K). */
const BUDGETS: Record<string, number> = { none: 0, minimal: 512, low: 1024, medium: 8192, high: 24576 };

/**
 * Gemini 3 takes a level instead of a budget (sending both is a 400). Pro models know only `low`
 * and `high`; Flash models also `minimal` and `medium`.
 */
function thinkingLevel(effort: string, model: string): string {
  const pro = /-pro\b/.test(model);
  if (effort === 'none' || effort === 'minimal') return pro ? 'low' : 'minimal';
  if (effort === 'medium') return pro ? 'high' : 'medium';
  return effort;
}

function thinkingConfig(body: ChatRequest, model: string): Record<string, unknown> | undefined {
  const effort = body.reasoning_effort;
  if (typeof effort === 'string') {
    // Own keys only: `in` also finds Object.prototype's members ("constructor", "toString").
    if (!Object.hasOwn(BUDGETS, effort)) {
      throw new GatewayError('invalid_request', `reasoning_effort must be one of ${Object.keys(BUDGETS).join(', ')}`, { param: 'reasoning_effort' });
    }
    const major = Number(/gemini-(\d+)/.exec(model)?.[1] ?? 0);
    const config: Record<string, unknown> = major >= 3 ? { thinkingLevel: thinkingLevel(effort, model) } : { thinkingBudget: BUDGETS[effort] };
    // Asking for an effort means wanting to see the reasoning: summaries come back as `reasoning_content`.
    if (effort !== 'none') config.includeThoughts = true;
    return config;
  }
  // Anthropic-style `thinking`, which several OpenAI-compatible gateways accept too.
  const thinking = body.thinking as { type?: string; budget_tokens?: unknown } | undefined;
  if (thinking?.type === 'enabled') {
    const budget = num(thinking.budget_tokens);
    return budget === undefined ? { includeThoughts: true } : { thinkingBudget: budget, includeThoughts: true };
  }
  if (thinking?.type === 'disabled') return { thinkingBudget: 0 };
  // The model decides how much to think, as Gemini's dynamic thinking (its default) does.
  if (thinking?.type === 'adaptive') return { includeThoughts: true };
  return undefined;
}

function responseFormat(body: ChatRequest, nativeSchema: boolean): Record<string, unknown> {
  const format = body.response_format;
  if (!format || format.type === 'text') return {};
  if (format.type === 'json_object') return { responseMimeType: 'application/json' };
  if (format.type === 'json_schema') {
    const schema = (format as { json_schema?: { schema?: unknown } }).json_schema?.schema;
    if (schema === undefined) return { responseMimeType: 'application/json' };
    if (nativeSchema) return { responseMimeType: 'application/json', responseJsonSchema: schema };
    const converted = toGeminiSchema(schema, { path: 'response_format.json_schema.schema', ordering: true });
    // A free-form object (a record, the end of a recursive `$ref`) has no form in the subset, where an
    // OBJECT without properties is a 400; `responseJsonSchema` takes it, as `parametersJsonSchema` does for tools.
    if (isOpenObject(converted) || hasOpenObject(converted) || (converted.properties === undefined && isRecord(schema))) {
      return { responseMimeType: 'application/json', responseJsonSchema: refsAlone(schema) };
    }
    return { responseMimeType: 'application/json', responseSchema: converted };
  }
  throw new GatewayError('invalid_request', `response_format.type "${String((format as { type?: unknown }).type)}" is not supported for Gemini`, { param: 'response_format.type' });
}

/**
 * `logprobs` → `responseLogprobs`, `top_logprobs` → `logprobs` (alternatives per step). The answer's
 * `logprobsResult` is translated back into `choices[].logprobs` (logprobs.ts). `top_logprobs` without
 * `logprobs: true` asks for nothing, as on OpenAI.
 */
function logprobsConfig(body: ChatRequest): Record<string, unknown> {
  if (body.logprobs !== true) return {};
  const top = num(body.top_logprobs);
  return top ? { responseLogprobs: true, logprobs: top } : { responseLogprobs: true };
}

export function toGenerationConfig(body: ChatRequest, model: string, nativeSchema: boolean): Record<string, unknown> | undefined {
  const config: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) config[key] = value;
  };
  set('temperature', num(body.temperature));
  set('topP', num(body.top_p));
  set('topK', num(body.top_k));
  set('maxOutputTokens', num(body.max_completion_tokens) ?? num(body.max_tokens));
  if (typeof body.stop === 'string') config.stopSequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length) config.stopSequences = body.stop;
  set('seed', num(body.seed));
  set('candidateCount', num(body.n));
  set('presencePenalty', num(body.presence_penalty));
  set('frequencyPenalty', num(body.frequency_penalty));
  Object.assign(config, logprobsConfig(body));
  Object.assign(config, responseFormat(body, nativeSchema));
  set('thinkingConfig', thinkingConfig(body, model));
  return Object.keys(config).length ? config : undefined;
}
