import { GatewayError } from '../errors.js';
import type { ChatRequest } from './openai-types.js';

/**
 * OpenAI chat parameters that change the answer but that some translated providers cannot honour.
 * Dropping one would answer 200 with something other than what was asked (no log probabilities, banned
 * tokens back in, text instead of speech, an ungrounded answer), and the client could not tell; so a
 * provider that cannot map one refuses it before any upstream call. Their harmless forms (`false`,
 * `{}`, `["text"]`, `null`) stay accepted: SDKs and proxies send those by default.
 */
export type AnswerParam = 'logprobs' | 'logit_bias' | 'audio' | 'web_search_options';

const nonEmpty = (v: unknown): boolean => v !== undefined && v !== null && !(typeof v === 'object' && Object.keys(v).length === 0);

/** The parameter a client would name for each, when the request asks for it; undefined when it does not. */
const ASKED: Record<AnswerParam, (body: ChatRequest) => string | undefined> = {
  // `top_logprobs` alone returns nothing (OpenAI wants `logprobs: true` beside it), so it changes no answer.
  logprobs: (b) => (b.logprobs === true ? 'logprobs' : undefined),
  logit_bias: (b) => (nonEmpty(b.logit_bias) ? 'logit_bias' : undefined),
  audio: (b) => {
    if (Array.isArray(b.modalities) && b.modalities.some((m) => m !== 'text')) return 'modalities';
    return b.audio !== undefined && b.audio !== null ? 'audio' : undefined;
  },
  web_search_options: (b) => (b.web_search_options !== undefined && b.web_search_options !== null ? 'web_search_options' : undefined),
};

const WHY: Record<AnswerParam, string> = {
  logprobs: 'it returns no token log probabilities in the OpenAI shape',
  logit_bias: 'it has no per-token bias',
  audio: 'it answers in text only',
  web_search_options: 'it has no built-in web search',
};

/** Throws a 400 naming the first of `params` the request asks for. */
export function refuseUnsupported(body: ChatRequest, provider: string, params: readonly AnswerParam[]): void {
  for (const p of params) {
    const param = ASKED[p](body);
    if (param) throw new GatewayError('invalid_request', `${param} is not supported by ${provider}: ${WHY[p]}`, { param });
  }
}

/** Whether the request asks for `p` at all (for providers that map it rather than refuse it). */
export const asksFor = (body: ChatRequest, p: AnswerParam): boolean => ASKED[p](body) !== undefined;
