import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { GatewayError } from '../../errors.js';
import type { EventDecoder } from '../../stream/decode.js';
import type { UpstreamEvent } from '../types.js';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** Prelude (total length, headers length, prelude CRC) plus the trailing message CRC. */
const MIN_FRAME = 16;

function toEvent(frame: Uint8Array): UpstreamEvent {
  let message;
  try {
    // Verifies both CRCs: a corrupted frame is an error, not garbage handed to the translator.
    message = codec.decode(frame);
  } catch (e) {
    throw new GatewayError('provider_error', `bedrock sent a malformed event-stream frame: ${(e as Error).message}`, {
      provider: 'bedrock',
      source: 'provider',
      cause: e,
    });
  }
  const headers: Record<string, string> = {};
  for (const [name, h] of Object.entries(message.headers)) headers[name] = String(h.value);
  const event = headers[':event-type'] ?? headers[':exception-type'];
  const data = toUtf8(message.body);
  return event === undefined ? { data, headers } : { event, data, headers };
}

/**
 * AWS event-stream (`application/vnd.amazon.eventstream`) → one event per binary frame. TCP chunks
 * cut frames anywhere, so bytes are kept until a whole frame (its length is in the first 4 bytes) is in.
 */
export function createEventStreamDecoder(): EventDecoder {
  let buf: Uint8Array = new Uint8Array(0);
  return {
    push(bytes) {
      if (buf.length) {
        const joined = new Uint8Array(buf.length + bytes.length);
        joined.set(buf);
        joined.set(bytes, buf.length);
        buf = joined;
      } else {
        buf = bytes;
      }
      const events: UpstreamEvent[] = [];
      let offset = 0;
      while (buf.length - offset >= 4) {
        const view = new DataView(buf.buffer, buf.byteOffset + offset);
        const total = view.getUint32(0);
        if (total < MIN_FRAME) {
          throw new GatewayError('provider_error', `bedrock sent an event-stream frame of impossible length ${total}`, { provider: 'bedrock', source: 'provider' });
        }
        if (buf.length - offset < total) break;
        events.push(toEvent(buf.subarray(offset, offset + total)));
        offset += total;
      }
      // Copy the remainder: keeping a view would pin the whole chunk it came from.
      buf = offset === buf.length ? new Uint8Array(0) : buf.slice(offset);
      return events;
    },
    end() {
      if (buf.length) {
        const left = buf.length;
        buf = new Uint8Array(0);
        throw new GatewayError('stream_interrupted', `bedrock closed the stream inside a frame (${left} bytes of it arrived)`, { provider: 'bedrock' });
      }
      return [];
    },
  };
}
