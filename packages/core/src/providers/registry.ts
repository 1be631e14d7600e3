import { anthropicProvider } from './anthropic/provider.js';
import { bedrockProvider, createBedrockProvider } from './bedrock/provider.js';
import { cohereProvider } from './cohere/provider.js';
import { googleProvider, vertexProvider } from './google/provider.js';
import { mockProvider } from './mock/provider.js';
import { openAICompatiblePresets } from './openai-compatible/presets.js';
import { azureAIProvider } from './openai-compatible/azure-ai.js';
import type { Provider } from './types.js';

/** Provider ids users may write in `provider`, with Portkey's alternative spellings. */
const ALIASES: Record<string, string> = {
  gemini: 'google',
  'azure': 'azure-openai',
  'together-ai': 'together',
  'fireworks-ai': 'fireworks',
  'x-ai': 'xai',
  'mistral-ai': 'mistral',
  'perplexity-ai': 'perplexity',
  'aws-bedrock': 'bedrock',
  'lm-studio': 'lmstudio',
};

export class ProviderRegistry {
  private readonly byId = new Map<string, Provider>();

  constructor(providers: Provider[]) {
    for (const p of providers) this.byId.set(p.id, p);
  }

  register(provider: Provider): void {
    this.byId.set(provider.id, provider);
  }

  canonical(id: string): string {
    // Own keys only: `constructor` or `toString` from a client must not find Object.prototype's.
    return Object.hasOwn(ALIASES, id) ? ALIASES[id]! : id;
  }

  get(id: string): Provider | undefined {
    return this.byId.get(this.canonical(id));
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }
}

/**
 * Built-in providers. Native-format providers register themselves in `builtin-native.ts`. With the
 * gateway's `env`, Bedrock reads its `AWS_*` credentials there, as every other provider key is read.
 */
export function builtinProviders(env?: Record<string, string | undefined>): Provider[] {
  const bedrock = env ? createBedrockProvider({ env: () => env }) : bedrockProvider;
  return [...openAICompatiblePresets, azureAIProvider, anthropicProvider, bedrock, cohereProvider, googleProvider, vertexProvider, mockProvider];
}
