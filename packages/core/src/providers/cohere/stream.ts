import { GatewayError } from '../../errors.js';
import type { ChunkDelta, FinishReason } from '../openai-types.js';
import type { CallContext, ChunkOut, StreamTranslator, UpstreamEvent } from '../types.js';
import { toFinishReason } from './finish-reason.js';
import { withStopSequence } from '../stop-sequence.js';
import { PLAN_SEPARATOR } from './response.js';
import { toUsage } from './usage.js';
import type { CohereStreamEvent } from './wire.js';

/**
 * Cohere v2 chat SSE → OpenAI chunks. The state is small: the message id, which OpenAI index each
 * Cohere tool call got (in order of `tool-call-start`), whether a call received any arguments, and
 * where reasoning came from last (thinking or tool plan) so both read as in the non-stream answer.
 */
export function createCohereStream(ctx: CallContext): StreamTranslator {
  const created = Math.floor(Date.now() / 1000);
  let id = '';
  let finished = false;
  /** Any text, reasoning or tool call went out (the stream can no longer fall over to another target). */
  let answered = false;
  /** A failed generation's error, held back while the usage that came with it goes out. */
  let pending: GatewayError | undefined;
  let reasoningFrom: 'thinking' | 'plan' | undefined;
  const tools = new Map<number, { index: number; hasArgs: boolean }>();

  const out = (delta: ChunkDelta, finish: FinishReason = null): ChunkOut => ({
    chunk: { id, object: 'chat.completion.chunk', created, model: ctx.model, choices: [{ index: 0, delta, finish_reason: finish }] },
  });

  const reasoning = (text: string, from: 'thinking' | 'plan'): ChunkOut[] => {
    if (!text) return [];
    answered = true;
    const sep = reasoningFrom && reasoningFrom !== from ? PLAN_SEPARATOR : '';
    reasoningFrom = from;
    return [out({ reasoning_content: sep + text })];
  };

  const content = (ev: CohereStreamEvent): ChunkOut[] => {
    const c = ev.delta?.message?.content;
    if (!c) return [];
    if (c.text) {
      answered = true;
      return [out({ content: c.text })];
    }
    return c.thinking ? reasoning(c.thinking, 'thinking') : [];
  };

  const toolStart = (ev: CohereStreamEvent): ChunkOut[] => {
    const call = ev.delta?.message?.tool_calls;
    answered = true;
    const index = tools.size;
    const args = call?.function?.arguments ?? '';
    tools.set(ev.index ?? index, { index, hasArgs: args !== '' });
    const fn = { name: call?.function?.name ?? '', arguments: args };
    return [out({ tool_calls: [{ index, id: call?.id ?? `call_${id}_${index}`, type: 'function', function: fn }] })];
  };

  const toolDelta = (ev: CohereStreamEvent): ChunkOut[] => {
    const state = tools.get(ev.index ?? tools.size - 1);
    const args = ev.delta?.message?.tool_calls?.function?.arguments;
    if (!state || !args) return [];
    state.hasArgs = true;
    return [out({ tool_calls: [{ index: state.index, function: { arguments: args } }] })];
  };

  const toolEnd = (ev: CohereStreamEvent): ChunkOut[] => {
    const state = tools.get(ev.index ?? tools.size - 1);
    // A call without parameters ends with no arguments at all; OpenAI sends "{}", which clients can parse.
    if (!state || state.hasArgs) return [];
    state.hasArgs = true;
    return [out({ tool_calls: [{ index: state.index, function: { arguments: '{}' } }] })];
  };

  const messageEnd = (ev: CohereStreamEvent): ChunkOut[] => {
    finished = true;
    const usage = toUsage(ev.delta?.usage);
    // Always sent: the gateway needs it for cost, and drops it for clients that did not ask for usage.
    const usageChunk: ChunkOut[] = usage ? [{ chunk: { id, object: 'chat.completion.chunk', created, model: ctx.model, choices: [], usage } }] : [];
    let finish: FinishReason;
    try {
      finish = toFinishReason(ev.delta?.finish_reason, ev.delta?.error);
    } catch (e) {
      // A generation that failed after content was still billed: its usage goes out (and is charged),
      // then the stream ends in the error. Before any content, failing at once lets the router move on.
      if (!usage || !answered) throw e;
      pending = e as GatewayError;
      return usageChunk;
    }
    return [withStopSequence(out({}, finish), ev.delta?.finish_reason === 'STOP_SEQUENCE'), ...usageChunk];
  };

  const citations = (ev: CohereStreamEvent & { delta?: { message?: { citations?: unknown } } }): ChunkOut[] => {
    const c = ev.delta?.message?.citations;
    // The stream's counterpart of the non-stream answer's `message.citations`, one per event.
    return c && typeof c === 'object' ? [out({ citations: Array.isArray(c) ? c : [c] })] : [];
  };

  return {
    push(ev: UpstreamEvent): ChunkOut[] {
      if (pending) throw pending;
      return translate(ev);
    },
    end(): ChunkOut[] {
      if (pending) throw pending;
      if (!finished) throw new GatewayError('stream_interrupted', 'cohere closed the stream before message-end', { provider: 'cohere', source: 'provider' });
      return [];
    },
  };

  function translate(ev: UpstreamEvent): ChunkOut[] {
    let data: CohereStreamEvent & { message?: string };
    try {
      data = JSON.parse(ev.data);
    } catch {
      throw new GatewayError('provider_error', 'cohere sent a stream event that is not JSON', { provider: 'cohere' });
    }
    const type = data.type ?? ev.event;
    switch (type) {
      case 'message-start':
        id = data.id ?? id;
        return [out({ role: 'assistant', content: '' })];
      case 'content-start':
      case 'content-delta':
        return content(data);
      case 'tool-plan-delta':
        return reasoning(data.delta?.message?.tool_plan ?? '', 'plan');
      case 'tool-call-start':
        return toolStart(data);
      case 'tool-call-delta':
        return toolDelta(data);
      case 'tool-call-end':
        return toolEnd(data);
      case 'message-end':
        return messageEnd(data);
      case 'citation-start':
        return citations(data);
      case 'error':
        throw new GatewayError('provider_error', `cohere stream error: ${data.message ?? ev.data.slice(0, 300)}`, { provider: 'cohere' });
      default:
        // content-end, citation-end, debug and future event types carry nothing for OpenAI clients.
        return [];
    }
  }
}
