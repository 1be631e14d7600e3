import { withOverrides } from '../with-overrides.js';
import { GatewayError } from '../../errors.js';
import type { EmbeddingsRequest, EmbeddingsResponse } from '../openai-types.js';
import type { CallContext } from '../types.js';

interface TitanEmbedding {
  embedding?: number[];
  inputTextTokenCount?: number;
}

const invalid = (message: string, param: string) => new GatewayError('invalid_request', message, { param });

/**
 * OpenAI embeddings body → Titan InvokeModel bodies. Titan takes one text per call, so each input
 * string is its own request (`invoke.titan-embed-v2.cassette.yaml` shows the body).
 */
export function toTitanBodies(input: EmbeddingsRequest, ctx: CallContext): string[] {
  const body = withOverrides(input, ctx.target.overrideParams);
  if (!/(^|\.)amazon\.titan-embed-(text|g1-text)/.test(ctx.model)) {
    throw invalid(`model "${ctx.model}": bedrock embeddings support the amazon.titan-embed-text models`, 'model');
  }
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const v2 = ctx.model.includes('-v2');
  return inputs.map((text, i) => {
    if (typeof text !== 'string') throw invalid('input: bedrock Titan embeds text, not token arrays', Array.isArray(body.input) ? `input[${i}]` : 'input');
    const titan: Record<string, unknown> = { inputText: text };
    if (body.dimensions !== undefined) titan.dimensions = body.dimensions;
    // OpenAI's vectors are unit length; Titan v2 normalises only when asked.
    if (v2) titan.normalize = true;
    return JSON.stringify(titan);
  });
}


/**
 * One Titan answer (one input) as an OpenAI embeddings list; the gateway joins a request's answers
 * in input order (`joinEmbeddings`). A missing token count is left out, not taken as 0, so the
 * request is costed as `no_usage` rather than undercounted.
 */
export function fromTitanAnswer(json: unknown, ctx: CallContext): EmbeddingsResponse {
  const a = json as TitanEmbedding | null;
  if (!Array.isArray(a?.embedding)) {
    throw new GatewayError('provider_error', 'bedrock answered an embedding request without `embedding`', { provider: 'bedrock', source: 'provider' });
  }
  const result: EmbeddingsResponse = { object: 'list', data: [{ object: 'embedding', index: 0, embedding: a.embedding }], model: ctx.model };
  if (typeof a.inputTextTokenCount === 'number') result.usage = { prompt_tokens: a.inputTextTokenCount, total_tokens: a.inputTextTokenCount };
  return result;
}
