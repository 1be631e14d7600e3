import { createParser } from 'eventsource-parser';
import type { StreamFraming, UpstreamEvent } from '../providers/types.js';
import { concatBytes } from '../http/bytes.js';
import { GatewayError } from '../errors.js';

export interface EventDecoder {
  push(bytes: Uint8Array): UpstreamEvent[];
  end(): UpstreamEvent[];
}

const decoders: Partial<Record<StreamFraming, () => EventDecoder>> = {
  sse: createSseDecoder,
};

/** Lets providers with binary framings (Bedrock's AWS event-stream) register their decoder. */
export function registerDecoder(framing: StreamFraming, factory: () => EventDecoder): void {
  decoders[framing] = factory;
}

export function createDecoder(framing: StreamFraming): EventDecoder {
  const factory = decoders[framing];
  if (!factory) throw new Error(`no stream decoder for ${framing}`);
  return factory();
}

/** How many leading bytes form whole UTF-8 characters; the rest (at most 3) wait for the next read. */
export function completeUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return size > back ? n - back : n;
  }
  // Only continuation bytes at the end: malformed either way, let the decoder replace them.
  return n;
}

/**
 * The most characters one SSE event (or an unfinished line) may hold: a chunk is a few hundred bytes,
 * a whole answer at most a few MB. Past it the stream is the provider's failure, not unbounded memory.
 */
export const MAX_EVENT_CHARS = 16 * 1024 * 1024;

/**
 * One decoder for every stream's reads (building one costs ~4 µs), never in streaming mode, so reads of
 * concurrent streams share no state. It keeps a U+FEFF where it stands: the default decoder drops one
 * at the start of every call, and so of every network read — a zero-width no-break space that a read
 * began with vanished from the answer. The stream's own byte-order mark is dropped once, below.
 */
const readDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * SSE per the WHATWG spec via eventsource-parser: handles CRLF (Gemini), `:` comments (OpenRouter)
 * and events split across TCP chunks. A character split across two reads is held back here rather
 * than by a streaming decoder per stream.
 */
export function createSseDecoder(): EventDecoder {
  /** Bytes of a character the last read ended inside. */
  let tail: Uint8Array | undefined;
  let started = false;
  const decode = (bytes: Uint8Array): string => {
    const all = tail ? concatBytes([tail, bytes], tail.length + bytes.length) : bytes;
    const whole = completeUtf8(all);
    tail = whole < all.length ? all.slice(whole) : undefined;
    const text = readDecoder.decode(whole === all.length ? all : all.subarray(0, whole));
    if (started || text === '') return text;
    started = true;
    // A byte-order mark opens the stream at most (the SSE spec drops it there, and only there).
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  let out: UpstreamEvent[] = [];
  let overflowed = false;
  const parser = createParser({
    onEvent(ev) {
      out.push(ev.event === undefined ? { data: ev.data } : { event: ev.event, data: ev.data });
    },
    onError(e) {
      if (e.type === 'max-buffer-size-exceeded') overflowed = true;
    },
    maxBufferSize: MAX_EVENT_CHARS,
  });
  const fed = (text: string) => {
    if (!overflowed) parser.feed(text);
    if (overflowed) {
      throw new GatewayError('provider_error', `the upstream sent a stream event of more than ${MAX_EVENT_CHARS} characters`, { source: 'provider' });
    }
  };
  return {
    push(bytes) {
      fed(decode(bytes));
      const events = out;
      out = [];
      return events;
    },
    end() {
      const rest = tail ? readDecoder.decode(tail) : '';
      tail = undefined;
      // A final event without its blank line still counts: some servers close right after the last `data:`.
      // It is marked, as the body may also have been cut inside it.
      fed(rest + '\n\n');
      for (const ev of out) ev.final = true;
      const events = out;
      out = [];
      return events;
    },
  };
}
