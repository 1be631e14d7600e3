import { GatewayError } from '../../errors.js';
import { BEDROCK_BETAS } from './betas.js';
import { betaFlags, betaList } from '../anthropic/headers.js';
import { createAnthropicStreamTranslator } from '../anthropic/stream.js';
import { translateRequest } from '../anthropic/translate-request.js';
import { withOverrides } from '../with-overrides.js';
import { refuseUnsupported } from '../unsupported-params.js';
import { UNSUPPORTED } from './request.js';
import { translateResponse } from '../anthropic/translate-response.js';
import type { ChatCompletion, ChatRequest } from '../openai-types.js';
import type { CallContext, StreamTranslator, UpstreamEvent } from '../types.js';
import { streamException } from './errors.js';

/** The Messages API version Bedrock's InvokeModel takes for Claude (in the body, not a header). */
export const BEDROCK_ANTHROPIC_VERSION = 'bedrock-2023-05-31';

/** A Claude model id, bare or behind an inference profile or ARN (`anthropic.claude-…`, `us.anthropic.claude-…`). */
export const isClaudeModel = (model: string): boolean => /(^|[.:/])anthropic\.claude/.test(model);

/** Whether this target sends Claude its native Messages body through InvokeModel instead of Converse. */
export const usesInvoke = (ctx: CallContext): boolean => ctx.target.extra.bedrock_api === 'invoke';

/** Whether the request carried the forced `json` answer tool, from request to response of one attempt. */
const jsonToolFor = new WeakMap<CallContext, boolean>();

/**
 * The OpenAI body as the Anthropic Messages body InvokeModel expects (see
 * `invoke.anthropic-messages.cassette.yaml`): no `model` (it is in the URL), no `stream` (the
 * operation says it), `anthropic_version` and beta flags in the body. The Anthropic provider's own
 * translators do the work, so both routes to Claude behave alike.
 */
export function toAnthropicInvokeBody(input: ChatRequest, ctx: CallContext): string {
  if (!isClaudeModel(ctx.model)) {
    throw new GatewayError('invalid_request', `model "${ctx.model}": bedrock_api "invoke" is for Anthropic Claude models`, { param: 'model' });
  }
  const body = withOverrides(input, ctx.target.overrideParams);
  // Before the Anthropic translator, which would map `web_search_options` to a server tool Bedrock does not run.
  refuseUnsupported(body, 'bedrock', UNSUPPORTED);
  const structuredOutput = ctx.target.extra.structured_output === 'tool' ? 'tool' : 'native';
  const { request, jsonTool } = translateRequest(body, { stream: false, model: ctx.model, structuredOutput, inlineOnly: 'bedrock' });
  jsonToolFor.set(ctx, jsonTool);
  const out: Record<string, unknown> = { anthropic_version: BEDROCK_ANTHROPIC_VERSION, ...request };
  delete out.model;
  delete out.stream;
  // An `anthropic_beta` in override_params replaced the client's and is the operator's, like the target's own.
  const own = ctx.target.overrideParams.anthropic_beta;
  const betas = [...new Set([...betaList(own), ...betaFlags(ctx, own === undefined ? body.anthropic_beta : undefined, (flag) => BEDROCK_BETAS.has(flag))])];
  if (betas.length) out.anthropic_beta = betas;
  return JSON.stringify(out);
}

export const fromAnthropicInvoke = (json: unknown, ctx: CallContext): ChatCompletion =>
  translateResponse(json, { jsonTool: jsonToolFor.get(ctx) ?? false, provider: 'bedrock' });

const decodeBase64 = (b64: string): string => new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));

/**
 * InvokeModelWithResponseStream: event-stream frames of type `chunk`, each `{"bytes": <base64 of one
 * Anthropic stream event>}`; the unwrapped events go to the Anthropic stream translator.
 */
export function createInvokeStreamTranslator(ctx: CallContext): StreamTranslator {
  const inner = createAnthropicStreamTranslator({ jsonTool: jsonToolFor.get(ctx) ?? false, provider: 'bedrock' });
  return {
    push(ev: UpstreamEvent) {
      const kind = ev.headers?.[':message-type'];
      if (kind === 'exception' || kind === 'error') throw streamException(ev.headers ?? {}, ev.data);
      if (ev.event !== 'chunk') return [];
      let data: string;
      let type: string | undefined;
      try {
        data = decodeBase64((JSON.parse(ev.data) as { bytes: string }).bytes);
        type = (JSON.parse(data) as { type?: string }).type;
      } catch {
        throw new GatewayError('provider_error', 'bedrock sent a stream chunk that is not base64 JSON', { provider: 'bedrock', source: 'provider' });
      }
      return inner.push(type ? { event: type, data } : { data });
    },
    end: () => inner.end(),
  };
}
