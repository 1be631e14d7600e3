import { rebuildable } from './tool-use-fields.js';
import { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk, ChunkDelta, FinishReason } from '../openai-types.js';
import type { ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';
import { streamError } from './error.js';
import { survivesTranslation, toFinishReason } from './stop-reason.js';
import { withStopSequence } from '../stop-sequence.js';
import { JSON_TOOL } from './translate-tools.js';
import { toOpenAIUsage } from './usage.js';
import type { AnthropicUsage } from './wire-types.js';

/** What one content block turns into: text, reasoning, a client tool call, the JSON-answer tool, or nothing. */
type Block =
  | { kind: 'text' | 'thinking' | 'other' }
  | { kind: 'tool'; toolIndex: number; sent: boolean; input: unknown }
  | { kind: 'json'; sent: boolean };

interface Event {
  type?: string;
  index?: number;
  message?: { id?: string; model?: string; usage?: AnthropicUsage };
  content_block?: { type?: string; id?: string; name?: string; input?: unknown; text?: string; thinking?: string; data?: string };
  delta?: { type?: string; text?: string; thinking?: string; signature?: string; partial_json?: string; stop_reason?: string | null; stop_sequence?: string | null };
  usage?: AnthropicUsage;
}

const hasKeys = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length > 0;

/**
 * Anthropic's named SSE events → OpenAI chunks. The state is small: the message id and model, the
 * kind of each open block, the OpenAI index of each tool call (Anthropic numbers all blocks, OpenAI
 * only tool calls), and the usage, which arrives in two halves (input at the start, output at the end).
 */
export function createAnthropicStreamTranslator(opts: { jsonTool: boolean; provider?: string; onDropped?: () => void }): StreamTranslator {
  const provider = opts.provider ?? 'anthropic';
  const created = Math.floor(Date.now() / 1000);
  let id = '';
  let model = '';
  let usage: AnthropicUsage = {};
  const blocks = new Map<number, Block>();
  let tools = 0;
  let jsonAnswered = false;
  /**
   * With the json tool on, text is held back until the message ends: if the tool answers, its input is
   * the whole answer and the text (often a sentence Claude writes before the call) is dropped; if not,
   * the text goes out then. Text + JSON would not parse.
   */
  let heldText: string | undefined;
  let done = false;

  const chunk = (delta: ChunkDelta, finish: FinishReason | null = null): ChunkOut => ({
    chunk: { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }] },
  });
  /** OpenAI's convention: id, type and name on a call's first delta only, then argument fragments under its index. */
  const toolHead = (toolIndex: number, id: string, name: string) =>
    chunk({ tool_calls: [{ index: toolIndex, id, type: 'function', function: { name, arguments: '' } }] });
  const toolArgs = (toolIndex: number, args: string) => chunk({ tool_calls: [{ index: toolIndex, function: { arguments: args } }] });

  function start(ev: Event): ChunkOut[] {
    const cb = ev.content_block ?? {};
    const index = ev.index ?? blocks.size;
    switch (cb.type) {
      case 'text':
        blocks.set(index, { kind: 'text' });
        return cb.text ? text(cb.text) : [];
      case 'thinking':
        blocks.set(index, { kind: 'thinking' });
        return cb.thinking ? [chunk({ reasoning_content: cb.thinking })] : [];
      case 'redacted_thinking':
        // Encrypted reasoning arrives whole; the client must send it back next turn, as non-stream keeps it.
        blocks.set(index, { kind: 'other' });
        return cb.data ? [chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: cb.data }] })] : [];
      case 'tool_use': {
        if (opts.jsonTool && cb.name === JSON_TOOL) {
          blocks.set(index, { kind: 'json', sent: false });
          jsonAnswered = true;
          heldText = undefined;
          return [];
        }
        if (!rebuildable(cb)) opts.onDropped?.();
        const block = { kind: 'tool' as const, toolIndex: tools++, sent: false, input: cb.input };
        blocks.set(index, block);
        return [toolHead(block.toolIndex, cb.id ?? '', cb.name ?? '')];
      }
      default:
        // Server-tool blocks: nothing for the client to run, and nothing an OpenAI chunk can hold.
        opts.onDropped?.();
        blocks.set(index, { kind: 'other' });
        return [];
    }
  }

  function text(t: string): ChunkOut[] {
    if (!opts.jsonTool) return [chunk({ content: t })];
    if (!jsonAnswered) heldText = (heldText ?? '') + t;
    return [];
  }

  function delta(ev: Event): ChunkOut[] {
    const block = blocks.get(ev.index ?? -1);
    const d = ev.delta ?? {};
    if (!block) return [];
    if (d.type === 'citations_delta') opts.onDropped?.();
    if (d.type === 'text_delta' && block.kind === 'text' && d.text) return text(d.text);
    if (d.type === 'thinking_delta' && block.kind === 'thinking' && d.thinking) return [chunk({ reasoning_content: d.thinking })];
    // The signature is what lets the client hand this thinking back with its tool results (Bedrock's stream does the same).
    if (d.type === 'signature_delta' && block.kind === 'thinking' && d.signature) {
      return [chunk({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: d.signature }] })];
    }
    if (d.type === 'input_json_delta' && d.partial_json) {
      if (block.kind === 'tool') {
        block.sent = true;
        return [toolArgs(block.toolIndex, d.partial_json)];
      }
      if (block.kind === 'json') {
        block.sent = true;
        return [chunk({ content: d.partial_json })];
      }
    }
    return [];
  }

  /** A tool whose input arrived whole (or empty) still gets its arguments, as OpenAI sends `{}` for no-argument calls. */
  function stop(ev: Event): ChunkOut[] {
    const block = blocks.get(ev.index ?? -1);
    if (block?.kind === 'tool' && !block.sent) return [toolArgs(block.toolIndex, hasKeys(block.input) ? JSON.stringify(block.input) : '{}')];
    if (block?.kind === 'json' && !block.sent) return [chunk({ content: '{}' })];
    return [];
  }

  function finish(ev: Event): ChunkOut[] {
    for (const [k, v] of Object.entries(ev.usage ?? {})) if (v !== null && v !== undefined) usage[k] = v;
    const reason = ev.delta?.stop_reason;
    if (!survivesTranslation(reason)) opts.onDropped?.();
    const finishReason = reason === 'tool_use' && jsonAnswered && tools === 0 ? 'stop' : toFinishReason(reason);
    const last: ChatCompletionChunk = { id, object: 'chat.completion.chunk', created, model, choices: [], usage: toOpenAIUsage(usage) };
    const held = heldText === undefined ? [] : [chunk({ content: heldText })];
    heldText = undefined;
    return [...held, withStopSequence(chunk({}, finishReason), reason === 'stop_sequence', ev.delta?.stop_sequence), { chunk: last }];
  }

  return {
    push(ev: UpstreamEvent): ChunkOut[] {
      let data: Event;
      try {
        data = JSON.parse(ev.data) as Event;
      } catch {
        throw new GatewayError('provider_error', `${provider} sent a stream event that is not JSON`, { provider, source: 'provider' });
      }
      switch (data.type ?? ev.event) {
        case 'message_start':
          id = data.message?.id ?? id;
          model = data.message?.model ?? model;
          usage = { ...data.message?.usage };
          return [chunk({ role: 'assistant', content: '' })];
        case 'content_block_start':
          return start(data);
        case 'content_block_delta':
          return delta(data);
        case 'content_block_stop':
          return stop(data);
        case 'message_delta':
          return finish(data);
        case 'message_stop':
          done = true;
          return [];
        case 'error':
          throw streamError(ev.data, provider);
        default:
          // `ping` and event types newer than this translator carry nothing for an OpenAI client.
          return [];
      }
    },
    end(): ChunkOut[] {
      if (!done) throw new GatewayError('stream_interrupted', `${provider} closed the stream before message_stop`, { provider, source: 'provider' });
      return [];
    },
  };
}
