import { jsonTextOf, rememberJsonText } from '../http/json-text.js';
import type { ChatCompletion, ChatCompletionChunk, EmbeddingsResponse } from '../providers/openai-types.js';
import type { StoredStream } from './replay.js';

/**
 * One stored answer, as JSON text. A stream is kept as its chunks (replayed chunk by chunk, tool-call
 * fragments and usage included); a non-stream answer as the completion. Either serves both kinds of
 * request: `pipeline/chat.ts` converts between them. An embeddings answer is kept as it was sent.
 */
export type CacheEntry = EntryHead &
  ({ kind: 'completion'; completion: ChatCompletion } | { kind: 'stream'; chunks: ChatCompletionChunk[]; replay?: undefined } | { kind: 'embeddings'; embeddings: EmbeddingsResponse });

interface EntryHead {
  v: 1;
  /** ms since the epoch, by the cache's clock; `max_age` is checked against it on every read. */
  createdAt: number;
  provider?: string;
  target?: string;
  /** USD the original call cost, when known: what a hit saves. */
  cost?: number;
}

/**
 * An entry as the cache stage reads it: a stream entry read before comes as the `StoredStream` kept
 * of it (`DecodedEntries`), replayed from its chunks' texts. Never stored: `encodeEntry` takes the
 * entries the stage builds from answers.
 */
export type ReadEntry = CacheEntry | (EntryHead & { kind: 'stream'; chunks?: undefined; replay: StoredStream });

/** Where a completion entry's answer starts: always its last member, after the fields of the head. */
const COMPLETION = ',"completion":';

/** The members every entry starts with, written out one by one (see `encodeEntry`), without the closing brace. */
function headText(entry: CacheEntry): string {
  // A rest-destructured copy of the entry has a slow map and cost more than the rest of the encoding.
  // `provider` and `target` are config names, still escaped.
  let head = `{"v":${entry.v},"createdAt":${entry.createdAt}`;
  if (entry.provider !== undefined) head += `,"provider":${JSON.stringify(entry.provider)}`;
  if (entry.target !== undefined) head += `,"target":${JSON.stringify(entry.target)}`;
  if (entry.cost !== undefined) head += `,"cost":${JSON.stringify(entry.cost)}`;
  return head;
}

/**
 * A completion is written last, as the upstream's own text when the gateway still has it: a hit can
 * then send those bytes again without serialising the answer (see `http/json-text.ts`). A stream is
 * written from `chunkTexts` when given — its chunks' JSON texts as the client was sent them
 * (`stream/encode.ts`' `chunkText`): the same text, without serialising every chunk's tree again
 * (~0.4 µs a chunk; the chunks are still each parsed, to check the stream is complete).
 */
export function encodeEntry(entry: CacheEntry, chunkTexts?: readonly string[]): string {
  if (entry.kind === 'completion') {
    return `${headText(entry)},"kind":"completion"${COMPLETION}${jsonTextOf(entry.completion) ?? JSON.stringify(entry.completion)}}`;
  }
  if (entry.kind === 'stream' && chunkTexts) return `${headText(entry)},"kind":"stream","chunks":[${chunkTexts.join(',')}]}`;
  return JSON.stringify(entry);
}

/** A parsed entry, with the text of its completion when it was laid out as `encodeEntry` writes it. */
export interface ParsedEntry {
  entry: CacheEntry;
  answerText?: string;
}

/**
 * A completion entry as its head and its answer's text, each parsed on its own so the answer's text
 * is known; anything else (or an entry laid out differently) is parsed whole. A `"` inside a JSON
 * string is always escaped, so the first `,"completion":` is the member itself.
 */
function parseEntry(text: string): { value: unknown; answerText?: string } {
  const at = text.indexOf(COMPLETION);
  if (at !== -1 && text.endsWith('}')) {
    try {
      const head = JSON.parse(`${text.slice(0, at)}}`) as Record<string, unknown>;
      const answerText = text.slice(at + COMPLETION.length, -1);
      head.completion = JSON.parse(answerText);
      return { value: head, answerText };
    } catch {
      // Not laid out as `encodeEntry` writes it: parse it whole.
    }
  }
  return { value: JSON.parse(text) };
}

/** An entry's text parsed and checked; undefined for anything that is not a well-formed entry of this version. */
export function parseEntryText(text: unknown): ParsedEntry | undefined {
  if (typeof text !== 'string') return undefined;
  let parsed: { value: unknown; answerText?: string };
  try {
    parsed = parseEntry(text);
  } catch {
    return undefined;
  }
  const entry = checked(parsed.value);
  if (!entry) return undefined;
  return parsed.answerText === undefined ? { entry } : { entry, answerText: parsed.answerText };
}

/** A parsed entry handed over as it is: its completion leaves as the stored text unless changed (see http/json-text.ts). */
export function ownEntry(entry: CacheEntry, answerText?: string): CacheEntry {
  if (answerText !== undefined && entry.kind === 'completion') rememberJsonText(entry.completion, answerText);
  return entry;
}

/** Undefined for anything that is not a well-formed entry of this version (a foreign or corrupt value is a miss). */
export function decodeEntry(text: unknown): CacheEntry | undefined {
  const parsed = parseEntryText(text);
  return parsed && ownEntry(parsed.entry, parsed.answerText);
}

function checked(value: unknown): CacheEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const e = value as Partial<CacheEntry> & { completion?: unknown; chunks?: unknown; embeddings?: unknown };
  if (e.v !== 1 || typeof e.createdAt !== 'number') return undefined;
  if (e.kind === 'completion') {
    const c = e.completion as ChatCompletion | undefined;
    return c && typeof c === 'object' && Array.isArray(c.choices) ? (e as CacheEntry) : undefined;
  }
  if (e.kind === 'stream') {
    const chunks = e.chunks;
    return Array.isArray(chunks) && chunks.length > 0 && chunks.every((c) => typeof c === 'object' && c !== null) ? (e as CacheEntry) : undefined;
  }
  if (e.kind === 'embeddings') {
    const r = e.embeddings as EmbeddingsResponse | undefined;
    return r && typeof r === 'object' && Array.isArray(r.data) && r.data.length > 0 && r.data.every(isEmbedding) ? (e as CacheEntry) : undefined;
  }
  return undefined;
}

/** An embeddings item as the OpenAI SDK reads it: a numeric index and a vector (floats, or base64 text). */
export function isEmbedding(item: unknown): item is EmbeddingsResponse['data'][number] {
  if (typeof item !== 'object' || item === null) return false;
  const { index, embedding } = item as { index?: unknown; embedding?: unknown };
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) return false;
  // The first number stands for the rest: checking every float of a large batch on each hit costs more than it guards.
  return typeof embedding === 'string' || (Array.isArray(embedding) && (embedding.length === 0 || typeof embedding[0] === 'number'));
}

/** A stream is worth keeping only if it ended with a finish reason on every choice it opened. */
export function isCompleteStream(chunks: ChatCompletionChunk[]): boolean {
  const open = new Set<number>();
  const finished = new Set<number>();
  for (const chunk of chunks) {
    for (const c of chunk.choices ?? []) {
      open.add(c.index);
      if (c.finish_reason) finished.add(c.index);
    }
  }
  return open.size > 0 && [...open].every((i) => finished.has(i));
}
