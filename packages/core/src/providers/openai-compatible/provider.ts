import { isPlainObject } from '../../plain-object.js';
import { dropEchoedPrefill, prefillOf, withoutEchoedPrefill } from './prefix-echo.js';
import { jsonTextOf, markLeftAsParsed } from '../../http/json-text.js';
import type { ChatCompletion, ChatRequest, EmbeddingsRequest } from '../openai-types.js';
import { errorTypeForStatus, parseCommonError } from '../parse-error.js';
import type { CallContext, Provider, UpstreamRequest } from '../types.js';
import { normalizeCompletion } from './normalize-completion.js';
import { withOverrides } from '../with-overrides.js';
import { createPassthroughTranslator, throwErrorBody } from './translate.js';
import { withForwardedHeaders } from '../forward-headers.js';

/** What makes one OpenAI-compatible service differ from another. */
export interface OpenAICompatiblePreset {
  id: string;
  baseURL: string;
  envKey?: string;
  /** See `Provider.modelSetting`. */
  modelSetting?: string;
  /** Header carrying the key. Default: `authorization: Bearer <key>`. */
  authHeader?: (key: string) => Record<string, string>;
  /** Headers the service needs on every call besides the key, from the target's settings. */
  headers?: (ctx: CallContext) => Record<string, string>;
  /**
   * How the service reports usage on streams. `include_usage` (default): we ask for it with
   * `stream_options` so streams can be costed; `always`: it is sent anyway (Mistral rejects the option).
   */
  streamUsage?: 'include_usage' | 'always';
  /** Full URL for an operation; default `${baseURL}/chat/completions` and `/embeddings`. */
  url?: (op: 'chat/completions' | 'embeddings', ctx: CallContext) => string;
  /**
   * The output limit the service honours. `max_completion_tokens` (default): OpenAI's current name,
   * the only one its reasoning models accept; bodies pass as sent. `max_tokens`: a
   * `max_completion_tokens` goes out under that name (it wins when both are sent) — DeepSeek and most
   * self-hosted servers ignore the newer name silently, and Mistral refuses it.
   */
  maxTokens?: 'max_completion_tokens' | 'max_tokens';
  /** Renames or drops OpenAI fields the service rejects; gets the outgoing copy of the chat body. */
  adapt?: (body: ChatRequest) => void;
  /**
   * Whether `adapt` would change this body. Without it every body counts as changed; with it, a body
   * `adapt` leaves alone goes out as the client's own text, not re-serialised.
   */
  adapts?: (body: ChatRequest) => boolean;
  /** The same for an embeddings body (its outgoing copy). */
  adaptEmbeddings?: (body: EmbeddingsRequest) => void;
}

/** `max_completion_tokens` under the older name, for services that only read that one. */
function asMaxTokens(body: ChatRequest): void {
  if (body.max_completion_tokens === undefined) return;
  body.max_tokens = body.max_completion_tokens ?? body.max_tokens;
  delete body.max_completion_tokens;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function headersFor(preset: OpenAICompatiblePreset, ctx: CallContext): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = ctx.target.apiKey;
  if (key) Object.assign(headers, (preset.authHeader ?? bearer)(key));
  if (preset.headers) Object.assign(headers, preset.headers(ctx));
  return withForwardedHeaders(ctx, headers);
}

/**
 * The client's own JSON text, when the body came raw and the outgoing body would be the same object:
 * no override params, the same model, no adapt step, and the stream fields already as they must go
 * out. Saves re-serialising what arrived (see http/json-text.ts).
 */
function unchangedText(preset: OpenAICompatiblePreset, body: ChatRequest, ctx: CallContext): string | undefined {
  const text = jsonTextOf(body);
  if (text === undefined || (preset.adapt && (preset.adapts?.(body) ?? true)) || ctx.model !== body.model) return undefined;
  if (preset.maxTokens === 'max_tokens' && body.max_completion_tokens !== undefined) return undefined;
  for (const _ in ctx.target.overrideParams) return undefined;
  if (!ctx.stream) return body.stream === undefined && body.stream_options === undefined ? text : undefined;
  if (body.stream !== true || preset.streamUsage === 'always') return undefined;
  const options = body.stream_options;
  if (isPlainObject(options)) return options.include_usage === true ? text : undefined;
  if (options !== undefined) return undefined;
  // The usual stream request lacks only the usage option: it goes in after the last field, where
  // re-serialising would put it (the key is absent, so no duplicate), for far less than that costs.
  const close = text.lastIndexOf('}');
  return close < 0 ? undefined : `${text.slice(0, close)},"stream_options":{"include_usage":true}${text.slice(close)}`;
}

