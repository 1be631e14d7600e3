import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { fixtureBytes } from './fixtures.js';
import type { MockReply } from './mock-upstream.js';

/** AWS event-stream frames (Bedrock ConverseStream) of a recording, decoded, and re-encoded with valid CRCs once edited. */
const codec = new EventStreamCodec(toUtf8, fromUtf8);

export interface Frame {
  event: string;
  body: Record<string, unknown>;
}

export function framesOf(path: string): Frame[] {
  const buf = fixtureBytes(path);
  const frames: Frame[] = [];
  for (let at = 0; at < buf.length; at += buf.readUInt32BE(at)) {
    const m = codec.decode(new Uint8Array(buf.subarray(at, at + buf.readUInt32BE(at))));
    frames.push({ event: String(m.headers[':event-type']!.value), body: JSON.parse(toUtf8(m.body)) });
  }
  return frames;
}

/** A mock upstream reply that streams `frames`, one chunk each. */
export function eventStream(frames: Frame[]): MockReply {
  const bytes = frames.map((f) =>
    codec.encode({
      headers: {
        ':event-type': { type: 'string', value: f.event },
        ':content-type': { type: 'string', value: 'application/json' },
        ':message-type': { type: 'string', value: 'event' },
      },
      body: fromUtf8(JSON.stringify(f.body)),
    }),
  );
  return { headers: { 'content-type': 'application/vnd.amazon.eventstream' }, chunks: bytes };
}
