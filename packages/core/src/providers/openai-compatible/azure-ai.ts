import { GatewayError } from '../../errors.js';
import { isHeaderSafe } from '../../http/header-safe.js';
import type { CallContext, Provider } from '../types.js';
import { openAICompatible } from './provider.js';

/** No default host: every Foundry resource and serverless deployment has its own endpoint. */
export const AZURE_AI_BASE_URL = 'https://{custom_host}';

/** What Azure does with parameters its inference API does not define (its `extra-parameters` header). */
const EXTRA_PARAMS = new Set(['drop', 'pass-through', 'error']);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

const invalid = (ctx: CallContext, setting: string, message: string) =>
  new GatewayError('invalid_config', `${ctx.target.path}.${setting} ${message}`, { param: `${ctx.target.path}.${setting}` });

function endpoint(ctx: CallContext): string {
  const base = ctx.target.baseURL;
  if (base !== AZURE_AI_BASE_URL) return base;
  // Portkey's `azure_foundry_url` is not taken as a host: only `custom_host` passes the SSRF guard.
  throw invalid(ctx, 'custom_host', 'is required for provider azure-ai: the endpoint URL, e.g. https://<resource>.services.ai.azure.com/models (Portkey\'s azure_foundry_url)');
}

function headers(ctx: CallContext): Record<string, string> {
  const extra = ctx.target.extra;
  const policy = str(extra.azure_extra_params) ?? 'drop';
  if (!EXTRA_PARAMS.has(policy)) throw invalid(ctx, 'azure_extra_params', 'must be "drop", "pass-through" or "error"');
  const out: Record<string, string> = { 'extra-parameters': policy };
  const deployment = str(extra.azure_deployment_name);
  if (deployment !== undefined) {
    if (!isHeaderSafe(deployment)) throw invalid(ctx, 'azure_deployment_name', 'cannot be sent in an HTTP header');
    out['azureml-model-deployment'] = deployment;
  }
  return out;
}

/**
 * Azure AI Inference / Foundry models (Portkey's `azure-ai`): the OpenAI routes under the endpoint
 * given as `custom_host` (`https://<resource>.services.ai.azure.com/models`, a serverless
 * `https://<name>.<region>.models.ai.azure.com`), with `?api-version=` only when `api_version` (or
 * Portkey's `azure_api_version`) is set. Foundry reads the key from `api-key`, serverless and managed
 * endpoints from a Bearer token, so it goes in both, as Azure's own inference SDK sends it.
 * `azure_extra_params` is Azure's `extra-parameters` (default `drop`, as Portkey sends: Azure refuses
 * parameters a model does not define otherwise); `azure_deployment_name` picks a deployment behind
 * a managed endpoint. The inference API limits output with `max_tokens`.
 */
export const azureAIProvider: Provider = openAICompatible({
  id: 'azure-ai',
  baseURL: AZURE_AI_BASE_URL,
  envKey: 'AZURE_AI_API_KEY',
  maxTokens: 'max_tokens',
  authHeader: (key) => ({ 'api-key': key, authorization: `Bearer ${key}` }),
  headers,
  url(op, ctx) {
    const base = endpoint(ctx);
    const version = str(ctx.target.extra.api_version) ?? str(ctx.target.extra.azure_api_version);
    return version === undefined ? `${base}/${op}` : `${base}/${op}?api-version=${encodeURIComponent(version)}`;
  },
});
