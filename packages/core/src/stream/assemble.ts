import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ToolCall } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';

/** Builds the non-stream answer a stream adds up to (for cache replay and the Anthropic ingress). */
export function assembleCompletion(chunks: Iterable<ChunkOut>): ChatCompletion {
  let head: ChatCompletionChunk | undefined;
  const choices = new Map<number, { message: ChatMessage & { role: 'assistant' }; finish: string | null; tools: ToolCall[] }>();
  let usage: ChatCompletion['usage'];
  for (const { chunk } of chunks) {
    head ??= chunk;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices ?? []) {
      let acc = choices.get(c.index);
      if (!acc) choices.set(c.index, (acc = { message: { role: 'assistant', content: null }, finish: null, tools: [] }));
      const d = c.delta ?? {};
      if (typeof d.content === 'string') acc.message.content = (acc.message.content ?? '') + d.content;
      if (typeof d.reasoning_content === 'string') acc.message.reasoning_content = (acc.message.reasoning_content ?? '') + d.reasoning_content;
      for (const t of d.tool_calls ?? []) {
        const call = (acc.tools[t.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (t.id) call.id = t.id;
        if (t.function?.name) call.function.name += t.function.name;
        if (t.function?.arguments) call.function.arguments += t.function.arguments;
      }
      if (c.finish_reason) acc.finish = c.finish_reason;
    }
  }
  const completion: ChatCompletion = {
    id: head?.id ?? 'chatcmpl-assembled',
    object: 'chat.completion',
    created: head?.created ?? Math.floor(Date.now() / 1000),
    model: head?.model ?? '',
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, acc]) => {
        const message = acc.message;
        const tools = acc.tools.filter(Boolean);
        if (tools.length) message.tool_calls = tools;
        return { index, message, finish_reason: acc.finish ?? 'stop', logprobs: null };
      }),
  };
  if (usage) completion.usage = usage;
  return completion;
}

/** Replays a complete answer as stream chunks the SDKs assemble back to the same content. */
export function completionToChunks(completion: ChatCompletion, includeUsage: boolean): ChunkOut[] {
  const base = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model };
  const out: ChunkOut[] = [];
  for (const choice of completion.choices) {
    const m = choice.message;
    out.push({ chunk: { ...base, choices: [{ index: choice.index, delta: { role: 'assistant', content: '' }, finish_reason: null }] } });
    if (m.reasoning_content) out.push({ chunk: { ...base, choices: [{ index: choice.index, delta: { reasoning_content: m.reasoning_content }, finish_reason: null }] } });
    if (typeof m.content === 'string' && m.content) out.push({ chunk: { ...base, choices: [{ index: choice.index, delta: { content: m.content }, finish_reason: null }] } });
    (m.tool_calls ?? []).forEach((t, index) =>
      out.push({
        chunk: {
          ...base,
          choices: [{ index: choice.index, delta: { tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.function.name, arguments: t.function.arguments } }] }, finish_reason: null }],
        },
      }),
    );
    out.push({ chunk: { ...base, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason }] } });
  }
  if (includeUsage && completion.usage) out.push({ chunk: { ...base, choices: [], usage: completion.usage } });
  return out;
}
