import type { Provider, CallContext, UpstreamRequest } from '../types.js';
import { anthropicCountTokens } from './count-tokens.js';
import { parseAnthropicError } from './error.js';
import { anthropicHeaders } from './headers.js';
import { createAnthropicStreamTranslator } from './stream.js';
import { translateRequest } from './translate-request.js';
import { withOverrides } from '../with-overrides.js';
import { translateResponse } from './translate-response.js';

/**
 * Whether an attempt's request carried the `json` answer tool. The same `CallContext` object goes to
 * `request`, `response` and `stream` of one attempt, so it keys this per-attempt fact without a
 * field in the shared context.
 */
const jsonToolFor = new WeakMap<CallContext, boolean>();

const structuredOutput = (ctx: CallContext): 'native' | 'tool' => (ctx.target.extra.structured_output === 'tool' ? 'tool' : 'native');

/**
 * Anthropic Messages API (`POST {baseURL}/messages`, `x-api-key`, `anthropic-version`).
 * Target settings: `anthropic_version`, `anthropic_beta` (flags, comma-separated or a list),
 * `structured_output` (`native` default: `output_config.format`; `tool`: a forced `json` tool).
 */
export const anthropicProvider: Provider = {
  id: 'anthropic',
  baseURL: 'https://api.anthropic.com/v1',
  envKey: 'ANTHROPIC_API_KEY',
  framing: 'sse',
  chat: {
    request(body, ctx): UpstreamRequest {
      const merged = withOverrides(body, ctx.target.overrideParams);
      const { request, jsonTool } = translateRequest(merged, { stream: ctx.stream, model: ctx.model, structuredOutput: structuredOutput(ctx) });
      jsonToolFor.set(ctx, jsonTool);
      return {
        url: `${ctx.target.baseURL}/messages`,
        method: 'POST',
        headers: anthropicHeaders(ctx, merged.anthropic_beta),
        body: JSON.stringify(request),
      };
    },
    response: (json, ctx) => translateResponse(json, { jsonTool: jsonToolFor.get(ctx) ?? false }),
    stream: (ctx) => createAnthropicStreamTranslator({ jsonTool: jsonToolFor.get(ctx) ?? false }),
  },
  countTokens: anthropicCountTokens,
  error: parseAnthropicError,
};