function withParams<T extends { model: string }>(body: T, ctx: CallContext): T {
  const params = ctx.target.overrideParams;
  // Merged only when needed: most requests carry no overrides. An override of one token limit
  // replaces the client's other one (see `withOverrides`): OpenAI refuses a body with both.
  const out = Object.keys(params).length ? (withOverrides(body as unknown as ChatRequest, params) as unknown as T) : { ...body };
  out.model = ctx.model;
  return out;
}

/** Calls that asked for n > 1 choices: a stream must finish each of them (see the passthrough translator). */
const choicesWanted = new WeakMap<CallContext, number>();
/** Calls whose last turn is a prefill the service echoes back (`prefix-echo.ts`). */
const prefills = new WeakMap<CallContext, string>();

export function openAICompatible(preset: OpenAICompatiblePreset): Provider {
  const url = (op: 'chat/completions' | 'embeddings', ctx: CallContext) =>
    preset.url ? preset.url(op, ctx) : `${ctx.target.baseURL}/${op}`;
  return {
    id: preset.id,
    baseURL: preset.baseURL,
    ...(preset.envKey ? { envKey: preset.envKey } : {}),
    ...(preset.modelSetting ? { modelSetting: preset.modelSetting } : {}),
    framing: 'sse',
    chat: {
      request(body: ChatRequest, ctx): UpstreamRequest {
        const n = ctx.target.overrideParams.n ?? body.n;
        if (ctx.stream && typeof n === 'number' && n > 1) choicesWanted.set(ctx, n);
        const text = unchangedText(preset, body, ctx);
        if (text !== undefined) return { url: url('chat/completions', ctx), method: 'POST', headers: headersFor(preset, ctx), body: text };
        const out = withParams(body, ctx);
        if (ctx.stream) {
          out.stream = true;
          if ((preset.streamUsage ?? 'include_usage') === 'include_usage') {
            out.stream_options = { ...(out.stream_options ?? {}), include_usage: true };
          } else {
            // Such services send usage anyway and refuse the option (Mistral: 422 extra_forbidden).
            delete out.stream_options;
          }
        } else if (out.stream !== undefined) {
          delete out.stream;
          delete out.stream_options;
        }
        if (preset.maxTokens === 'max_tokens') asMaxTokens(out);
        preset.adapt?.(out);
        const prefill = preset.adapt ? prefillOf(out) : undefined;
        if (prefill !== undefined) prefills.set(ctx, prefill);
        return { url: url('chat/completions', ctx), method: 'POST', headers: headersFor(preset, ctx), body: JSON.stringify(out) };
      },
      response(json, ctx) {
        throwErrorBody(json, ctx);
        const prefill = prefills.get(ctx);
        const echoed = prefill !== undefined && dropEchoedPrefill(json as ChatCompletion, prefill);
        // Left as it came, the upstream's own text can be relayed instead of re-serialised.
        if (!normalizeCompletion(json) && !echoed && typeof json === 'object' && json !== null) markLeftAsParsed(json);
        return json as ChatCompletion;
      },
      stream: (ctx) => {
        const translator = createPassthroughTranslator(preset.id, choicesWanted.get(ctx));
        const prefill = prefills.get(ctx);
        return prefill === undefined ? translator : withoutEchoedPrefill(translator, prefill);
      },
    },
    embeddings: {
      request(body: EmbeddingsRequest, ctx): UpstreamRequest {
        const out = withParams(body, ctx);
        preset.adaptEmbeddings?.(out);
        return { url: url('embeddings', ctx), method: 'POST', headers: headersFor(preset, ctx), body: JSON.stringify(out) };
      },
      response: (json, ctx) => (throwErrorBody(json, ctx), json as ReturnType<NonNullable<Provider['embeddings']>['response']>),
    },
    error(status, body, headers) {
      // OpenRouter's errors carry no type; a 429 should still read as a rate limit to OpenAI clients.
      const info = parseCommonError(status, body, headers);
      info.type ??= errorTypeForStatus(status);
      return info;
    },
  };
}
