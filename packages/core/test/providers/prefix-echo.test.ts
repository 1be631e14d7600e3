import { describe, expect, it } from 'vitest';
import { createPassthroughTranslator } from '../../src/providers/openai-compatible/translate.js';
import { dropEchoedPrefill, prefillOf, withoutEchoedPrefill } from '../../src/providers/openai-compatible/prefix-echo.js';
import type { ChatCompletion, ChatRequest } from '../../src/providers/openai-types.js';

const delta = (content: string, finish: string | null = null) =>
  JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: finish }] });

function streamed(prefill: string, parts: string[]): string {
  const t = withoutEchoedPrefill(createPassthroughTranslator('mistral'), prefill);
  const outs = [...parts.map((p, i) => t.push({ data: delta(p, i === parts.length - 1 ? 'stop' : null) })), t.push({ data: '[DONE]' }), t.end()].flat();
  return outs.map((o) => o.chunk.choices[0]?.delta.content ?? '').join('');
}

describe("a prefill the service echoes (Mistral's prefix: true)", () => {
  it('is the last assistant turn sent with prefix: true and some text', () => {
    const body = (last: Record<string, unknown>) => ({ model: 'm', messages: [{ role: 'user', content: 'q' }, last] }) as unknown as ChatRequest;
    expect(prefillOf(body({ role: 'assistant', content: '{"a": ', prefix: true }))).toBe('{"a": ');
    expect(prefillOf(body({ role: 'assistant', content: '{"a": ' }))).toBeUndefined();
    expect(prefillOf(body({ role: 'user', content: 'x', prefix: true }))).toBeUndefined();
  });

  it('comes off a non-stream answer only when the answer starts with it', () => {
    const answer = (content: string) => ({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }) as unknown as ChatCompletion;
    const echoed = answer('{"city": "Paris"}');
    expect(dropEchoedPrefill(echoed, '{"city": ')).toBe(true);
    expect(echoed.choices[0]!.message.content).toBe('"Paris"}');
    const plain = answer('"Paris"}');
    expect(dropEchoedPrefill(plain, '{"city": ')).toBe(false);
    expect(plain.choices[0]!.message.content).toBe('"Paris"}');
  });

  it('comes off a stream whose echo arrives in several deltas, and nothing else is lost', () => {
    expect(streamed('{"city": ', ['{"ci', 'ty": "Par', 'is"}'])).toBe('"Paris"}');
    expect(streamed('{"city": ', ['{"city": ', '"Paris"}'])).toBe('"Paris"}');
    // No echo: every delta as sent.
    expect(streamed('{"city": ', ['"Paris"}'])).toBe('"Paris"}');
    // Starts like the echo, then is not: what was held back goes out with it.
    expect(streamed('{"city": ', ['{"ci', 'tizen": 1}'])).toBe('{"citizen": 1}');
  });
});
