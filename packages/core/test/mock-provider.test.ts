import { describe, expect, it } from 'vitest';
import { createGateway } from '@llmux/core';

const gateway = () => createGateway({ config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }] } });

describe('mock provider', () => {
  it('answers deterministically, echoing the prompt, with usage', async () => {
    const gw = gateway();
    const a = await gw.chat({ model: 'any', messages: [{ role: 'user', content: 'Hello there' }] });
    const b = await gw.chat({ model: 'any', messages: [{ role: 'user', content: 'Hello there' }] });
    expect(a.choices[0]!.message.content).toContain('Hello there');
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(a.model).toBe('mock-1');
    expect(a.usage!.total_tokens).toBeGreaterThan(0);
  });

  it('streams word by word and the chunks add up to the non-stream answer', async () => {
    const gw = gateway();
    const full = await gw.chat({ model: 'any', messages: [{ role: 'user', content: 'stream me please' }] });
    let text = '';
    let pieces = 0;
    for await (const chunk of gw.chatStream({ model: 'any', messages: [{ role: 'user', content: 'stream me please' }] })) {
      const delta = chunk.choices[0]?.delta.content;
      if (delta) (text += delta), pieces++;
    }
    expect(text).toBe(full.choices[0]!.message.content);
    expect(pieces).toBeGreaterThan(3);
  });

  it('gives the same 64-dimension embedding as floats and as base64', async () => {
    const gw = gateway();
    const call = async (encoding_format?: string) => {
      const res = await gw.handle({ method: 'POST', path: '/v1/embeddings', headers: {}, body: { model: 'e', input: 'hello world', ...(encoding_format ? { encoding_format } : {}) } });
      return (res.body as { data: Array<{ embedding: number[] | string }> }).data[0]!.embedding;
    };
    const floats = (await call()) as number[];
    const b64 = (await call('base64')) as string;
    const decoded = Array.from(new Float32Array(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer));
    expect(floats).toHaveLength(64);
    expect(decoded).toHaveLength(64);
    decoded.forEach((v, i) => expect(v).toBeCloseTo(floats[i]!, 5));
  });
});
