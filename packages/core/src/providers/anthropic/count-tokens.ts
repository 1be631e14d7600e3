import type { TokenCount, TokenCounting } from '../types.js';
import { anthropicHeaders } from './headers.js';

/**
 * `POST {baseURL}/messages/count_tokens`: the client's body as sent, with the target's model and key
 * (no `override_params`: the count endpoint refuses the generation parameters most of them are). The
 * answer is relayed as Anthropic sent it, fields beside `input_tokens` included.
 */
export const anthropicCountTokens: TokenCounting = {
  request: (body, ctx) => ({
    url: `${ctx.target.baseURL}/messages/count_tokens`,
    method: 'POST',
    headers: anthropicHeaders(ctx),
    body: JSON.stringify({ ...body, model: ctx.model }),
  }),
  response: (json) => (typeof json === 'object' && json !== null && 'input_tokens' in json ? (json as TokenCount) : undefined),
};
