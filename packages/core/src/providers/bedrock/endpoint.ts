import type { ResolvedTarget } from '../types.js';

/** `{region}` is filled per call, so one default serves every region and a `custom_host` may use it too. */
export const BEDROCK_BASE_URL = 'https://bedrock-runtime.{region}.amazonaws.com';

export type BedrockOperation = 'converse' | 'converse-stream' | 'invoke' | 'invoke-with-response-stream' | 'count-tokens';

/**
 * `POST {base}/model/{modelId}/{operation}`. The model id is one path label, so `:` and the `/` of
 * inference-profile ARNs are percent-encoded (the AWS SDK does the same); SigV4 then encodes it again.
 */
export function operationURL(target: ResolvedTarget, region: string, model: string, op: BedrockOperation): string {
  const base = target.baseURL.replaceAll('{region}', region);
  return `${base}/model/${encodeURIComponent(model)}/${op}`;
}
