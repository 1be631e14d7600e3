import type { ChunkOut } from '../providers/types.js';
import type { GatewayError } from '../errors.js';

const encoder = new TextEncoder();

export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Stops nginx and similar proxies from buffering the stream.
  'x-accel-buffering': 'no',
};

export const DONE = encoder.encode('data: [DONE]\n\n');

export function encodeChunk(out: ChunkOut): Uint8Array {
  return encoder.encode(`data: ${out.raw ?? JSON.stringify(out.chunk)}\n\n`);
}

/** The OpenAI SDK raises on a `data:` object with an `error` key, so a broken stream can never look complete. */
export function encodeStreamError(error: GatewayError): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(error.toJSON())}\n\n`);
}

/** OpenAI chat SSE: chunks, then `[DONE]` only when the upstream finished; an error event otherwise. */
export async function* toOpenAISse(
  chunks: AsyncIterable<ChunkOut>,
  onError: (e: unknown) => GatewayError,
): AsyncGenerator<Uint8Array> {
  try {
    for await (const out of chunks) yield encodeChunk(out);
  } catch (e) {
    yield encodeStreamError(onError(e));
    return;
  }
  yield DONE;
}
