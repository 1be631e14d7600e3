import { bytesToBase64 } from '../http/bytes.js';
import type { EmbeddingsResponse } from './openai-types.js';

/**
 * Float32 little-endian bytes in base64 — what OpenAI returns for `encoding_format: "base64"`, which
 * the official SDK asks for by default and decodes itself. Providers that only return floats use this.
 */
export function embeddingToBase64(vector: number[]): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return bytesToBase64(new Uint8Array(view.buffer));
}

/**
 * An answer for a client that asked for `encoding_format: "base64"` (the openai SDK's default, which it
 * decodes): every vector still a float array becomes base64. Most providers only return floats (Cohere,
 * Gemini, Titan), and some OpenAI-compatible servers ignore the format (Mistral, LM Studio) — decoding
 * their arrays gave all-zero vectors, without an error.
 */
export function withBase64Vectors(answer: EmbeddingsResponse): EmbeddingsResponse {
  for (const item of answer.data ?? []) {
    const v: unknown = item.embedding;
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) item.embedding = embeddingToBase64(v);
  }
  return answer;
}
