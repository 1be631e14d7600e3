import { THINKING_BUDGET } from '../providers/anthropic/translate-request.js';

/**
 * A cheap upper bound on a request's input tokens, without a tokenizer: byte-level BPE tokenizers
 * (OpenAI, Llama, Claude, Gemini) never make a token of less than one UTF-8 byte, so the UTF-8 length
 * of the text never undercounts. It overcounts English about 4×: budgets reserve more than they
 * settle, never less. Images count a fixed amount each; audio and files are bounded by their bytes
 * (a PDF by its pages, see `fileTokens`).
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

/**
 * Text tokens per PDF page: Anthropic's PDF guide gives 1,500–3,000 per page "depending on content
 * density", and bills each page also as an image (at most ~1,600 tokens there; counted here as one
 * media part on top). Gemini (a page as one image) and OpenAI (a page's text and image) stay below.
 */
export const PDF_PAGE_TEXT_TOKENS = 3_000;
/** The most pages any provider reads from one PDF (Gemini's 1,000; Anthropic and OpenAI take 100). */
const PDF_MAX_PAGES = 1_000;
/**
 * Audio by its length in bytes: Gemini's 32 tokens per second is the highest documented rate, and no
 * codec a provider takes packs a second in under 750 bytes (Opus at its lowest, 6 kbit/s).
 */
const AUDIO_TOKENS_PER_SECOND = 32;
const AUDIO_MIN_BYTES_PER_SECOND = 750;

/** Bytes a base64 text decodes to, without decoding it. */
function base64Bytes(b64: string): number {
  let pad = 0;
  while (pad < 2 && b64.charCodeAt(b64.length - 1 - pad) === 61 /* = */) pad++;
  return Math.max(0, Math.floor((b64.length * 3) / 4) - pad);
}

const audioTokens = (bytes: number): number => Math.ceil((bytes * AUDIO_TOKENS_PER_SECOND) / AUDIO_MIN_BYTES_PER_SECOND);

/** A page object (`/Type /Page`, not the `/Pages` tree nodes), or an object stream that may hide some. */
const PAGE_OR_OBJECT_STREAM = /\/Type\s*\/(Page|ObjStm)(?![^\s()<>[\]{}\/%])/g;
/** The object count of an object stream's dictionary; `/N` followed by a number is no other key. */
const OBJECT_COUNT = /\/N\s+(\d+)/;
/** How far around `/Type /ObjStm` its dictionary's keys are looked for. */
const DICT_REACH = 256;

/**
 * Pages of a PDF, at most: its page objects, plus every object packed in a compressed object stream
 * (PDF 1.5 files hide their page objects there; the stream's dictionary says how many it holds).
 * One decode and one scan, linear in the file's size.
 */
function pdfPages(b64: string): number {
  let bytes: string;
  try {
    bytes = atob(b64);
  } catch {
    return 1;
  }
  let pages = 0;
  for (const m of bytes.matchAll(PAGE_OR_OBJECT_STREAM)) {
    if (m[1] === 'Page') pages++;
    else {
      // Its dictionary, from the object header to the `stream` keyword; looked for only nearby, so
      // a file of many such names without either keyword cannot make the scan quadratic.
      const near = bytes.slice(Math.max(m.index - DICT_REACH, 0), m.index + DICT_REACH);
      const at = Math.min(m.index, DICT_REACH);
      const end = near.indexOf('stream', at);
      const dict = near.slice(Math.max(near.lastIndexOf('obj', at), 0), end < 0 ? undefined : end);
      pages += Number(OBJECT_COUNT.exec(dict)?.[1] ?? PDF_MAX_PAGES);
    }
    if (pages >= PDF_MAX_PAGES) return PDF_MAX_PAGES;
  }
  return Math.max(pages, 1);
}

/**
 * An OpenAI `file` part: a PDF is its pages, each text plus an image (`media`); audio and video go by
 * their bytes like `input_audio`; text and other documents by their bytes, which bound their tokens.
 * A file sent by id only has no size here and counts as one media part.
 */
function fileTokens(file: unknown, media: number): number {
  const data = (file as { file_data?: unknown } | null)?.file_data;
  if (typeof data !== 'string') return media;
  let type = '';
  let payload = data;
  if (data.startsWith('data:')) {
    const comma = data.indexOf(',');
    const header = data.slice(5, comma < 0 ? 0 : comma).toLowerCase();
    payload = data.slice(comma + 1);
    // Percent-encoded text: at most one byte per character.
    if (!header.endsWith(';base64')) return utf8Length(payload);
    type = header.slice(0, header.indexOf(';'));
  }
  // The PDF magic `%PDF` is `JVBER` in base64: raw base64 without a type is taken for a PDF by it.
  if (type === 'application/pdf' || (type === '' && payload.startsWith('JVBER'))) return pdfPages(payload) * (PDF_PAGE_TEXT_TOKENS + media);
  if (type.startsWith('image/')) return media;
  const bytes = base64Bytes(payload);
  return type.startsWith('audio/') ? audioTokens(bytes) : bytes;
}

/** A non-text part: images count a fixed `media`, audio and files by their size. */
function mediaTokens(p: Record<string, unknown>, media: number): number {
  if (p.type === 'file') return fileTokens(p.file, media);
  if (p.type === 'input_audio') {
    const data = (p.input_audio as { data?: unknown } | null)?.data;
    return typeof data === 'string' ? audioTokens(base64Bytes(data)) : media;
  }
  return media;
}

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

function contentTokens(content: unknown, model: unknown): number {
  if (typeof content === 'string') return utf8Length(content);
  if (!Array.isArray(content)) return content == null ? 0 : utf8Length(JSON.stringify(content));
  let n = 0;
  for (const part of content) {
    if (typeof part === 'string') n += utf8Length(part);
    else if (part && typeof part === 'object') {
      const p = part as Record<string, unknown>;
      if (typeof p.text === 'string') n += utf8Length(p.text);
      else if (typeof p.refusal === 'string') n += utf8Length(p.refusal);
      // Per media part: text-only requests, nearly all of them, never test the model's name.
      else n += mediaTokens(p, mediaPartTokens(model));
    }
  }
  return n;
}

/** Upper bound of the input tokens of an OpenAI-shaped chat or embeddings body. */
export function estimateInputTokens(body: Record<string, unknown>): number {
  let n = 0;
  const messages = body.messages;
  if (Array.isArray(messages)) {
    for (const m of messages) {
      if (!m || typeof m !== 'object') continue;
      const msg = m as Record<string, unknown>;
      n += PER_MESSAGE_TOKENS + contentTokens(msg.content, body.model);
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
  // Own keys only: "constructor" or "toString" would find Object.prototype's functions and make the bound NaN.
  return typeof effort === 'string' && Object.hasOwn(THINKING_BUDGET, effort) ? THINKING_BUDGET[effort]! : 0;
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
