import type { GeminiLogprobsCandidate, GeminiLogprobsResult } from './wire.js';

/** OpenAI's `choices[].logprobs.content[]` entry (and, without `top_logprobs`, one of its alternatives). */
interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
}

export interface ChoiceLogprobs {
  content: Array<TokenLogprob & { top_logprobs: TokenLogprob[] }>;
  refusal: null;
}

const utf8 = new TextEncoder();

function token(c: GeminiLogprobsCandidate | undefined): TokenLogprob {
  // Proto3 JSON leaves out default values: a missing logProbability is 0 (a certain token), not unknown.
  const text = typeof c?.token === 'string' ? c.token : '';
  // OpenAI's bytes let a client rebuild characters split across tokens; Gemini sends strings only.
  return { token: text, logprob: typeof c?.logProbability === 'number' ? c.logProbability : 0, bytes: Array.from(utf8.encode(text)) };
}

/**
 * A candidate's `logprobsResult` (`generationConfig.responseLogprobs`) in OpenAI's shape: one entry per
 * chosen token, its alternatives from the same decoding step of `topCandidates`. In a stream each
 * event carries the steps of its own text, so this serves chunks and whole answers alike.
 * Null when Gemini sent none: the request did not ask, and a made-up list would be wrong.
 */
export function toChoiceLogprobs(result: GeminiLogprobsResult | undefined): ChoiceLogprobs | null {
  const chosen = result?.chosenCandidates;
  if (!Array.isArray(chosen)) return null;
  const top = Array.isArray(result!.topCandidates) ? result!.topCandidates : [];
  return {
    content: chosen.map((c, step) => ({ ...token(c), top_logprobs: (top[step]?.candidates ?? []).map(token) })),
    refusal: null,
  };
}
