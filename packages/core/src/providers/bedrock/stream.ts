import { GatewayError } from '../../errors.js';
import type { ChatCompletionChunk, ChunkDelta, FinishReason } from '../openai-types.js';
import type { CallContext, ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';
import type { ConverseUsage } from './converse-types.js';
import { streamException } from './errors.js';
import { finishReason } from './finish-reason.js';
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
 * numbers all blocks, OpenAI only tool calls), whether `messageStop` came, and the usage that
 * `metadata` brings last. The random `p` padding field of every payload is never read.
 */
export function createConverseStreamTranslator(ctx: CallContext): StreamTranslator {
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const toolIndex = new Map<number, number>();
  let stopped = false;
  const chunk = (delta: ChunkDelta, finish: FinishReason = null): ChunkOut => {
    const c: ChatCompletionChunk = { id, object: 'chat.completion.chunk', created, model: ctx.model, choices: [{ index: 0, delta, finish_reason: finish }] };
    return { chunk: c };
  };
  const toolIndexOf = (block: number | undefined): number => {
    const key = block ?? -1;
    let index = toolIndex.get(key);
    if (index === undefined) toolIndex.set(key, (index = toolIndex.size));
    return index;
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
          const index = toolIndexOf(contentBlockIndex);
          return [chunk({ tool_calls: [{ index, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] })];
        }
        case 'contentBlockDelta': {
          const { contentBlockIndex, delta } = parse<BlockDelta>(ev);
          if (typeof delta?.text === 'string') return delta.text ? [chunk({ content: delta.text })] : [];
          if (delta?.toolUse) {
            const input = delta.toolUse.input ?? '';
            return input ? [chunk({ tool_calls: [{ index: toolIndexOf(contentBlockIndex), function: { arguments: input } }] })] : [];
          }
          const r = delta?.reasoningContent;
          if (r?.text) return [chunk({ reasoning_content: r.text })];
          // Signatures and redacted thinking go out as `thinking_blocks` so a client can send them back.
          if (r?.signature) return [chunk({ thinking_blocks: [{ type: 'thinking', thinking: '', signature: r.signature }] })];
          if (r?.redactedContent) return [chunk({ thinking_blocks: [{ type: 'redacted_thinking', data: r.redactedContent }] })];
          return [];
        }
        case 'messageStop': {
          stopped = true;
          const { stopReason } = parse<{ stopReason?: string }>(ev);
          return [chunk({}, finishReason(stopReason))];
        }
        case 'metadata': {
          const usage = toUsage(parse<{ usage?: ConverseUsage }>(ev).usage);
          if (!usage) return [];
          return [{ chunk: { id, object: 'chat.completion.chunk', created, model: ctx.model, choices: [], usage } }];
        }
        default:
          // contentBlockStop and event types added later carry nothing a chat client needs.
          return [];
      }
    },
    end(): ChunkOut[] {
      if (!stopped) throw new GatewayError('stream_interrupted', 'bedrock closed the stream before messageStop', { provider: 'bedrock' });
      return [];
    },
  };
}
