import type { ChatCompletion, ChatRequest } from '../openai-types.js';
import type { ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';

/**
 * Mistral continues a trailing assistant turn sent with `prefix: true` (a prefill) by repeating it at
 * the start of its answer. A prefill's caller — an Anthropic client, or an OpenAI one — expects the
 * answer to continue after it, so the echo is taken off (only when the answer does start with it).
 */
export function prefillOf(body: ChatRequest): string | undefined {
  const last = body.messages.at(-1) as { role?: string; prefix?: unknown; content?: unknown } | undefined;
  return last?.role === 'assistant' && last.prefix === true && typeof last.content === 'string' && last.content ? last.content : undefined;
}

/** The non-stream answer without the echoed prefill; returns whether it changed anything. */
export function dropEchoedPrefill(completion: ChatCompletion, prefill: string): boolean {
  let changed = false;
  for (const choice of Array.isArray(completion?.choices) ? completion.choices : []) {
    const m = choice?.message;
    if (typeof m?.content === 'string' && m.content.startsWith(prefill)) {
      m.content = m.content.slice(prefill.length);
      changed = true;
    }
  }
  return changed;
}

/**
 * The stream without the echoed prefill: the first content deltas are held back while they match it
 * (its echo may come in several), then the rest goes on. Should the answer not start with it, what was
 * held back goes out with the delta that showed it, so nothing is lost.
 */
export function withoutEchoedPrefill(inner: StreamTranslator, prefill: string): StreamTranslator {
  let expected = prefill;
  let held = '';
  let done = false;
  const strip = (outs: ChunkOut[]): ChunkOut[] => {
    if (done) return outs;
    return outs.map((out) => {
      const choice = done ? undefined : out.chunk.choices[0];
      const content = choice?.delta.content;
      if (typeof content !== 'string' || content === '') return out;
      let rest: string;
      if (expected.startsWith(content)) {
        expected = expected.slice(content.length);
        held += content;
        rest = '';
        if (!expected) done = true;
      } else {
        done = true;
        rest = content.startsWith(expected) ? content.slice(expected.length) : held + content;
      }
      // A changed chunk goes out re-serialised: its upstream text no longer says what it holds.
      return { chunk: { ...out.chunk, choices: [{ ...choice!, delta: { ...choice!.delta, content: rest } }, ...out.chunk.choices.slice(1)] } };
    });
  };
  return {
    push: (ev: UpstreamEvent) => strip(inner.push(ev)),
    end: () => strip(inner.end()),
  };
}
