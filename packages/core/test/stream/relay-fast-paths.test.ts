import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../../../../test/helpers/fixtures.js';
import { createPassthroughTranslator, isPlainDelta } from '../../src/providers/openai-compatible/translate.js';
import { completeUtf8, createSseDecoder } from '../../src/stream/decode.js';
import type { UpstreamEvent } from '../../src/providers/types.js';

/** Every OpenAI-style SSE fixture (the passthrough translator's input). */
function sseFixtures(): Array<{ name: string; text: string }> {
  const out: Array<{ name: string; text: string }> = [];
  for (const dir of ['openai', 'azure', 'deepseek', 'groq', 'mistral', 'openrouter', 'xai']) {
    let files: string[] = [];
    try {
      files = readdirSync(join(FIXTURES, dir));
    } catch {
      continue;
    }
    for (const f of files) if (f.endsWith('.sse')) out.push({ name: `${dir}/${f}`, text: readFileSync(join(FIXTURES, dir, f), 'utf8') });
  }
  return out;
}

const events = (text: string): UpstreamEvent[] => {
  const d = createSseDecoder();
  return [...d.push(new TextEncoder().encode(text)), ...d.end()];
};

describe('SSE decoding with one shared decoder', () => {
  it('keeps characters split across reads whole, at every split point', () => {
    const text = 'data: {"c":"héllo → 世界 🙂 ok"}\n\ndata: {"c":"ünïcödé 🎉"}\n\n';
    const bytes = new TextEncoder().encode(text);
    const whole = events(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = createSseDecoder();
      const got = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut)), ...d.end()];
      expect(got).toEqual(whole);
    }
    // One byte per read.
    const d = createSseDecoder();
    const got: UpstreamEvent[] = [];
    for (const b of bytes) got.push(...d.push(Uint8Array.of(b)));
    got.push(...d.end());
    expect(got).toEqual(whole);
    expect(got.map((e) => JSON.parse(e.data).c)).toEqual(['héllo → 世界 🙂 ok', 'ünïcödé 🎉']);
  });

  it('counts only whole characters as complete', () => {
    const emoji = new TextEncoder().encode('a🙂');
    expect(completeUtf8(emoji)).toBe(5);
    expect(completeUtf8(emoji.subarray(0, 4))).toBe(1);
    expect(completeUtf8(emoji.subarray(0, 2))).toBe(1);
    expect(completeUtf8(new TextEncoder().encode('ab'))).toBe(2);
    expect(completeUtf8(new Uint8Array())).toBe(0);
  });

  it('a truncated character at the very end becomes a replacement character, not an error', () => {
    const d = createSseDecoder();
    const bytes = new TextEncoder().encode('data: x🙂');
    // Marked `final`: it came without its closing blank line, so translators parse it rather than relay it.
    expect([...d.push(bytes.subarray(0, bytes.length - 1)), ...d.end()]).toEqual([{ data: 'x\uFFFD', final: true }]);
  });
});

