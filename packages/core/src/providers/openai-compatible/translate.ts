import { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk } from '../openai-types.js';
import type { ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';

/**
 * OpenAI-style SSE passes through: each `data:` payload is parsed once (for usage, errors and
 * fail-over) and re-sent byte for byte via `raw` unless a later stage changes it.
 */
export function createPassthroughTranslator(provider: string): StreamTranslator {
  let done = false;
  let finished = false;
  return {
    push(ev: UpstreamEvent): ChunkOut[] {
      const data = ev.data;
      if (data === '[DONE]') {
        done = true;
        return [];
      }
      let chunk: ChatCompletionChunk & { error?: { message?: string; code?: unknown; type?: string } };
      try {
        chunk = JSON.parse(data);
      } catch {
        throw new GatewayError('provider_error', `${provider} sent a stream event that is not JSON`, { provider, status: 502 });
      }
      // OpenRouter and Groq report failures inside a 200 stream as `data: {"error": …}`.
      if (chunk.error) {
        const code = chunk.error.code;
        throw new GatewayError('provider_error', chunk.error.message ?? `${provider} stream error`, {
          provider,
          status: typeof code === 'number' && code >= 400 && code < 600 ? code : 502,
          providerCode: typeof code === 'string' ? code : null,
        });
      }
      if (ev.event === 'error') {
        throw new GatewayError('provider_error', `${provider} stream error: ${data.slice(0, 300)}`, { provider });
      }
      const choices = chunk.choices;
      if (choices) for (const c of choices) if (c.finish_reason) finished = true;
      return [{ chunk, raw: data }];
    },
    end(): ChunkOut[] {
      if (!done && !finished) {
        throw new GatewayError('stream_interrupted', `${provider} closed the stream before it finished`, { provider });
      }
      return [];
    },
  };
}
