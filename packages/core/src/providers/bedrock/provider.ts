import { registerDecoder } from '../../stream/decode.js';
import type { CallContext, Provider, UpstreamRequest } from '../types.js';
import { toCountTokensBody } from './count-tokens.js';
import { foundationModelOf } from './foundation-model.js';
import { countIn } from '../token-count.js';
import { BEDROCK_BASE_URL, operationURL, type BedrockOperation } from './endpoint.js';
import { fromTitanAnswer, toTitanBodies } from './embeddings.js';
import { parseBedrockError } from './errors.js';
import { createEventStreamDecoder } from './event-stream-decoder.js';
import { createInvokeStreamTranslator, fromAnthropicInvoke, isClaudeModel, toAnthropicInvokeBody, usesInvoke } from './invoke-anthropic.js';
import { toConverseRequest } from './request.js';
import { toChatCompletion } from './response.js';
import { authorize } from './sign-request.js';
import { noteSecrets } from '../../upstream/call-secrets.js';
import { processEnv, resolveSettings, type EnvAccessor } from './settings.js';
import { createConverseStreamTranslator } from './stream.js';
import { withForwardedHeaders } from '../forward-headers.js';

export interface BedrockProviderOptions {
  /**
   * Where `AWS_REGION`, `AWS_DEFAULT_REGION` and the `AWS_*` keys are read when a target has no
   * `aws_region` / `aws_access_key_id`. Read per request, so rotated credentials are picked up.
   * Default: `process.env`.
   */
  env?: EnvAccessor;
}

function headersFor(ctx: CallContext, accept: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept };
  return withForwardedHeaders(ctx, headers);
}

/**
 * AWS Bedrock through Converse / ConverseStream (one request shape for every model family), embeddings
 * through InvokeModel, Claude's token counts through CountTokens. Target settings, Portkey's names:
 * `aws_access_key_id`, `aws_secret_access_key`, `aws_session_token`, `aws_region`, or a Bedrock API key
 * in `api_key`; `bedrock_api: "invoke"` sends Claude its native Messages body through InvokeModel (for
 * Anthropic-only features and beta flags).
 */
export function createBedrockProvider(options: BedrockProviderOptions = {}): Provider {
  const env = options.env ?? processEnv;
  // The decoder is registered with the provider, so the framing is known wherever the provider is used.
  registerDecoder('aws-eventstream', createEventStreamDecoder);

  async function build(ctx: CallContext, op: BedrockOperation, body: string, accept: string): Promise<UpstreamRequest> {
    const settings = resolveSettings(ctx.target, env);
    // Credentials from the environment are not among the target's settings: an AWS error that quotes them is redacted too.
    if (settings.auth.kind === 'sigv4') {
      const { accessKeyId, secretAccessKey, sessionToken } = settings.auth.credentials;
      noteSecrets(ctx, accessKeyId, secretAccessKey, sessionToken);
    } else noteSecrets(ctx, settings.auth.token);
    const req: UpstreamRequest = { url: operationURL(ctx.target, settings.region, ctx.model, op), method: 'POST', headers: headersFor(ctx, accept), body };
    return authorize(req, settings);
  }

  return {
    id: 'bedrock',
    baseURL: BEDROCK_BASE_URL,
    envKey: 'AWS_BEARER_TOKEN_BEDROCK',
    framing: 'aws-eventstream',
    chat: {
      request(body, ctx) {
        const accept = ctx.stream ? 'application/vnd.amazon.eventstream' : 'application/json';
        if (usesInvoke(ctx)) return build(ctx, ctx.stream ? 'invoke-with-response-stream' : 'invoke', toAnthropicInvokeBody(body, ctx), accept);
        return build(ctx, ctx.stream ? 'converse-stream' : 'converse', JSON.stringify(toConverseRequest(body, ctx)), accept);
      },
      response: (json, ctx) => (usesInvoke(ctx) ? fromAnthropicInvoke(json, ctx) : toChatCompletion(json, ctx)),
      stream: (ctx) => (usesInvoke(ctx) ? createInvokeStreamTranslator(ctx) : createConverseStreamTranslator(ctx)),
    },
    embeddings: {
      request: (body, ctx) => Promise.all(toTitanBodies(body, ctx).map((b) => build(ctx, 'invoke', b, 'application/json'))),
      response: fromTitanAnswer,
    },
    countTokens: {
      request: (body, ctx) => build(ctx, 'count-tokens', toCountTokensBody(body, ctx), 'application/json'),
      // CountTokens answers `{"inputTokens": n}`.
      response: countIn('inputTokens'),
      accepts: isClaudeModel,
      alternateModel: foundationModelOf,
    },
    error: parseBedrockError,
  };
}

export const bedrockProvider: Provider = createBedrockProvider();
