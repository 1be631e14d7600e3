import type { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk, Usage } from '../../providers/openai-types.js';
import { toStopReason } from '../../providers/anthropic/stop-reason.js';
import { toAnthropicUsage } from '../../providers/anthropic/usage.js';
import type { ChunkOut } from '../../providers/types.js';
import { anthropicErrorBody } from './errors.js';
import { messageId } from './to-message.js';
import { utf8Bytes } from '../../http/bytes.js';

const sse = (type: string, data: unknown) => utf8Bytes(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);

type Open = { kind: 'text' | 'thinking' | 'tool'; index: number };

/**
 * OpenAI chunks → Anthropic's event sequence. Anthropic blocks are strictly sequential, so a change
 * of kind (reasoning → text → tool call) closes the open block and starts the next; each OpenAI
 * tool-call index keeps the block it opened, so argument fragments land on the right `tool_use`.
 */
class EventWriter {
  private started = false;
  private open: Open | undefined;
  private next = 0;
  private readonly tools = new Map<number, number>();
  private stop: string | null = null;
  /** OpenAI streams a refusal in `delta.refusal`: it goes out as text, and the stop reason says so. */
  private refused = false;
  private usage: Usage | undefined;

  constructor(private readonly model: string) {}

  private begin(chunk: ChatCompletionChunk, out: Uint8Array[]): void {
    if (this.started) return;
    this.started = true;
    const message = {
      id: messageId(chunk.id),
      type: 'message',
      role: 'assistant',
      model: chunk.model || this.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    };
    out.push(sse('message_start', { type: 'message_start', message }));
  }

  private close(out: Uint8Array[]): void {
    if (!this.open) return;
    out.push(sse('content_block_stop', { type: 'content_block_stop', index: this.open.index }));
    this.open = undefined;
  }

  private ensure(kind: 'text' | 'thinking', out: Uint8Array[]): number {
    if (this.open?.kind === kind) return this.open.index;
    this.close(out);
    const index = this.next++;
    const block = kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: block }));
    this.open = { kind, index };
    return index;
  }

  chunk(chunk: ChatCompletionChunk): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.begin(chunk, out);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.find((c) => c.index === 0);
    const d = choice?.delta;
    if (d?.reasoning_content) {
      const index = this.ensure('thinking', out);
      out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: d.reasoning_content } }));
    }
    if (typeof d?.content === 'string' && d.content) {
      const index = this.ensure('text', out);
      out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: d.content } }));
    }
    if (typeof d?.refusal === 'string' && d.refusal) {
      this.refused = true;
      const index = this.ensure('text', out);
      out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: d.refusal } }));
    }
    for (const call of d?.tool_calls ?? []) {
      const key = call.index ?? this.tools.size;
      let index = this.tools.get(key);
      if (index === undefined) {
        this.close(out);
        index = this.next++;
        this.tools.set(key, index);
        const block = { type: 'tool_use', id: call.id || `toolu_${crypto.randomUUID().replace(/-/g, '')}`, name: call.function?.name ?? '', input: {} };
        out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: block }));
        this.open = { kind: 'tool', index };
      }
      const args = call.function?.arguments;
      if (args) out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args } }));
    }
    if (choice?.finish_reason) this.stop = choice.finish_reason;
    return out;
  }

  end(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.started) this.begin({ id: '', object: 'chat.completion.chunk', created: 0, model: this.model, choices: [] }, out);
    this.close(out);
    out.push(sse('message_delta', { type: 'message_delta', delta: { stop_reason: this.refused ? 'refusal' : toStopReason(this.stop), stop_sequence: null }, usage: toAnthropicUsage(this.usage) }));
    out.push(sse('message_stop', { type: 'message_stop' }));
    return out;
  }
}

/**
 * The stream `/v1/messages` sends: with `upstreamEvents` (an Anthropic target), the upstream's own
 * events byte for byte, released as the chunks they produced arrive; otherwise events built from
 * the OpenAI chunks. A failure after the start ends with Anthropic's `event: error`, which the
 * Anthropic SDKs raise.
 */
export async function* toAnthropicSse(
  chunks: AsyncIterable<ChunkOut>,
  opts: { model: string; requestId: string; onError: (e: unknown) => GatewayError; upstreamEvents?: () => string },
): AsyncGenerator<Uint8Array, void, undefined> {
  const writer = new EventWriter(opts.model);
  const relay = opts.upstreamEvents;
  try {
    for await (const out of chunks) {
      if (relay) {
        const text = relay();
        if (text) yield utf8Bytes(text);
      } else {
        for (const bytes of writer.chunk(out.chunk)) yield bytes;
      }
    }
  } catch (e) {
    yield sse('error', anthropicErrorBody(opts.onError(e), opts.requestId));
    return;
  }
  if (!relay) for (const bytes of writer.end()) yield bytes;
  else {
    // `message_stop` and anything else after the last chunk.
    const rest = relay();
    if (rest) yield utf8Bytes(rest);
  }
}
