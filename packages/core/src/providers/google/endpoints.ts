import { GatewayError } from '../../errors.js';
import type { CallContext } from '../types.js';
import { serviceAccountOf, vertexToken } from './vertex-auth.js';
import { withForwardedHeaders } from '../forward-headers.js';

/** The two front doors to the same models: the Gemini API (API key) and Vertex AI (OAuth token, project, region). */
export type GoogleFlavor = 'gemini' | 'vertex';

export type GoogleOperation = 'generateContent' | 'streamGenerateContent' | 'countTokens' | 'batchEmbedContents' | 'predict';

export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta';
/** `{vertex_region}` is filled from the target; the `global` location has no regional host. */
export const VERTEX_BASE_URL = 'https://{vertex_region}-aiplatform.googleapis.com/v1';

const REGION_PLACEHOLDER = '{vertex_region}';
/** Default Vertex location when a target names none (Google's own default for most models). */
const DEFAULT_REGION = 'us-central1';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/** Model names become URL path segments: anything that could climb out of `/models/` is refused. */
const SAFE_MODEL = /^[A-Za-z0-9][A-Za-z0-9._@\-/]*$/;

function checkedModel(model: string): string {
  const name = model.replace(/^models\//, '');
  if (!SAFE_MODEL.test(name) || name.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new GatewayError('invalid_request', `model: "${model}" is not a valid Google model name`, { param: 'model' });
  }
  return name;
}

function vertexSettings(ctx: CallContext): { project: string; region: string } {
  const extra = ctx.target.extra;
  const project = str(extra.vertex_project_id) ?? serviceAccountOf(ctx)?.project_id;
  if (!project || !/^[A-Za-z0-9._:\-]+$/.test(project)) {
    throw new GatewayError('invalid_config', `${ctx.target.path}.vertex_project_id is required for provider vertex-ai (the Google Cloud project id)`, {
      param: `${ctx.target.path}.vertex_project_id`,
    });
  }
  const region = str(extra.vertex_region) ?? DEFAULT_REGION;
  if (!/^[a-z0-9-]+$/.test(region)) {
    throw new GatewayError('invalid_config', `${ctx.target.path}.vertex_region: "${region}" is not a Google Cloud location`, {
      param: `${ctx.target.path}.vertex_region`,
    });
  }
  return { project, region };
}

function vertexBase(ctx: CallContext, region: string): string {
  const base = ctx.target.baseURL;
  if (!base.includes(REGION_PLACEHOLDER)) return base;
  return region === 'global' ? base.replace(`${REGION_PLACEHOLDER}-`, '') : base.replace(REGION_PLACEHOLDER, region);
}

/** The Gemini API's resource name of a model: `models/{m}`; `tunedModels/…` is one already. */
export function geminiResource(model: string): string {
  const name = checkedModel(model);
  return name.includes('/') ? name : `models/${name}`;
}

/** Where an operation goes: `{base}/models/{m}:op` (Gemini) or `{base}/projects/{p}/locations/{r}/publishers/google/models/{m}:op` (Vertex). */
export function endpointFor(flavor: GoogleFlavor, op: GoogleOperation, ctx: CallContext): string {
  const query = op === 'streamGenerateContent' ? '?alt=sse' : '';
  if (flavor === 'gemini') return `${ctx.target.baseURL}/${geminiResource(ctx.model)}:${op}${query}`;
  const model = checkedModel(ctx.model);
  const { project, region } = vertexSettings(ctx);
  const parent = `projects/${project}/locations/${region}`;
  const resource = model.startsWith('projects/')
    ? model
    : model.startsWith('endpoints/') || model.startsWith('publishers/')
      ? `${parent}/${model}`
      : `${parent}/publishers/google/models/${model}`;
  return `${vertexBase(ctx, region)}/${resource}:${op}${query}`;
}

/**
 * Gemini takes the key in `x-goog-api-key` (never `?key=`, which would land in access logs); Vertex a
 * Bearer token — the target's `api_key` or one minted from its service account.
 */
export async function headersFor(flavor: GoogleFlavor, ctx: CallContext): Promise<Record<string, string>> {
  const token = flavor === 'gemini' ? ctx.target.apiKey : await vertexToken(ctx);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) {
    if (flavor === 'gemini') headers['x-goog-api-key'] = token;
    else headers.authorization = `Bearer ${token}`;
  }
  return withForwardedHeaders(ctx, headers);
}
