import { GatewayError } from '../../errors.js';
import { withOverrides } from '../with-overrides.js';
import { refuseUnsupported } from '../unsupported-params.js';
import type { ChatRequest } from '../openai-types.js';
import type { CallContext } from '../types.js';
import { toContents } from './contents.js';
import { toGenerationConfig } from './generation-config.js';
import { refuseJsonWithFunctions } from './json-with-functions.js';
import { toTools } from './tools.js';
import type { GenerateContentRequest } from './wire.js';

/** The target asks for JSON schemas to go out verbatim (`parametersJsonSchema` / `responseJsonSchema`, Gemini 2.5+). */
export const usesNativeSchema = (ctx: CallContext) => ctx.target.extra.native_json_schema === true;

/** An OpenAI chat body (with the target's `override_params` applied) → a `generateContent` body. */
export function toGenerateContent(input: ChatRequest, ctx: CallContext): GenerateContentRequest {
  const body = withOverrides(input, ctx.target.overrideParams);
  // `logprobs` and `web_search_options` are mapped (generation-config.ts, tools.ts). An audio answer is
  // refused too: `responseModalities: ["AUDIO"]` is for TTS / Live models, not these chat models.
  refuseUnsupported(body, ctx.target.provider, ['logit_bias', 'audio']);
  const native = usesNativeSchema(ctx);
  const { contents, systemInstruction } = toContents(body.messages, ctx.model, { allowStorageUris: ctx.target.extra.allow_storage_uris !== false });
  const out: GenerateContentRequest = { contents };
  if (systemInstruction) out.systemInstruction = systemInstruction;
  Object.assign(out, toTools(body, native));
  const generationConfig = toGenerationConfig(body, ctx.model, native);
  if (generationConfig) out.generationConfig = generationConfig;
  refuseJsonWithFunctions(out, ctx.model);
  // Gemini-only settings a client may send beside the OpenAI fields (Portkey accepts the same names).
  const safety = body.safety_settings ?? body.safetySettings;
  if (safety !== undefined) out.safetySettings = safety;
  const cached = body.cached_content ?? body.cachedContent;
  if (typeof cached === 'string') {
    // A cached context is a stored resource too, read with the target's credentials (see allow_storage_uris).
    if (ctx.target.extra.allow_storage_uris === false) {
      const param = body.cached_content !== undefined ? 'cached_content' : 'cachedContent';
      throw new GatewayError('invalid_request', `${param}: this target does not take references to stored content (allow_storage_uris: false)`, { param });
    }
    out.cachedContent = cached;
  }
  if (body.labels && typeof body.labels === 'object') out.labels = body.labels as Record<string, string>;
  return out;
}
