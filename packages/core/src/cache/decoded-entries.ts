import { copyJson, unlessTooDeep } from './copy-json.js';
import { ownEntry, parseEntryText, type ParsedEntry, type ReadEntry } from './entry.js';
import { StoredStream } from './replay.js';

/**
 * A fresh entry from a kept one, sharing nothing a caller could change: a stream replays from the
 * texts and trees kept of it (a `StoredStream` hands out neither), anything else is a copy.
 */
function copyOf({ entry, answerText, stream }: Known): ReadEntry {
  let out: ReadEntry;
  if (entry.kind === 'completion') out = { v: 1, createdAt: entry.createdAt, kind: 'completion', completion: copyJson(entry.completion) };
  else if (stream) out = { v: 1, createdAt: entry.createdAt, kind: 'stream', replay: stream };
  else if (entry.kind === 'stream') out = { v: 1, createdAt: entry.createdAt, kind: 'stream', chunks: copyJson(entry.chunks) };
  else out = { v: 1, createdAt: entry.createdAt, kind: 'embeddings', embeddings: copyJson(entry.embeddings) };
  if (entry.provider !== undefined) out.provider = entry.provider;
  if (entry.target !== undefined) out.target = entry.target;
  if (entry.cost !== undefined) out.cost = entry.cost;
  return out.kind === 'completion' ? ownEntry(out, answerText) : out;
}

/** What is kept of a parsed entry: its stream's chunk texts made once, here, for the hits that follow. */
function toKeep(parsed: ParsedEntry, text: string): Known {
  return parsed.entry.kind === 'stream' ? { ...parsed, text, stream: new StoredStream(parsed.entry.chunks) } : { ...parsed, text };
}

interface Known extends ParsedEntry {
  text: string;
  stream?: StoredStream;
}

/**
 * The entries last read under each key, parsed: a hit on a text read before is a copy of its tree
 * instead of a parse (JSON.parse of a 300-byte completion took ~4 µs, the copy ~1 µs), or for a
 * stream a replay of the texts kept of its chunks (see `StoredStream`). The store stays
 * the truth: a key's memo counts only while the store gives back the very text it was parsed from, so
 * a refresh, an overwrite or an eviction is seen on the next read. Bounded by text length, oldest
 * first out; an entry too large to keep is parsed on every read, as before.
 */
export class DecodedEntries {
  private readonly byKey = new Map<string, Known>();
  private chars = 0;

  constructor(
    /** Total text length of the entries kept. Default 4 Mi characters. */
    private readonly maxChars = 4 * 1024 * 1024,
    /** Longest text kept. Default 256 Ki characters. */
    private readonly maxEntryChars = 256 * 1024,
  ) {}

  /** `decodeEntry(text)` for what the store holds under `key`: a fresh entry, or undefined for anything unreadable. */
  decode(key: string, text: unknown): ReadEntry | undefined {
    if (typeof text !== 'string') return undefined;
    const known = this.byKey.get(key);
    if (known !== undefined) {
      const copy = known.text === text ? unlessTooDeep(() => copyOf(known)) : undefined;
      if (copy) return copy;
      this.forget(key, known);
    }
    const parsed = parseEntryText(text);
    if (!parsed) return undefined;
    // An entry nested too deeply to copy or serialise by recursion is not kept: parsed on every read.
    const kept = text.length <= this.maxEntryChars ? unlessTooDeep(() => toKeep(parsed, text)) : undefined;
    const copy = kept && unlessTooDeep(() => copyOf(kept));
    if (kept && copy) {
      this.keep(key, kept);
      return copy;
    }
    // Not kept: the parsed tree is the caller's own.
    return ownEntry(parsed.entry, parsed.answerText);
  }

  private keep(key: string, known: Known): void {
    this.byKey.set(key, known);
    this.chars += known.text.length;
    for (const [oldKey, old] of this.byKey) {
      if (this.chars <= this.maxChars) break;
      this.forget(oldKey, old);
    }
  }

  private forget(key: string, known: Known): void {
    this.byKey.delete(key);
    this.chars -= known.text.length;
  }
}
