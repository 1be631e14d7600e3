import { withOverrides } from '../with-overrides.js';
import { GatewayError } from '../../errors.js';
import { utf8Length } from '../../limits/estimate.js';
import type { EmbeddingsRequest, EmbeddingsResponse } from '../openai-types.js';
import type { CallContext, Provider, UpstreamRequest } from '../types.js';
import { endpointFor, headersFor, type GoogleFlavor } from './endpoints.js';

/**
 * OpenAI `/embeddings` ↔ Gemini `:batchEmbedContents` (`{embeddings:[{values}]}`) and Vertex
 * `:predict` (`{predictions:[{embeddings:{values, statistics:{token_count}}}]}`).
 */

function texts(body: EmbeddingsRequest): string[] {
  const input = Array.isArray(body.input) ? body.input : [body.input];
  if (!input.every((i): i is string => typeof i === 'string')) {
    throw new GatewayError('invalid_request', 'input: Google embedding models take text, not token ids', { param: 'input' });
  }
  return input;
}

/** Gemini's `taskType` (`RETRIEVAL_QUERY`, `SEMANTIC_SIMILARITY`, …), accepted in either spelling. */
const taskType = (body: EmbeddingsRequest) => {
  const t = body.task_type ?? body.taskType;
  return typeof t === 'string' ? t : undefined;
};

function geminiBody(body: EmbeddingsRequest, ctx: CallContext): { requests: unknown[] } {
  const model = ctx.model.includes('/') ? ctx.model : `models/${ctx.model}`;
  const task = taskType(body);
  return {
    requests: texts(body).map((text) => ({
      model,
      content: { parts: [{ text }] },
      ...(task ? { taskType: task } : {}),
      ...(body.dimensions ? { outputDimensionality: body.dimensions } : {}),
    })),
  };
}

function vertexBody(body: EmbeddingsRequest): { instances: Array<{ content: string; task_type?: string }>; parameters?: unknown } {
  const task = taskType(body);
  return {
    instances: texts(body).map((content) => (task ? { content, task_type: task } : { content })),
    ...(body.dimensions ? { parameters: { outputDimensionality: body.dimensions } } : {}),
  };
}

/** Vertex's token count: the sum of every prediction's, or none when one lacks it (a part would undercount). */
function vertexTokens(predictions: Array<{ embeddings?: { statistics?: { token_count?: number } } }> | undefined): number | undefined {
  if (!predictions?.length) return undefined;
  let tokens = 0;
  for (const p of predictions) {
    const count = p.embeddings?.statistics?.token_count;
    if (typeof count !== 'number') return undefined;
    tokens += count;
  }
  return tokens;
}

export function googleEmbeddings(flavor: GoogleFlavor): NonNullable<Provider['embeddings']> {
  return {
    async request(input, ctx): Promise<UpstreamRequest | UpstreamRequest[]> {
      // A target's override_params apply here as on every other provider's embeddings (dimensions, task type).
      const body = withOverrides(input, ctx.target.overrideParams);
      const op = flavor === 'gemini' ? 'batchEmbedContents' : 'predict';
      const url = endpointFor(flavor, op, ctx);
      const headers = await headersFor(flavor, ctx);
      const calls: UpstreamRequest[] = [];
      if (flavor !== 'gemini') {
        // Vertex's :predict takes one instance per call for gemini-embedding models and 250 for the others.
        const { instances, ...rest } = vertexBody(body);
        const size = /gemini-embedding/.test(ctx.model) ? 1 : VERTEX_EMBED_BATCH;
        const send = (from: number, to: number) => calls.push({ url, method: 'POST', headers, body: JSON.stringify({ instances: instances.slice(from, to), ...rest }) });
        let start = 0;
        let bytes = 0;
        for (let i = 0; i < instances.length; i++) {
          const length = utf8Length(instances[i]!.content);
          // An input over the limit by itself goes alone: it cannot be split, and only Vertex knows its token count.
          if (i > start && (i - start === size || bytes + length > VERTEX_EMBED_TOKENS)) {
            send(start, i);
            start = i;
            bytes = 0;
          }
          bytes += length;
        }
        if (start < instances.length) send(start, instances.length);
      } else {
        // batchEmbedContents takes at most 100 requests per call; OpenAI clients send up to 2048 inputs.
        const { requests } = geminiBody(body, ctx);
        for (let i = 0; i < requests.length; i += GEMINI_EMBED_BATCH) {
          calls.push({ url, method: 'POST', headers, body: JSON.stringify({ requests: requests.slice(i, i + GEMINI_EMBED_BATCH) }) });
        }
      }
      return calls.length === 1 ? calls[0]! : calls;
    },
    response: fromGoogleEmbed,
  };
}

/** Gemini's `batchEmbedContents` limit of requests per call. */
const GEMINI_EMBED_BATCH = 100;
/** Vertex's `:predict` limit of text instances per call (gemini-embedding models: one). */
const VERTEX_EMBED_BATCH = 250;
/**
 * Vertex's `:predict` limit of input tokens per call (20,000), counted in UTF-8 bytes: no token is
 * shorter than a byte, so a call under it in bytes is under it in tokens.
 */
const VERTEX_EMBED_TOKENS = 20_000;

/** One `batchEmbedContents` or `predict` answer as OpenAI embeddings. */
function fromGoogleEmbed(json: unknown, ctx: CallContext): EmbeddingsResponse {
  const res = (json ?? {}) as {
    embeddings?: Array<{ values?: number[] }>;
    predictions?: Array<{ embeddings?: { values?: number[]; statistics?: { token_count?: number } } }>;
    usageMetadata?: { promptTokenCount?: number };
  };
  const vectors = res.embeddings?.map((e) => e.values ?? []) ?? res.predictions?.map((p) => p.embeddings?.values ?? []);
  if (!vectors) throw new GatewayError('provider_error', `${ctx.target.provider} answered without embeddings`, { provider: ctx.target.provider, source: 'provider' });
  // `usage` is left out, not invented as 0, when Google reports no count (`batchEmbedContents`
  // never does): the answer is then costed as `no_usage` and a budget keeps its reservation.
  const answer: EmbeddingsResponse = {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: v })),
    model: ctx.model,
  };
  const tokens = res.usageMetadata?.promptTokenCount ?? vertexTokens(res.predictions);
  if (tokens !== undefined) answer.usage = { prompt_tokens: tokens, total_tokens: tokens };
  return answer;
}
