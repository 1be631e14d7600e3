/**
 * llmux provider ids → the `gen_ai.provider.name` values of the OpenTelemetry GenAI semantic
 * conventions (v1.37+; the same values `gen_ai.system` used before). Others keep their own id.
 */
const GENAI_PROVIDER: Record<string, string> = {
  openai: 'openai',
  anthropic: 'anthropic',
  google: 'gcp.gemini',
  'vertex-ai': 'gcp.vertex_ai',
  bedrock: 'aws.bedrock',
  'azure-openai': 'azure.ai.openai',
  'azure-ai': 'azure.ai.inference',
  mistral: 'mistral_ai',
  cohere: 'cohere',
  groq: 'groq',
  deepseek: 'deepseek',
  xai: 'x_ai',
  perplexity: 'perplexity',
};

export const genAiProviderName = (provider: string): string => GENAI_PROVIDER[provider] ?? provider;

/**
 * `gen_ai.operation.name` for a route; undefined for routes that call no model (`/metrics`, `/usage`,
 * `/v1/models`, a path that matched none), whose spans must not pass for GenAI operations.
 */
export function genAiOperation(route: string): 'chat' | 'embeddings' | undefined {
  if (route === 'chat' || route === 'messages') return 'chat';
  return route === 'embeddings' ? 'embeddings' : undefined;
}
