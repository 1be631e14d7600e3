import type { ChatCompletion, ChatCompletionChunk, ChatMessage, ToolCall } from '../providers/openai-types.js';
import type { ChunkOut } from '../providers/types.js';
import { STOP_SEQUENCE } from '../providers/stop-sequence.js';

type Block = Record<string, unknown>;
type LogprobLists = { content: unknown[] | null; refusal: unknown[] | null };

/** A streamed audio answer: its base64 pieces, joined as bytes at the end (each piece is padded on its own). */
interface AudioSoFar {
  data: string[];
  transcript: string;
  rest: Record<string, unknown>;
}

interface ChoiceSoFar {
  message: ChatMessage & { role: 'assistant' };
  audio?: AudioSoFar;
  finish: string | null;
  tools: ToolCall[];
  logprobs: LogprobLists | null;
  /** A stop at a stop sequence (`providers/stop-sequence.ts`), from the finishing chunk. */
  stopSequence?: { stop_sequence?: string | null };
  /** Thinking text since the last block closed: a signature (Anthropic's, Bedrock's) closes a block. */
  thinking: string;
  blocks: Block[];
}

/** Chunk-level facts a completion carries too (`system_fingerprint`, `service_tier`). */
const ANSWER_FIELDS = ['system_fingerprint', 'service_tier'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function addLogprobs(acc: ChoiceSoFar, logprobs: unknown): void {
  if (!isObject(logprobs)) return;
  const lists = (acc.logprobs ??= { content: null, refusal: null });
  for (const key of ['content', 'refusal'] as const) {
    const part = logprobs[key];
    if (Array.isArray(part)) lists[key] = [...(lists[key] ?? []), ...part];
  }
}

/** A streamed thinking-block delta: a signature closes the text streamed since the last one; redacted blocks come whole. */
function addBlocks(acc: ChoiceSoFar, blocks: unknown): void {
  if (!Array.isArray(blocks)) return;
  for (const b of blocks) {
    if (!isObject(b)) continue;
    if (b.type === 'thinking') {
      acc.blocks.push({ ...b, thinking: acc.thinking + (typeof b.thinking === 'string' ? b.thinking : '') });
      acc.thinking = '';
    } else acc.blocks.push(b);
  }
}

function addAudio(acc: ChoiceSoFar, audio: unknown): void {
  if (!isObject(audio)) return;
  const so = (acc.audio ??= { data: [], transcript: '', rest: {} });
  const { data, transcript, ...rest } = audio;
  if (typeof data === 'string' && data) so.data.push(data);
  if (typeof transcript === 'string') so.transcript += transcript;
  Object.assign(so.rest, rest);
}

function joinedAudio(so: AudioSoFar): Record<string, unknown> {
  const data = so.data.length <= 1 ? (so.data[0] ?? '') : btoa(so.data.map((piece) => atob(piece)).join(''));
  return { ...so.rest, data, transcript: so.transcript };
}

/**
 * Builds the non-stream answer a stream adds up to (for cache replay and the Anthropic ingress):
 * content, reasoning and its signed blocks, refusal, annotations and citations, tool calls (and a legacy
 * `function_call`) with Gemini's thought signatures (`extra_content`), audio and logprobs, so an answer
 * stored from a stream serves a non-stream request whole.
 */
export function assembleCompletion(chunks: Iterable<ChunkOut>): ChatCompletion {
  let head: ChatCompletionChunk | undefined;
  const facts: Record<string, unknown> = {};
  const choices = new Map<number, ChoiceSoFar>();
  let usage: ChatCompletion['usage'];
  for (const { chunk } of chunks) {
    head ??= chunk;
    if (chunk.usage) usage = chunk.usage;
    for (const field of ANSWER_FIELDS) if (chunk[field] != null) facts[field] = chunk[field];
    for (const c of chunk.choices ?? []) {
      let acc = choices.get(c.index);
      if (!acc) choices.set(c.index, (acc = { message: { role: 'assistant', content: null }, finish: null, tools: [], logprobs: null, thinking: '', blocks: [] }));
      const d = c.delta ?? {};
      const m = acc.message;
      if (typeof d.content === 'string') m.content = (m.content ?? '') + d.content;
      if (typeof d.reasoning_content === 'string') {
        m.reasoning_content = (m.reasoning_content ?? '') + d.reasoning_content;
        acc.thinking += d.reasoning_content;
      }
      if (typeof d.refusal === 'string') m.refusal = ((m.refusal as string | undefined) ?? '') + d.refusal;
      if (Array.isArray(d.annotations)) m.annotations = [...((m.annotations as unknown[] | undefined) ?? []), ...d.annotations];
      // Cohere's citations, streamed one per `citation-start`, as its non-stream answers carry them.
      if (Array.isArray(d.citations)) m.citations = [...((m.citations as unknown[] | undefined) ?? []), ...d.citations];
      addBlocks(acc, d.thinking_blocks);
      // Gemini's signature of a text part: the next turn must hand it back (providers/google/thought-signature.ts).
      if (isObject(d.extra_content)) m.extra_content = d.extra_content;
      addAudio(acc, d.audio);
      if (isObject(d.function_call)) {
        const fc = (m.function_call ??= { name: '', arguments: '' }) as { name: string; arguments: string };
        if (typeof d.function_call.name === 'string') fc.name += d.function_call.name;
        if (typeof d.function_call.arguments === 'string') fc.arguments += d.function_call.arguments;
      }
      for (const t of d.tool_calls ?? []) {
        const call = (acc.tools[t.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (t.id) call.id = t.id;
        if (t.function?.name) call.function.name += t.function.name;
        if (t.function?.arguments) call.function.arguments += t.function.arguments;
        if (isObject(t.extra_content)) call.extra_content = t.extra_content;
      }
      addLogprobs(acc, c.logprobs);
      if (c.finish_reason) acc.finish = c.finish_reason;
      if (STOP_SEQUENCE in c) acc.stopSequence = { stop_sequence: c[STOP_SEQUENCE] as string | null };
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
        if (acc.blocks.length) message.thinking_blocks = acc.blocks;
        if (acc.audio) message.audio = joinedAudio(acc.audio);
        return { index, message, finish_reason: acc.finish ?? 'stop', logprobs: acc.logprobs, ...acc.stopSequence };
      }),
    ...facts,
  };
  if (usage) completion.usage = usage;
  return completion;
}

/**
 * Replays a complete answer as stream chunks the SDKs assemble back to the same answer: reasoning
 * block by block with its signatures (the client must hand signed thinking back next turn), content
 * with its logprobs, annotations, citations and Gemini signature, audio, a refusal, tool calls (or a
 * legacy `function_call`) with their signatures, then the finish.
 */
export function completionToChunks(completion: ChatCompletion, includeUsage: boolean): ChunkOut[] {
  const base: ChatCompletionChunk = { id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model, choices: [] };
  for (const field of ANSWER_FIELDS) if (completion[field] != null) base[field] = completion[field];
  const out: ChunkOut[] = [];
  for (const choice of completion.choices) {
    const m = choice.message;
    const index = choice.index;
    const push = (delta: ChatCompletionChunk['choices'][number]['delta'], extra: Record<string, unknown> = {}) =>
      out.push({ chunk: { ...base, choices: [{ index, delta, finish_reason: null, ...extra }] } });
    push({ role: 'assistant', content: '' });
    const blocks = Array.isArray(m.thinking_blocks) ? (m.thinking_blocks as Block[]) : [];
    const reasoning = typeof m.reasoning_content === 'string' ? m.reasoning_content : '';
    const textOf = (b: Block) => (b.type === 'thinking' && typeof b.thinking === 'string' ? b.thinking : '');
    const blockText = blocks.map(textOf).join('');
    if (blocks.length && reasoning.startsWith(blockText)) {
      // Block by block, as the stream came: each block's text, then its signature closing it.
      for (const b of blocks) {
        if (textOf(b)) push({ reasoning_content: textOf(b) });
        push({ thinking_blocks: [b.type === 'thinking' ? { ...b, thinking: '' } : b] });
      }
      if (reasoning.length > blockText.length) push({ reasoning_content: reasoning.slice(blockText.length) });
    } else {
      if (reasoning) push({ reasoning_content: reasoning });
      for (const b of blocks) push({ thinking_blocks: [b] });
    }
    const logprobs = choice.logprobs != null ? { logprobs: choice.logprobs } : {};
    let logprobsSent = false;
    const signature = isObject(m.extra_content) ? { extra_content: m.extra_content } : {};
    if (typeof m.content === 'string' && m.content) {
      push(
        {
          content: m.content,
          ...(Array.isArray(m.annotations) ? { annotations: m.annotations } : {}),
          ...(Array.isArray(m.citations) ? { citations: m.citations } : {}),
          ...signature,
        },
        logprobs,
      );
      logprobsSent = true;
    } else if (m.extra_content !== undefined) push(signature);
    if (isObject(m.audio)) push({ audio: m.audio });
    if (typeof m.refusal === 'string' && m.refusal) push({ refusal: m.refusal });
    if (isObject(m.function_call)) push({ function_call: m.function_call });
    (m.tool_calls ?? []).forEach((t, i) =>
      push({
        tool_calls: [
          {
            index: i,
            id: t.id,
            type: 'function',
            function: { name: t.function.name, arguments: t.function.arguments },
            ...(isObject(t.extra_content) ? { extra_content: t.extra_content } : {}),
          },
        ],
      }),
    );
    const atSequence = STOP_SEQUENCE in choice ? { [STOP_SEQUENCE]: choice[STOP_SEQUENCE] } : {};
    out.push({ chunk: { ...base, choices: [{ index, delta: {}, finish_reason: choice.finish_reason, ...(logprobsSent ? {} : logprobs), ...atSequence }] } });
  }
  if (includeUsage && completion.usage) out.push({ chunk: { ...base, choices: [], usage: completion.usage } });
  return out;
}
