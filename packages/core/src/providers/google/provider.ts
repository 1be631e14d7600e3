import type { Provider, UpstreamRequest } from '../types.js';
import { googleCountTokens } from './count-tokens.js';
import { googleEmbeddings } from './embeddings.js';
import { endpointFor, GEMINI_BASE_URL, headersFor, VERTEX_BASE_URL, type GoogleFlavor } from './endpoints.js';
import { parseGoogleError } from './errors.js';
import { toGenerateContent } from './request.js';
import { toChatCompletion } from './response.js';
import { createGeminiStream } from './stream.js';

function googleFamily(id: string, flavor: GoogleFlavor, baseURL: string, env: Pick<Provider, 'envKey' | 'envKeyAliases'>): Provider {
  return {
    id,
    baseURL,
    ...env,
    framing: 'sse',
    chat: {
      async request(body, ctx): Promise<UpstreamRequest> {
        const op = ctx.stream ? 'streamGenerateContent' : 'generateContent';
        const url = endpointFor(flavor, op, ctx);
        const payload = JSON.stringify(toGenerateContent(body, ctx));
        return { url, method: 'POST', headers: await headersFor(flavor, ctx), body: payload };
      },
      response: toChatCompletion,
      stream: createGeminiStream,
    },
    embeddings: googleEmbeddings(flavor),
    countTokens: googleCountTokens(flavor),
    error: parseGoogleError,
  };
}

/**
 * Gemini API (Google AI Studio): key in `x-goog-api-key`, from `GEMINI_API_KEY` (or `GOOGLE_API_KEY`,
 * which Google's SDKs also read). Target settings: `native_json_schema: true` sends tool and
 * response schemas verbatim as `parametersJsonSchema` / `responseJsonSchema` (Gemini 2.5+) instead of
 * converting them to the OpenAPI subset (default false); `allow_storage_uris: false` refuses file
 * references Google reads with the target's credentials — Files API uploads, `gs://` and
 * `*.googleapis.com` URLs, `file_id` parts, `cached_content` — with a 400 (default true: a client may name them).
 */
export const googleProvider = googleFamily('google', 'gemini', GEMINI_BASE_URL, { envKey: 'GEMINI_API_KEY', envKeyAliases: ['GOOGLE_API_KEY'] });

/**
 * Vertex AI (Portkey's `vertex-ai`): `api_key` is an OAuth access token sent as a Bearer token, or
 * `vertex_service_account_json` (a service account key file, as JSON text or object) from which the
 * gateway mints and caches tokens itself. Target settings: `vertex_project_id` (required unless the
 * service account names its project), `vertex_region` (default `us-central1`; `global`
 * uses the global host), `native_json_schema` and `allow_storage_uris` as for `google` (the service
 * account reads any `gs://` object it may). `custom_host` replaces the host and
 * version (`https://aiplatform.googleapis.com/v1beta1`); the project path is still appended.
 */
export const vertexProvider = googleFamily('vertex-ai', 'vertex', VERTEX_BASE_URL, {});
