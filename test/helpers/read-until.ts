import { expect } from 'vitest';

/** Reads a streamed response until `needle` has arrived (failing if it ends first); the reader is left open for the caller. */
export async function readUntil(res: Response, needle: string): Promise<{ received: string; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let received = '';
  while (!received.includes(needle)) {
    const { value, done } = await reader.read();
    expect(done).toBe(false);
    received += decoder.decode(value, { stream: true });
  }
  return { received, reader };
}
