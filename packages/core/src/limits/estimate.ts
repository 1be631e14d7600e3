import { THINKING_BUDGET } from '../providers/anthropic/translate-request.js';

/**
 * A cheap upper bound on a request's input tokens, without a tokenizer: byte-level BPE tokenizers
 * (OpenAI, Llama, Claude, Gemini) never make a token of less than one UTF-8 byte, so the UTF-8 length
 * of the text never undercounts. It overcounts English about 4×: budgets reserve more than they
 * settle, never less. Images, audio and files count a fixed amount each.
 */

/**
 * Tokens reserved per image, audio or file part: above what the largest image costs on most models —
 * Claude's ~1,600, Gemini's 258 per 768-px tile, OpenAI's patch-based models at most 1,536 patches
 * times their multiplier (gpt-4.1-nano's 2.46: 3,779).
 */
export const MEDIA_PART_TOKENS = 4_000;
/**
 * gpt-4o-mini bills images at 2,833 tokens plus 5,667 per 512-px tile: its largest high-detail image
 * (2048 × 768, 8 tiles) is 48,169 tokens (OpenAI's vision pricing).
 */
const MEDIA_PART_TOKENS_BY_MODEL: Array<[RegExp, number]> = [[/gpt-4o-mini/, 48_169]];

function mediaPartTokens(model: unknown): number {
  if (typeof model === 'string') for (const [pattern, tokens] of MEDIA_PART_TOKENS_BY_MODEL) if (pattern.test(model)) return tokens;
  return MEDIA_PART_TOKENS;
}
/** Role markers and separators around each message. */
const PER_MESSAGE_TOKENS = 8;

export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    // 2 bytes below U+0800; a surrogate pair (2 units) is 4 bytes; other BMP characters are 3.
    n += c < 0x800 ? 1 : c >= 0xd800 && c <= 0xdbff ? 1 : c >= 0xdc00 && c <= 0xdfff ? 1 : 2;
  }
  return n;
}

function contentTokens(content: unknown, media: number): number {
  if (typeof content === 'string') return utf8Length(content);
  if (!Array.isArray(content)) return content == null ? 0 : utf8Length(JSON.stringify(content));
  let n = 0;
  for (const part of content) {
    if (typeof part === 'string') n += utf8Length(part);
    else if (part && typeof part === 'object') {
      const p = part as Record<string, unknown>;
      if (typeof p.text === 'string') n += utf8Length(p.text);
      else if (typeof p.refusal === 'string') n += utf8Length(p.refusal);
      else n += media;
    }
  }
  return n;
}

/** Upper bound of the input tokens of an OpenAI-shaped chat or embeddings body. */
export function estimateInputTokens(body: Record<string, unknown>): number {
  let n = 0;
  const messages = body.messages;
  if (Array.isArray(messages)) {
    const media = mediaPartTokens(body.model);
    for (const m of messages) {
      if (!m || typeof m !== 'object') continue;
      const msg = m as Record<string, unknown>;
      n += PER_MESSAGE_TOKENS + contentTokens(msg.content, media);
      // Every other field goes upstream too and may be read as input: tool calls, a legacy
      // `function_call`, a name, thinking handed back. Counted as its JSON text, which bounds it.
      for (const field in msg) {
        if (field === 'content' || field === 'role') continue;
        const v = msg[field];
        if (typeof v === 'string') n += utf8Length(v);
        else if (v !== undefined && v !== null) n += utf8Length(JSON.stringify(v));
      }
    }
    // `anthropic_extras`: what /v1/messages keeps of an Anthropic body outside the OpenAI shape
    // (search_result blocks, server tools), sent to Anthropic as it came.
    for (const extra of ['tools', 'functions', 'response_format', 'prediction', 'anthropic_extras'] as const) {
      if (body[extra] !== undefined) n += utf8Length(JSON.stringify(body[extra]));
    }
  }
  const input = body.input;
  if (typeof input === 'string') n += utf8Length(input);
  else if (Array.isArray(input)) {
    for (const item of input) {
      if (typeof item === 'string') n += utf8Length(item);
      else if (typeof item === 'number') n += 1;
      else if (Array.isArray(item)) n += item.length;
    }
  }
  return n;
}

/**
 * The body fields that bound a request's output (a Claude target's thinking budget comes on top of
 * the default limit). A target's `override_params` may set any of them.
 */
export const OUTPUT_FIELDS = ['max_completion_tokens', 'max_tokens', 'n', 'reasoning_effort', 'thinking'] as const;
export type OutputParams = Partial<Record<(typeof OUTPUT_FIELDS)[number], unknown>>;

const positive = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);

/**
 * Output tokens one upstream body may produce. Providers disagree on which limit wins when both are
 * sent (most read `max_completion_tokens` first, OpenAI-compatible servers get both), so the larger
 * one is reserved: that is safe whichever a provider reads.
 */
function outputBound(fields: OutputParams, fallback: number): number {
  const completion = positive(fields.max_completion_tokens);
  const max = positive(fields.max_tokens);
  // Without a limit, Claude (Anthropic, Bedrock) is sent the default plus the thinking budget.
  const per = completion === undefined && max === undefined ? fallback + thinkingBudget(fields) : Math.max(completion ?? 0, max ?? 0);
  const choices = typeof fields.n === 'number' && fields.n > 1 ? fields.n : 1;
  return per * choices;
}

/**
 * The thinking tokens a Claude target adds on top of the default limit when the request sets none:
 * a native `thinking` budget, or the one its `reasoning_effort` maps to.
 */
function thinkingBudget(body: OutputParams): number {
  const thinking = body.thinking as { type?: unknown; budget_tokens?: unknown } | undefined;
  if (thinking && typeof thinking === 'object') return thinking.type === 'enabled' ? (positive(thinking.budget_tokens) ?? 0) : 0;
  const effort = body.reasoning_effort;
  return typeof effort === 'string' ? (THINKING_BUDGET[effort] ?? 0) : 0;
}

/**
 * Output tokens a request may produce: its `max_completion_tokens` / `max_tokens` (× `n`), or
 * `fallback`. Providers send `{ ...body, ...override_params }`, so with `overrides` (the output fields
 * of each target that may serve it, `{}` for a target that forces none) it is the largest over them.
 */
export function maxOutputTokens(body: Record<string, unknown>, fallback: number, overrides: readonly OutputParams[] = []): number {
  if (body.messages === undefined) return 0;
  if (overrides.length === 0) return outputBound(body, fallback);
  const own: OutputParams = {};
  for (const field of OUTPUT_FIELDS) own[field] = body[field];
  let worst = 0;
  // Both limits stay: Claude's translators let a forced max_tokens replace the client's (a smaller
  // bound), OpenAI-compatible servers get both and may read either — the larger is safe for all.
  for (const o of overrides) worst = Math.max(worst, outputBound({ ...own, ...o }, fallback));
  return worst;
}
