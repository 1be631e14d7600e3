import { withOverrides } from '../with-overrides.js';
import { GatewayError } from '../../errors.js';
import type { EmbeddingsRequest, EmbeddingsResponse } from '../openai-types.js';
import type { CallContext } from '../types.js';
import type { CohereEmbedResponse } from './wire.js';

/** Cohere's `/v2/embed` takes at most 96 texts per call; OpenAI clients send up to 2048. */
const COHERE_EMBED_BATCH = 96;

/** The `/v2/embed` bodies for a request: one per 96 texts, answered in order and joined by the gateway. */
export function toCohereEmbeds(input: EmbeddingsRequest, ctx: CallContext): Array<Record<string, unknown>> {
  const body = toCohereEmbed(input, ctx);
  const texts = body.texts as string[];
  if (texts.length <= COHERE_EMBED_BATCH) return [body];
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < texts.length; i += COHERE_EMBED_BATCH) out.push({ ...body, texts: texts.slice(i, i + COHERE_EMBED_BATCH) });
  return out;
}

/**
 * OpenAI embeddings body → Cohere `/v2/embed`. `input_type` (Cohere's retrieval role) defaults to
 * `search_document`; a client or `override_params` may set it, e.g. `search_query` for queries.
 */
function toCohereEmbed(input: EmbeddingsRequest, ctx: CallContext): Record<string, unknown> {
  const body = withOverrides(input, ctx.target.overrideParams);
  const texts = typeof body.input === 'string' ? [body.input] : body.input;
  if (!texts.every((t): t is string => typeof t === 'string')) {
    throw new GatewayError('invalid_request', 'input: cohere embeds text; token arrays are not accepted', { param: 'input' });
  }
  const inputType = body.input_type ?? 'search_document';
  if (typeof inputType !== 'string') throw new GatewayError('invalid_request', 'input_type: must be a string', { param: 'input_type' });
  const out: Record<string, unknown> = { model: ctx.model, texts, input_type: inputType, embedding_types: ['float'] };
  if (typeof body.dimensions === 'number') out.output_dimension = body.dimensions;
  if (typeof body.truncate === 'string') out.truncate = body.truncate;
  return out;
}

/** The answer of one `/v2/embed` call. */
export function fromCohereEmbed(json: unknown, ctx: CallContext): EmbeddingsResponse {
  const res = json as CohereEmbedResponse;
  const vectors = res.embeddings?.float;
  if (!Array.isArray(vectors)) {
    throw new GatewayError('provider_error', 'cohere answered without float embeddings', { provider: 'cohere', source: 'provider' });
  }
  const answer: EmbeddingsResponse = {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: v })),
    model: ctx.model,
  };
  // Left out, not invented as 0, when Cohere reports no billed input tokens: the answer is then costed as `no_usage`
  // (the shared type marks `usage` required; the pipeline reads it as optional).
  const tokens = res.meta?.billed_units?.input_tokens;
  if (typeof tokens === 'number') answer.usage = { prompt_tokens: tokens, total_tokens: tokens };
  return answer;
}
