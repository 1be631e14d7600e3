import { fnv1a } from '../../fnv1a.js';
import type { ChatMessage, ChatRequest, EmbeddingsRequest } from '../openai-types.js';
import { openAICompatible } from '../openai-compatible/provider.js';
import type { Provider, UpstreamRequest, UpstreamResponse } from '../types.js';
import { embeddingToBase64 } from '../embedding-base64.js';
import { countIn } from '../token-count.js';
import { utf8Bytes } from '../../http/bytes.js';

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.map((p) => (typeof p.text === 'string' ? p.text : '')).join(' ');
  }
  return '';
}

/** Rough token count (≈4 chars per token) so cost and budgets have numbers to work with. */
const countTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

function replyText(body: ChatRequest & { mock_response?: unknown }): string {
  if (typeof body.mock_response === 'string') return body.mock_response;
  const prompt = lastUserText(body.messages ?? []).trim().replace(/\s+/g, ' ');
  const echo = prompt.length > 120 ? `${prompt.slice(0, 117)}...` : prompt;
  return `This is a mock response from llmux. You said: "${echo}"`;
}

/** A deterministic unit vector from the text's words, so embeddings are stable across runs. */
function embed(text: string, dims = 64): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().split(/\W+/).filter(Boolean)) {
    v[fnv1a(word) % dims]! += 1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

function json(status: number, value: unknown): UpstreamResponse {
  const bytes = utf8Bytes(JSON.stringify(value));
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: (async function* () {
      yield bytes;
    })(),
    dump: async () => undefined,
  };
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => (clearTimeout(t), reject(signal.reason));
    const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });


function chat(body: ChatRequest & { mock_delay_ms?: unknown }, signal: AbortSignal): UpstreamResponse {
  const text = replyText(body);
  const id = `chatcmpl-mock-${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = countTokens(JSON.stringify(body.messages ?? []));
  const usage = { prompt_tokens: promptTokens, completion_tokens: countTokens(text), total_tokens: promptTokens + countTokens(text) };
  if (!body.stream) {
    return json(200, {
      id,
      object: 'chat.completion',
      created,
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null }],
      usage,
    });
  }
  const delay = typeof body.mock_delay_ms === 'number' ? body.mock_delay_ms : 0;
  const base = { id, object: 'chat.completion.chunk', created, model: body.model };
  const words = text.match(/\S+\s*/g) ?? [text];
  async function* sse() {
    const send = (v: unknown) => utf8Bytes(`data: ${JSON.stringify(v)}\n\n`);
    yield send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    for (const word of words) {
      if (delay) await sleep(delay, signal);
      yield send({ ...base, choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
    }
    yield send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (body.stream_options?.include_usage) yield send({ ...base, choices: [], usage });
    yield utf8Bytes('data: [DONE]\n\n');
  }
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, body: sse(), dump: async () => undefined };
}

function embeddings(body: EmbeddingsRequest): UpstreamResponse {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const texts = inputs.map((i) => (typeof i === 'string' ? i : JSON.stringify(i)));
  const tokens = texts.reduce((n, t) => n + countTokens(t), 0);
  return json(200, {
    object: 'list',
    data: texts.map((t, index) => {
      const vector = embed(t, body.dimensions ?? 64);
      return { object: 'embedding', index, embedding: body.encoding_format === 'base64' ? embeddingToBase64(vector) : vector };
    }),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

async function transport(req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
  const body = JSON.parse(typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body));
  if (req.url.endsWith('/embeddings')) return embeddings(body);
  // Counted as `chat` bills its prompt, so a count and the usage of the same body agree.
  if (req.url.endsWith('/messages/count_tokens')) return json(200, { input_tokens: countTokens(JSON.stringify(body.messages ?? [])) });
  return chat(body, signal);
}

const base = openAICompatible({ id: 'mock', baseURL: 'mock://local/v1' });

/**
 * Answers locally, without network, in OpenAI's wire format — so the examples run with no API keys
 * and every stage after the transport (translation, cache, cost, logs) runs exactly as for a real provider.
 * Target settings: `mock_response` (fixed text), `mock_delay_ms` (pause between stream chunks, default 0).
 */
export const mockProvider: Provider = {
  ...base,
  chat: {
    ...base.chat,
    request(body, ctx) {
      const req = base.chat.request(body, ctx) as UpstreamRequest;
      const extra = ctx.target.extra;
      if (extra.mock_delay_ms !== undefined || extra.mock_response !== undefined) {
        const parsed = JSON.parse(req.body as string);
        if (extra.mock_delay_ms !== undefined) parsed.mock_delay_ms = extra.mock_delay_ms;
        if (extra.mock_response !== undefined) parsed.mock_response = extra.mock_response;
        req.body = JSON.stringify(parsed);
      }
      return req;
    },
  },
  /** Counts for `/v1/messages/count_tokens` as the mock bills, so Anthropic clients run against the examples too. */
  countTokens: {
    request: (_body, ctx, chat) => ({
      url: `${ctx.target.baseURL}/messages/count_tokens`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: chat().messages ?? [] }),
    }),
    response: countIn('input_tokens'),
  },
  transport,
};
