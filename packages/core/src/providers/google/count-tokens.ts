import { GatewayError } from '../../errors.js';
import type { ChatRequest } from '../openai-types.js';
import { countIn } from '../token-count.js';
import type { CallContext, TokenCounting, UpstreamRequest } from '../types.js';
import { endpointFor, geminiResource, headersFor, type GoogleFlavor } from './endpoints.js';
import { toGenerateContent } from './request.js';
import type { GenerateContentRequest } from './wire.js';

/**
 * What each count takes of a `generateContent` body. Gemini API: a whole `GenerateContentRequest`
 * (ai.google.dev/api/tokens: "the prompt as well as other model steering information like system
 * instructions, and/or function declarations"), which has no `labels`. Vertex AI: its
 * `CountTokensRequest` lists `contents`, `tools`, `systemInstruction` and `generationConfig` (beside
 * `model` and `instances`), and Google refuses fields a message does not define.
 */
const GEMINI_FIELDS = ['contents', 'systemInstruction', 'tools', 'toolConfig', 'safetySettings', 'generationConfig', 'cachedContent'] as const;
const VERTEX_FIELDS = ['contents', 'systemInstruction', 'tools', 'generationConfig'] as const;

function pick(out: GenerateContentRequest, fields: readonly (keyof GenerateContentRequest)[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const f of fields) if (out[f] !== undefined) picked[f] = out[f];
  return picked;
}

function countBody(flavor: GoogleFlavor, ctx: CallContext, chat: () => ChatRequest): string {
  const generate = toGenerateContent(chat(), ctx);
  if (flavor === 'gemini') return JSON.stringify({ generateContentRequest: { model: geminiResource(ctx.model), ...pick(generate, GEMINI_FIELDS) } });
  if (generate.cachedContent !== undefined) {
    // Vertex counts no cached context: a count without it would fall short of what the model reads.
    throw new GatewayError('not_found', `POST /v1/messages/count_tokens on Vertex AI cannot count a cached context; ${ctx.target.path} sends cached_content`, { param: 'cached_content' });
  }
  return JSON.stringify(pick(generate, VERTEX_FIELDS));
}

/**
 * `POST …/models/{m}:countTokens` with the `generateContent` body a message would send (system
 * instruction, tools and generation config count too), so the count is the serving model's own.
 * Both flavours answer `{"totalTokens": n, …}`; only the total goes back, as `input_tokens`.
 */
export function googleCountTokens(flavor: GoogleFlavor): TokenCounting {
  return {
    async request(_body, ctx, chat): Promise<UpstreamRequest> {
      const url = endpointFor(flavor, 'countTokens', ctx);
      // Built before the headers: a count refused here never mints a Vertex token.
      const payload = countBody(flavor, ctx, chat);
      return { url, method: 'POST', headers: await headersFor(flavor, ctx), body: payload };
    },
    response: countIn('totalTokens'),
  };
}
