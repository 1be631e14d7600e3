import type { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk, Usage } from '../../providers/openai-types.js';
import { toStopReason } from '../../providers/anthropic/stop-reason.js';
import { stopSequenceOf } from '../../providers/stop-sequence.js';
import { toAnthropicUsage } from '../../providers/anthropic/usage.js';
import { withCacheCreationTokens } from '../../cost/token-counts.js';
import type { ChunkOut } from '../../providers/types.js';
import { anthropicErrorBody } from './errors.js';
import { messageId, withCalls } from './to-message.js';
import { utf8Bytes } from '../../http/bytes.js';

const sse = (type: string, data: unknown) => utf8Bytes(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);

type Open = { kind: 'text' | 'thinking' | 'tool'; index: number; call?: ToolCall };

/** What goes into blocks other than tool calls, in the order it arrived. */
type Piece = { kind: 'text' | 'thinking'; text: string } | { kind: 'signature'; signature: string } | { kind: 'redacted'; data: string };

/**
 * Signed and redacted thinking arrive as `thinking_blocks` deltas (Bedrock, Anthropic translators):
 * Claude needs both back next turn. Their thinking text came as `reasoning_content` already.
 */
function thinkingPieces(blocks: unknown): Piece[] {
  if (!Array.isArray(blocks)) return [];
  return blocks.flatMap((b: { type?: unknown; signature?: unknown; data?: unknown }): Piece[] => {
    if (b?.type === 'thinking' && typeof b.signature === 'string' && b.signature) return [{ kind: 'signature', signature: b.signature }];
    if (b?.type === 'redacted_thinking' && typeof b.data === 'string') return [{ kind: 'redacted', data: b.data }];
    return [];
  });
}

/** One OpenAI tool call (by its `index`) on its way to a `tool_use` block. */
interface ToolCall {
  id: string;
  name: string;
  args: string;
  state: 'waiting' | 'open' | 'closed';
}

function lastNonSpace(text: string): string | undefined {
  let i = text.length - 1;
  while (i >= 0 && /\s/.test(text[i]!)) i--;
  return text[i];
}

/**
 * Arguments that already parse are a whole JSON value: nothing valid can follow, the call is done.
 * Arguments are an object, so only a text ending in `}` is tried: checked on each fragment while
 * another call waits, a parse of every prefix would cost the square of the arguments' length.
 */
