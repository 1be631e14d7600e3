import type { TokenCounts } from './token-counts.js';

/** USD per million tokens; a tiered rate switches for the whole request once its input exceeds a tier's start. */
export type Rate = number | { base: number; tiers: Array<{ start: number; price: number }> };

/** One model's prices. Missing cache and reasoning rates fall back to the input and output rates. */
export interface PriceSheet {
  input: Rate;
  output: Rate;
  cacheRead?: Rate;
  cacheWrite?: Rate;
  reasoning?: Rate;
}

/** The rate for a request with `inputTokens` in total (Gemini and Claude long-context tiers). */
export function rateAt(rate: Rate | undefined, inputTokens: number): number {
  if (rate === undefined) return 0;
  if (typeof rate === 'number') return rate;
  let price = rate.base;
  for (const tier of rate.tiers) if (inputTokens > tier.start) price = tier.price;
  return price;
}

/** USD for the given tokens. */
export function priceTokens(sheet: PriceSheet, t: TokenCounts): number {
  const input = rateAt(sheet.input, t.input);
  const output = rateAt(sheet.output, t.input);
  const cacheRead = sheet.cacheRead === undefined ? input : rateAt(sheet.cacheRead, t.input);
  const cacheWrite = sheet.cacheWrite === undefined ? input : rateAt(sheet.cacheWrite, t.input);
  const reasoning = sheet.reasoning === undefined ? output : rateAt(sheet.reasoning, t.input);
  const cached = Math.min(t.input, t.cacheRead + t.cacheWrite);
  const micro =
    (t.input - cached) * input +
    Math.min(t.cacheRead, cached) * cacheRead +
    (cached - Math.min(t.cacheRead, cached)) * cacheWrite +
    (t.output - t.reasoning) * output +
    t.reasoning * reasoning;
  return micro / 1_000_000;
}

/**
 * The most a request with these token counts can cost, whatever part of the input turns out to be
 * written to a prompt cache (dearer than plain input at Anthropic) or reasoning.
 */
export function worstCasePrice(sheet: PriceSheet, inputTokens: number, outputTokens: number): number {
  const input = Math.max(rateAt(sheet.input, inputTokens), rateAt(sheet.cacheWrite, inputTokens));
  const output = Math.max(rateAt(sheet.output, inputTokens), rateAt(sheet.reasoning, inputTokens));
  return (inputTokens * input + outputTokens * output) / 1_000_000;
}
