import { GatewayError } from '../../errors.js';
import type { ChatRequest } from '../openai-types.js';
import { refuseUnsupported } from '../unsupported-params.js';
import type { ContentOptions } from './translate-content.js';
import { translateMessages } from './translate-messages.js';
import { translateTools } from './translate-tools.js';
import type { AnthropicRequest } from './wire-types.js';

/** `max_tokens` is required by Anthropic; OpenAI clients usually send none. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Thinking budgets for OpenAI's `reasoning_effort` (the smallest budget Anthropic accepts is 1024). */
export const THINKING_BUDGET: Record<string, number> = { minimal: 1024, low: 1024, medium: 2048, high: 4096, xhigh: 8192 };
const MIN_BUDGET = 1024;

/** Anthropic parameters without an OpenAI name, accepted as extra body fields or `override_params`. */
const NATIVE_PARAMS = ['top_k', 'output_config', 'container', 'mcp_servers', 'context_management'] as const;

function thinkingFor(body: ChatRequest): { type: 'enabled'; budget_tokens: number } | Record<string, unknown> | undefined {
  if (body.thinking && typeof body.thinking === 'object') return body.thinking as Record<string, unknown>;
  const effort = body.reasoning_effort;
  if (effort === undefined || effort === null || effort === 'none') return undefined;
  // Own keys only: "constructor" or "toString" would find Object.prototype's functions.
  const budget = Object.hasOwn(THINKING_BUDGET, effort) ? THINKING_BUDGET[effort] : undefined;
  if (!budget) {
    throw new GatewayError('invalid_request', `reasoning_effort "${effort}" is not one of ${Object.keys(THINKING_BUDGET).join(', ')}, none`, { param: 'reasoning_effort' });
  }
  return { type: 'enabled', budget_tokens: budget };
}

/**
 * OpenAI's `max_completion_tokens` covers reasoning and answer, like Anthropic's `max_tokens`. With
 * no limit given, the thinking budget comes on top of the default; with one, the budget shrinks to
 * leave at least half of it for the answer.
 */
function limits(body: ChatRequest, thinking: Record<string, unknown> | undefined): number {
  const explicit = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const budget = thinking?.type === 'enabled' && typeof thinking.budget_tokens === 'number' ? thinking.budget_tokens : undefined;
  if (budget === undefined) return explicit ?? DEFAULT_MAX_TOKENS;
  if (explicit === undefined) return DEFAULT_MAX_TOKENS + budget;
  const param = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  if (explicit <= MIN_BUDGET) {
    throw new GatewayError('invalid_request', `${param} must be above ${MIN_BUDGET} when thinking is on (anthropic's smallest thinking budget)`, { param });
  }
  if (!body.thinking) thinking!.budget_tokens = Math.min(budget, Math.max(MIN_BUDGET, Math.floor(explicit / 2)));
  return explicit;
}

export interface TranslateOptions extends ContentOptions {
  stream: boolean;
  model: string;
  structuredOutput: 'native' | 'tool';
}

/**
 * The OpenAI chat body → an Anthropic Messages body. `seed` and the penalties have no Anthropic
 * equivalent and only tune sampling, so they are dropped; parameters that ask for something in the
 * answer Claude cannot give (`logprobs`, `logit_bias`, an audio answer) are refused instead.
 */
export function translateRequest(body: ChatRequest, opts: TranslateOptions): { request: AnthropicRequest; jsonTool: boolean } {
  if (typeof body.n === 'number' && body.n > 1) {
    throw new GatewayError('invalid_request', 'n > 1 is not supported by anthropic; send several requests', { param: 'n' });
  }
  refuseUnsupported(body, 'anthropic', ['logprobs', 'logit_bias', 'audio']);
  const thinking = thinkingFor(body);
  const maxTokens = limits(body, thinking);
  const request: AnthropicRequest = { model: opts.model, max_tokens: maxTokens, ...translateMessages(body.messages, opts) };
  if (thinking) request.thinking = thinking as AnthropicRequest['thinking'];
  for (const key of NATIVE_PARAMS) if (body[key] !== undefined && body[key] !== null) (request as Record<string, unknown>)[key] = body[key];
  const { jsonTool } = translateTools(body, request, { thinking: thinking?.type === 'enabled' || thinking?.type === 'adaptive', structuredOutput: opts.structuredOutput });
  if (typeof body.temperature === 'number') request.temperature = body.temperature;
  if (typeof body.top_p === 'number') request.top_p = body.top_p;
  const stop = claudeStopSequences(body.stop);
  if (stop) request.stop_sequences = stop;
  if (typeof body.user === 'string' && body.user) request.metadata = { user_id: body.user };
  // Anthropic's tiers are `auto` and `standard_only`; OpenAI's `default`/`flex`/`priority` have no match.
  if (body.service_tier === 'auto' || body.service_tier === 'standard_only') request.service_tier = body.service_tier;
  if (opts.stream) request.stream = true;
  return { request, jsonTool };
}

/**
 * OpenAI's `stop` as Claude accepts it: Anthropic (and Bedrock's Claude) refuse the whole request with a
 * 400 naming `stop_sequences` when one is empty or only whitespace — `"\n"`, the most common stop there
 * is. Those are left out, as LiteLLM does: Claude cannot stop on them, and refusing would fail every
 * request an OpenAI client sends with one (a fallback from OpenAI to Claude too).
 */
export function claudeStopSequences(stop: unknown): string[] | undefined {
  const all = typeof stop === 'string' ? [stop] : Array.isArray(stop) ? stop : [];
  const kept = all.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
  return kept.length ? kept : undefined;
}
