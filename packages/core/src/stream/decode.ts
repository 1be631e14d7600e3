import { createParser } from 'eventsource-parser';
import type { StreamFraming, UpstreamEvent } from '../providers/types.js';

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

/**
 * SSE per the WHATWG spec via eventsource-parser: handles CRLF (Gemini), `:` comments (OpenRouter)
 * and events split across TCP chunks.
 */
export function createSseDecoder(): EventDecoder {
  const text = new TextDecoder();
  let out: UpstreamEvent[] = [];
  const parser = createParser({
    onEvent(ev) {
      out.push(ev.event === undefined ? { data: ev.data } : { event: ev.event, data: ev.data });
    },
  });
  return {
    push(bytes) {
      parser.feed(text.decode(bytes, { stream: true }));
      const events = out;
      out = [];
      return events;
    },
    end() {
      const rest = text.decode();
      // A final event without its blank line still counts: some servers close right after the last `data:`.
      parser.feed(rest + '\n\n');
      const events = out;
      out = [];
      return events;
    },
  };
}
