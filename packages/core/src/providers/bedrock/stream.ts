import { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk, ChunkDelta, FinishReason } from '../openai-types.js';
import type { CallContext, ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';
import type { ConverseUsage } from './converse-types.js';
import { streamException } from './errors.js';
import { finishReason } from './finish-reason.js';
import { withStopSequence } from '../stop-sequence.js';
import { completionId } from './response.js';
import { toUsage } from './usage.js';

interface BlockStart {
  contentBlockIndex?: number;
  start?: { toolUse?: { toolUseId: string; name: string } };
}

interface BlockDelta {
  contentBlockIndex?: number;
  delta?: {
    text?: string;
    toolUse?: { input?: string };
    reasoningContent?: { text?: string; signature?: string; redactedContent?: string };
  };
}

function parse<T>(ev: UpstreamEvent): T {
  try {
    return JSON.parse(ev.data) as T;
  } catch {
    throw new GatewayError('provider_error', `bedrock sent a ${ev.event ?? 'stream'} event that is not JSON`, { provider: 'bedrock', source: 'provider' });
  }
}

/**
 * ConverseStream events → OpenAI chunks. State: the OpenAI index of each tool-use block (Bedrock
 * numbers all blocks, OpenAI only tool calls) and whether any of its input went out yet, whether
 * `messageStop` came, and the usage that `metadata` brings last. The random `p` padding field of
 * every payload is never read.
 */
export function createConverseStreamTranslator(ctx: CallContext): StreamTranslator {
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const tools = new Map<number, { index: number; sent: boolean }>();
  let stopped = false;
  const chunk = (delta: ChunkDelta, finish: FinishReason = null): ChunkOut => {
    const c: ChatCompletionChunk = { id, object: 'chat.completion.chunk', created, model: ctx.model, choices: [{ index: 0, delta, finish_reason: finish }] };
    return { chunk: c };
  };
  const toolOf = (block: number | undefined) => {
    const key = block ?? -1;
    let tool = tools.get(key);
    if (!tool) tools.set(key, (tool = { index: tools.size, sent: false }));
    return tool;
  };
  /**
   * Claude's no-argument calls arrive as an empty input fragment or none at all; OpenAI sends `{}`
   * for them, and clients JSON.parse the assembled arguments, so a call that got nothing gets `{}`.
   */
  const closeTool = (block: number | undefined): ChunkOut[] => {
    const tool = tools.get(block ?? -1);
    if (!tool || tool.sent) return [];
    tool.sent = true;
    return [chunk({ tool_calls: [{ index: tool.index, function: { arguments: '{}' } }] })];
  };

  return {
    push(ev: UpstreamEvent): ChunkOut[] {
      const kind = ev.headers?.[':message-type'];
      if (kind === 'exception' || kind === 'error') throw streamException(ev.headers ?? {}, ev.data);
      switch (ev.event) {
        case 'messageStart':
          return [chunk({ role: 'assistant', content: '' })];
        case 'contentBlockStart': {
          const { contentBlockIndex, start } = parse<BlockStart>(ev);
          const tool = start?.toolUse;
          if (!tool) return [];
          const { index } = toolOf(contentBlockIndex);
          return [chunk({ tool_calls: [{ index, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] })];
        }
        case 'contentBlockDelta': {
          const { contentBlockIndex, delta } = parse<BlockDelta>(ev);
          if (typeof delta?.text === 'string') return delta.text ? [chunk({ content: delta.text })] : [];
          if (delta?.toolUse) {
            const input = delta.toolUse.input ?? '';
            if (!input) return [];
            const tool = toolOf(contentBlockIndex);
            tool.sent = true;
            return [chunk({ tool_calls: [{ index: tool.index, function: { arguments: input } }] })];
          }
          const r = delta?.reasoningContent;
          if (r?.text) return [chunk({ reasoning_content: r.text })];
          // Signatures and redacted thinking go out as `thinking_blocks` so a client can send them back.
          if (r?.signature) return [chunk({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: r.signature }] })];
          if (r?.redactedContent) return [chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: r.redactedContent }] })];
          return [];
        }
        case 'contentBlockStop':
          return closeTool(parse<{ contentBlockIndex?: number }>(ev).contentBlockIndex);
        case 'messageStop': {
          stopped = true;
          const { stopReason, additionalModelResponseFields: fields } = parse<{ stopReason?: string; additionalModelResponseFields?: { stop_sequence?: unknown } }>(ev);
          return [withStopSequence(chunk({}, finishReason(stopReason)), stopReason === 'stop_sequence', fields?.stop_sequence)];
        }
        case 'metadata': {
          const usage = toUsage(parse<{ usage?: ConverseUsage }>(ev).usage);
          if (!usage) return [];
          return [{ chunk: { id, object: 'chat.completion.chunk', created, model: ctx.model, choices: [], usage } }];
        }
        default:
          // Event types added later carry nothing a chat client needs.
          return [];
      }
    },
    end(): ChunkOut[] {
      if (!stopped) throw new GatewayError('stream_interrupted', 'bedrock closed the stream before messageStop', { provider: 'bedrock', source: 'provider' });
      return [];
    },
  };
}
