import type { TokenCounts } from './token-counts.js';

/** USD per million tokens (per thousand for counts); a tiered rate switches for the whole request once its input exceeds a tier's start. */
export type Rate = number | { base: number; tiers: Array<{ start: number; price: number }> };

/**
 * One model's prices, named after the `@pydantic/genai-prices` keys they come from. A missing rate
 * falls back to the one of the wider part it belongs to, as the database's own engine does: cache
 * and audio rates to the input rate (a 1-hour write to the cache-write rate), reasoning, citation
 * and audio output to the output rate.
 */
export interface PriceSheet {
  input: Rate;
  output: Rate;
  /** `cache_read_mtok` */
  cacheRead?: Rate;
  /** `cache_write_mtok`: the 5-minute write at Anthropic. */
  cacheWrite?: Rate;
  /** `cache_write_1h_mtok` */
  cacheWrite1h?: Rate;
  /** `input_audio_mtok` */
  inputAudio?: Rate;
  /** `cache_audio_read_mtok` */
  cacheAudioRead?: Rate;
  /** `output_reasoning_mtok` */
  reasoning?: Rate;
  /** `output_citation_mtok`: Perplexity's search results read back into the answer. */
  citation?: Rate;
  /** `output_audio_mtok` */
  outputAudio?: Rate;
  /** `requests_kcount`: USD per thousand requests (Perplexity's per-request fee). */
  requestsKcount?: Rate;
  /** `web_searches_kcount`: USD per thousand server-side web searches. */
  webSearchesKcount?: Rate;
}

/** The rate for a request with `inputTokens` in total (Gemini and Claude long-context tiers). */
export function rateAt(rate: Rate | undefined, inputTokens: number): number {
  if (rate === undefined) return 0;
  if (typeof rate === 'number') return rate;
  let price = rate.base;
  for (const tier of rate.tiers) if (inputTokens > tier.start) price = tier.price;
  return price;
}

/** USD for one request's fees that are not per token: the request itself and its web searches. */
function fees(sheet: PriceSheet, inputTokens: number, webSearches: number): number {
  if (sheet.requestsKcount === undefined && sheet.webSearchesKcount === undefined) return 0;
  return (rateAt(sheet.requestsKcount, inputTokens) + webSearches * rateAt(sheet.webSearchesKcount, inputTokens)) / 1000;
}

/**
 * USD for the given usage: each token at the rate of the narrowest part it belongs to, as the
 * database's engine prices it (kept in step by test/cost/price-database.test.ts) — written out here
 * because that engine re-derives the part hierarchy on every call (~13 µs), and this runs per request.
 */
export function priceTokens(sheet: PriceSheet, t: TokenCounts): number {
  const at = t.input;
  const input = rateAt(sheet.input, at);
  const output = rateAt(sheet.output, at);
  const cacheRead = sheet.cacheRead === undefined ? input : rateAt(sheet.cacheRead, at);
  const cacheWrite = sheet.cacheWrite === undefined ? input : rateAt(sheet.cacheWrite, at);
  const cacheWrite1h = sheet.cacheWrite1h === undefined ? cacheWrite : rateAt(sheet.cacheWrite1h, at);
  const inputAudio = sheet.inputAudio === undefined ? input : rateAt(sheet.inputAudio, at);
  // Cached audio is both a cache read and audio: without its own rate it is priced as whichever the sheet names.
  const cacheAudioRead =
    sheet.cacheAudioRead !== undefined ? rateAt(sheet.cacheAudioRead, at) : sheet.cacheRead !== undefined ? cacheRead : inputAudio;
  const reasoning = sheet.reasoning === undefined ? output : rateAt(sheet.reasoning, at);
  const citation = sheet.citation === undefined ? output : rateAt(sheet.citation, at);
  const outputAudio = sheet.outputAudio === undefined ? output : rateAt(sheet.outputAudio, at);
  const cached = Math.min(t.input, t.cacheRead + t.cacheWrite);
  const read = Math.min(t.cacheRead, cached);
  const write = cached - read;
  const write1h = Math.min(t.cacheWrite1h, write);
  const audioRead = Math.min(t.cacheAudioRead, read);
  const audio = Math.min(Math.max(0, t.inputAudio - audioRead), t.input - cached);
  const cited = Math.min(t.citation ?? 0, t.output - t.reasoning);
  const outAudio = Math.min(t.outputAudio, t.output - t.reasoning - cited);
  const micro =
    (t.input - cached - audio) * input +
    audio * inputAudio +
    (read - audioRead) * cacheRead +
    audioRead * cacheAudioRead +
    (write - write1h) * cacheWrite +
    write1h * cacheWrite1h +
    (t.output - t.reasoning - cited - outAudio) * output +
    t.reasoning * reasoning +
    cited * citation +
    outAudio * outputAudio;
  return micro / 1_000_000 + fees(sheet, at, t.webSearches);
}

/**
 * The most a request with these bounds can cost, whatever part of the input turns out to be written
 * to a prompt cache for an hour (dearer than plain input at Anthropic) or audio, and of the output
 * reasoning, citations or audio; plus its per-request fee and up to `webSearches` searches.
 */
export function worstCasePrice(sheet: PriceSheet, inputTokens: number, outputTokens: number, webSearches = 0): number {
  const at = inputTokens;
  const input = Math.max(
    rateAt(sheet.input, at),
    rateAt(sheet.cacheRead, at),
    rateAt(sheet.cacheWrite, at),
    rateAt(sheet.cacheWrite1h, at),
    rateAt(sheet.inputAudio, at),
    rateAt(sheet.cacheAudioRead, at),
  );
  const output = Math.max(rateAt(sheet.output, at), rateAt(sheet.reasoning, at), rateAt(sheet.citation, at), rateAt(sheet.outputAudio, at));
  return (inputTokens * input + outputTokens * output) / 1_000_000 + fees(sheet, at, webSearches);
}
