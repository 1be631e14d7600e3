/**
 * One long-lived signal serving many calls (`gateway.chatStream(body, { signal })`, a worker's
 * shutdown signal): each call links to it while it runs and lets go when it is over — for a stream,
 * when the stream ends, not at some later garbage collection (listeners piled up until then, and
 * Node warned past 10).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createGateway } from '@llmux/core';

const body = { model: 'mock-1', messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('a long-lived caller signal', () => {
  it('holds no listener after streams that were read to the end, cut short by the reader, or answered whole', async () => {
    const gateway = createGateway({ logger: false, config: { targets: [{ provider: 'mock' }] } });
    const shared = new AbortController();
    for (let i = 0; i < 12; i++) {
      let text = '';
      for await (const chunk of gateway.chatStream(body, { signal: shared.signal })) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).toContain('mock response');
    }
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    for (let i = 0; i < 12; i++) {
      for await (const _chunk of gateway.chatStream(body, { signal: shared.signal })) break;
    }
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    for (let i = 0; i < 12; i++) await gateway.chat(body, { signal: shared.signal });
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    await gateway.close();
  });

  it('still stops a stream in flight when it aborts', async () => {
    const gateway = createGateway({ logger: false, config: { targets: [{ provider: 'mock' }] } });
    const shared = new AbortController();
    const stream = gateway.chatStream({ ...body, messages: [{ role: 'user', content: 'x '.repeat(200) }] }, { signal: shared.signal });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    expect(getEventListeners(shared.signal, 'abort').length).toBeGreaterThan(0);
    shared.abort();
    await expect((async () => { for (;;) if ((await it.next()).done) return 'ended'; })()).rejects.toBeTruthy();
    await gateway.close();
  });
});
