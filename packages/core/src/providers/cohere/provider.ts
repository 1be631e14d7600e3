import type { ChatRequest, EmbeddingsRequest } from '../openai-types.js';
import type { CallContext, Provider, UpstreamRequest } from '../types.js';
import { fromCohereEmbed, toCohereEmbeds } from './embeddings.js';
import { parseCohereError } from './error.js';
import { toCohereChat } from './request.js';
import { fromCohereChat } from './response.js';
import { createCohereStream } from './stream.js';
import { withForwardedHeaders } from '../forward-headers.js';

function headers(ctx: CallContext): Record<string, string> {
  const out: Record<string, string> = { 'content-type': 'application/json', accept: ctx.stream ? 'text/event-stream' : 'application/json' };
  if (ctx.target.apiKey) out.authorization = `Bearer ${ctx.target.apiKey}`;
  return withForwardedHeaders(ctx, out);
}

const post = (url: string, ctx: CallContext, body: unknown): UpstreamRequest => ({ url, method: 'POST', headers: headers(ctx), body: JSON.stringify(body) });

/** Cohere v2: `POST {baseURL}/chat` and `/embed`, bearer key from `COHERE_API_KEY` (or the SDK's `CO_API_KEY`). */
export const cohereProvider: Provider = {
  id: 'cohere',
  baseURL: 'https://api.cohere.com/v2',
  envKey: 'COHERE_API_KEY',
  envKeyAliases: ['CO_API_KEY'],
  framing: 'sse',
  chat: {
    request: (body: ChatRequest, ctx) => post(`${ctx.target.baseURL}/chat`, ctx, toCohereChat(body, ctx)),
    response: fromCohereChat,
    stream: createCohereStream,
  },
  embeddings: {
    request: (body: EmbeddingsRequest, ctx) => {
      const calls = toCohereEmbeds(body, ctx).map((one) => post(`${ctx.target.baseURL}/embed`, ctx, one));
      return calls.length === 1 ? calls[0]! : calls;
    },
    response: fromCohereEmbed,
  },
  error: parseCohereError,
};