function complete(args: string): boolean {
  if (!args) return false;
  if (/^\s*\{/.test(args) && lastNonSpace(args) !== '}') return false;
  try {
    JSON.parse(args);
    return true;
  } catch {
    return false;
  }
}

/**
 * OpenAI chunks → Anthropic's event sequence. Anthropic blocks are strictly sequential, so a change
 * of kind (reasoning → text → tool call) closes the open block and starts the next.
 *
 * OpenAI tool calls are told apart by `index`, and a provider may interleave their argument
 * fragments (0, 1, 0, 1…), while a `tool_use` block, once stopped, takes no more deltas. So a second
 * call starts its block only once the open call's arguments are a complete JSON value (the usual
 * call-after-call stream keeps streaming live); until then it waits, collecting its fragments, and
 * goes out whole when the open call completes or the message ends.
 */
class EventWriter {
  private started = false;
  private open: Open | undefined;
  private next = 0;
  private readonly tools = new Map<number, ToolCall>();
  private readonly waiting: ToolCall[] = [];
  private readonly held: Piece[] = [];
  private stop: string | null = null;
  /** OpenAI streams a refusal in `delta.refusal`: it goes out as text, and the stop reason says so. */
  private refused = false;
  private usage: Usage | undefined;
  /** The finishing choice, for a stop at a stop sequence (see `providers/stop-sequence.ts`). */
  private finishing: Record<string, unknown> | undefined;

  constructor(
    private readonly model: string,
    private readonly stopSequences?: string[],
  ) {}

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
    if (this.open.call) this.open.call.state = 'closed';
    this.open = undefined;
  }

  /** Opens `call`'s block, with what it collected while it waited. */
  private startTool(call: ToolCall, out: Uint8Array[]): void {
    this.close(out);
    const index = this.next++;
    call.state = 'open';
    const block = { type: 'tool_use', id: call.id || `toolu_${crypto.randomUUID().replace(/-/g, '')}`, name: call.name, input: {}, caller: { type: 'direct' } };
    out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: block }));
    if (call.args) out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: call.args } }));
    this.open = { kind: 'tool', index, call };
  }

  /** Whether a new block may start now: no tool call is open, or the open one is complete. */
  private toolDone(): boolean {
    const call = this.open?.call;
    return !call || call.state === 'closed' || complete(call.args);
  }

  private startWaiting(out: Uint8Array[]): void {
    // Checked first: completeness parses the open call's arguments, which need not happen per fragment.
    if ((!this.held.length && !this.waiting.length) || !this.toolDone()) return;
    const held = this.held.splice(0);
    for (const h of held) this.piece(h, out);
    while (this.waiting.length && this.toolDone()) this.startTool(this.waiting.shift()!, out);
  }

  /** Text, reasoning or a thinking block's end; held back while a tool call is open with its arguments unfinished (its block would have to stop). */
  private piece(p: Piece, out: Uint8Array[]): void {
    if (!this.toolDone()) {
      this.held.push(p);
      return;
    }
    if (p.kind === 'redacted') {
      this.close(out);
      const index = this.next++;
      out.push(sse('content_block_start', { type: 'content_block_start', index, content_block: { type: 'redacted_thinking', data: p.data } }));
      out.push(sse('content_block_stop', { type: 'content_block_stop', index }));
      return;
    }
    if (p.kind === 'signature') {
      const index = this.ensure('thinking', out);
      out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: p.signature } }));
      // The signature covers this block's thinking only: later reasoning is a block of its own.
      this.close(out);
      return;
    }
    const index = this.ensure(p.kind, out);
    const delta = p.kind === 'text' ? { type: 'text_delta', text: p.text } : { type: 'thinking_delta', thinking: p.text };
    out.push(sse('content_block_delta', { type: 'content_block_delta', index, delta }));
  }

  private toolFragment(call: NonNullable<NonNullable<ChatCompletionChunk['choices'][number]['delta']>['tool_calls']>[number], out: Uint8Array[]): void {
    const key = call.index ?? this.tools.size;
    const args = call.function?.arguments ?? '';
    let tool = this.tools.get(key);
    // Some servers (Ollama, SGLang) give every parallel call index 0: another id there is another call,
    // and fragments without an id belong to the latest.
    if (tool?.id && call.id && call.id !== tool.id) tool = undefined;
    if (!tool) {
      tool = { id: call.id ?? '', name: call.function?.name ?? '', args, state: 'waiting' };
      this.tools.set(key, tool);
      if (this.waiting.length || !this.toolDone()) this.waiting.push(tool);
      else this.startTool(tool, out);
      return;
    }
    if (tool.state === 'waiting') {
      tool.id ||= call.id ?? '';
      tool.name ||= call.function?.name ?? '';
      tool.args += args;
      return;
    }
    // A stopped block's arguments were complete JSON (blocks stop early for nothing else), so what
    // follows can only be whitespace.
    if (tool.state === 'closed' || !args) return;
    tool.args += args;
    out.push(sse('content_block_delta', { type: 'content_block_delta', index: this.open!.index, delta: { type: 'input_json_delta', partial_json: args } }));
    this.startWaiting(out);
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
    if (d?.reasoning_content) this.piece({ kind: 'thinking', text: d.reasoning_content }, out);
    for (const p of thinkingPieces(d?.thinking_blocks)) this.piece(p, out);
    if (typeof d?.content === 'string' && d.content) this.piece({ kind: 'text', text: d.content }, out);
    if (typeof d?.refusal === 'string' && d.refusal) {
      this.refused = true;
      this.piece({ kind: 'text', text: d.refusal }, out);
    }
    for (const call of d?.tool_calls ?? []) this.toolFragment(call, out);
    if (choice?.finish_reason) {
      this.stop = choice.finish_reason;
      this.finishing = choice;
    }
    return out;
  }

  end(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (!this.started) this.begin({ id: '', object: 'chat.completion.chunk', created: 0, model: this.model, choices: [] }, out);
    // The stream is over: whatever waited goes out now, complete or not.
    if (this.open?.call) this.close(out);
    this.startWaiting(out);
    for (const call of this.waiting.splice(0)) this.startTool(call, out);
    this.close(out);
    const atSequence = stopSequenceOf(this.finishing, this.stopSequences);
    const stopReason = this.refused ? 'refusal' : atSequence.stopped ? 'stop_sequence' : toStopReason(withCalls(this.stop, this.tools.size > 0));
    out.push(sse('message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: atSequence.sequence }, usage: toAnthropicUsage(withCacheCreationTokens(this.usage)) }));
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
  opts: { model: string; requestId: string; onError: (e: unknown) => GatewayError; upstreamEvents?: () => string; stopSequences?: string[] },
): AsyncGenerator<Uint8Array, void, undefined> {
  const writer = new EventWriter(opts.model, opts.stopSequences);
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