describe('plain deltas relayed without parsing', () => {
  const base = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m",';

  it('recognises a plain content delta, with or without OpenAI\'s "usage":null', () => {
    expect(isPlainDelta(`${base}"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`)).toBe(true);
    expect(isPlainDelta(`${base}"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"x"}`)).toBe(true);
  });

  it('never takes for plain a chunk that finishes, carries usage or an error, or needs normalizing', () => {
    const notPlain = [
      `${base}"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
      // Two choices, one of them finished.
      `${base}"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null},{"index":1,"delta":{},"finish_reason":"stop"}]}`,
      `${base}"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
      `${base}"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}],"usage":{"prompt_tokens":1}}`,
      `${base}"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}],"error":{"message":"x"}}`,
      `${base}"choices":[{"index":0,"delta":{"tool_calls":[{"id":"t","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`,
      `${base}"choices":[{"index":0,"delta":{"reasoning":"hmm"},"finish_reason":null}]}`,
      `${base}"choices":[{"index":0,"delta":{"content":[{"type":"text","text":"a"}]},"finish_reason":null}]}`,
      // Spaced JSON: not recognised, parsed as before.
      `{"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": null}]}`,
      `${base}"choices":[{"index":0,"delta":{"content":"a"}}]}`,
    ];
    for (const data of notPlain) expect(isPlainDelta(data), data).toBe(false);
  });

  it('every recorded OpenAI-style stream translates to the same chunks and raw text as a full parse', () => {
    const fixtures = sseFixtures();
    expect(fixtures.length).toBeGreaterThan(5);
    let plain = 0;
    for (const { name, text } of fixtures) {
      const translator = createPassthroughTranslator('test');
      let outs;
      try {
        outs = events(text).flatMap((ev) => translator.push(ev));
      } catch (e) {
        // Only a recorded error stream may throw here (its replay is covered by the fixture tests).
        expect(text, `${name}: ${(e as Error).message}`).toMatch(/"error"|event: error/);
        continue;
      }
      for (const out of outs) {
        if (out.plain) {
          plain++;
          const parsed = JSON.parse(out.raw!);
          expect(out.chunk, name).toEqual(parsed);
          expect(parsed.usage ?? undefined, name).toBeUndefined();
          expect(parsed.choices.every((c: { finish_reason: unknown }) => c.finish_reason === null), name).toBe(true);
        }
      }
    }
    expect(plain).toBeGreaterThan(20);
  });
});

describe('holding a stream back until its first content, without parsing plain deltas', () => {
  it('releases at the first non-empty content, not at the role chunk', async () => {
    const { holdBack } = await import('../../src/stream/hold-back.js');
    const translator = createPassthroughTranslator('test');
    const base = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":';
    const frames = [
      `${base}{"role":"assistant","content":""},"finish_reason":null}]}`,
      `${base}{"content":"\\"Hi"},"finish_reason":null}]}`,
      `${base}{"content":" there"},"finish_reason":null}]}`,
    ];
    let reads = 0;
    async function* batches() {
      for (const f of frames) {
        reads++;
        yield translator.push({ data: f });
      }
    }
    const held = await holdBack(batches());
    // The role chunk alone does not release it; the escaped-quote content does.
    expect(reads).toBe(2);
    const out = [];
    for await (const c of held) out.push(c.chunk.choices[0]!.delta.content);
    expect(out).toEqual(['', '"Hi', ' there']);
  });

  it('counts content in any choice of a plain delta (n = 2), without parsing it', async () => {
    const { holdBack } = await import('../../src/stream/hold-back.js');
    const translator = createPassthroughTranslator('test', 2);
    const two = (a: string, b: string) =>
      `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${a}"},"finish_reason":null},{"index":1,"delta":{"content":"${b}"},"finish_reason":null}]}`;
    let reads = 0;
    async function* batches() {
      for (const f of [two('', ''), two('', 'Hi'), two('!', ' there')]) {
        reads++;
        const outs = translator.push({ data: f });
        for (const o of outs) expect(o.plain).toBe(true);
        yield outs;
      }
    }
    // The second choice's first word releases the stream, though the first choice is still empty.
    const held = await holdBack(batches());
    expect(reads).toBe(2);
    const texts = [];
    for await (const c of held) texts.push(c.chunk.choices.map((x) => x.delta.content).join('|'));
    expect(texts).toEqual(['|', '|Hi', '!| there']);
    // And once that went out the answer has begun: a later in-stream error that carries usage relays
    // that usage (billed) before failing, rather than failing as if nothing had been sent.
    const error = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"error":{"message":"overloaded","code":502},"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}';
    const [usageOut] = translator.push({ data: error });
    expect(usageOut!.chunk.usage).toEqual({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
    expect(() => translator.push({ data: '[DONE]' })).toThrow('overloaded');
  });
});
