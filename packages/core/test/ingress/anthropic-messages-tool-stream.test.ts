/**
 * OpenAI tool-call fragments → Anthropic `tool_use` blocks, for the orders upstreams send them in:
 * call after call (streamed live), interleaved (a call waits until the open one is complete JSON),
 * text arriving inside an unfinished call (held until it completes), and a stream that ends with
 * a call unfinished (everything still goes out, in valid blocks).
 */
import { describe, expect, it } from 'vitest';
import { toAnthropicSse } from '../../src/ingress/anthropic-messages/to-events.js';
import type { ChatCompletionChunk } from '../../src/providers/openai-types.js';
import { GatewayError } from '../../src/errors.js';

type Delta = NonNullable<ChatCompletionChunk['choices'][number]['delta']>;
const chunk = (delta: Delta, finish: string | null = null): ChatCompletionChunk => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const call = (index: number, args: string, start?: { id: string; name: string }): Delta => ({
  tool_calls: [{ index, ...(start ? { id: start.id, type: 'function' } : {}), function: { ...(start ? { name: start.name } : {}), arguments: args } }],
});

interface Event {
  type: string;
  index?: number;
  content_block?: { type: string; id?: string; name?: string };
  delta?: { type: string; partial_json?: string; text?: string };
}

/** The events a list of chunks becomes, each parsed, with the position of the chunk that released it. */
async function events(chunks: ChatCompletionChunk[]): Promise<Array<Event & { after: number }>> {
  let at = -1;
  async function* source() {
    for (const [i, c] of chunks.entries()) {
      at = i;
      yield { chunk: c };
    }
    at = chunks.length;
  }
  const out: Array<Event & { after: number }> = [];
  const sse = toAnthropicSse(source(), { model: 'm', requestId: 'r', onError: () => new GatewayError('internal_error', 'x') });
  for await (const bytes of sse) {
    for (const frame of Buffer.from(bytes).toString().split('\n\n')) {
      const data = /^data: (.*)$/m.exec(frame)?.[1];
      if (data) out.push({ ...(JSON.parse(data) as Event), after: at });
    }
  }
  return out;
}

/** Anthropic's stream rules: blocks numbered in order, one open at a time, deltas only to the open one. */
function check(evs: Event[]): { blocks: Array<{ type: string; id?: string; text: string }> } {
  const blocks: Array<{ type: string; id?: string; text: string }> = [];
  let open: number | undefined;
  for (const e of evs) {
    if (e.type === 'content_block_start') {
      expect(open).toBeUndefined();
      expect(e.index).toBe(blocks.length);
      open = e.index;
      blocks.push({ type: e.content_block!.type, id: e.content_block!.id, text: '' });
    } else if (e.type === 'content_block_delta') {
      expect(e.index).toBe(open);
      blocks[open!]!.text += e.delta!.partial_json ?? e.delta!.text ?? '';
    } else if (e.type === 'content_block_stop') {
      expect(e.index).toBe(open);
      open = undefined;
    }
  }
  expect(open).toBeUndefined();
  return { blocks };
}

const A = { id: 'call_a', name: 'f' };
const B = { id: 'call_b', name: 'g' };

describe('/v1/messages stream: tool calls', () => {
  it('call after call: each streams live, the second starting as soon as it arrives', async () => {
    const evs = await events([chunk(call(0, '', A)), chunk(call(0, '{"x":')), chunk(call(0, '1}')), chunk(call(1, '', B)), chunk(call(1, '{"y":2}')), chunk({}, 'tool_calls')]);
    const { blocks } = check(evs);
    expect(blocks).toEqual([
      { type: 'tool_use', id: 'call_a', text: '{"x":1}' },
      { type: 'tool_use', id: 'call_b', text: '{"y":2}' },
    ]);
    expect(evs.find((e) => e.type === 'content_block_start' && e.index === 1)!.after).toBe(3);
  });

  it('interleaved: the second call waits until the first is complete, then goes out with what it collected', async () => {
    const evs = await events([
      chunk(call(0, '', A)),
      chunk(call(1, '', B)),
      chunk(call(0, '{"x":')),
      chunk(call(1, '{"y":')),
      chunk(call(0, '1}')),
      chunk(call(1, '2}')),
      chunk({}, 'tool_calls'),
    ]);
    const { blocks } = check(evs);
    expect(blocks.map((b) => [b.id, JSON.parse(b.text)])).toEqual([
      ['call_a', { x: 1 }],
      ['call_b', { y: 2 }],
    ]);
    // Released when call 0 completed (chunk 4), not held to the end.
    expect(evs.find((e) => e.type === 'content_block_start' && e.index === 1)!.after).toBe(4);
  });

  it('text inside an unfinished call is held until the call completes, and none of it is lost', async () => {
    const evs = await events([chunk(call(0, '{"x":', A)), chunk({ content: 'Hello ' }), chunk({ content: 'there' }), chunk(call(0, '1}')), chunk({}, 'tool_calls')]);
    const { blocks } = check(evs);
    expect(blocks).toEqual([
      { type: 'tool_use', id: 'call_a', text: '{"x":1}' },
      { type: 'text', id: undefined, text: 'Hello there' },
    ]);
  });

  it('a stream that ends inside a call still sends every call and fragment, in valid blocks', async () => {
    const evs = await events([chunk(call(0, '{"x":', A)), chunk(call(1, '{"y":2}', B)), chunk(call(0, '1'))]);
    const { blocks } = check(evs);
    expect(blocks.map((b) => [b.id, b.text])).toEqual([
      ['call_a', '{"x":1'],
      ['call_b', '{"y":2}'],
    ]);
    expect(evs.at(-1)!.type).toBe('message_stop');
  });
});
