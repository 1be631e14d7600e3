import type { ProviderDefaults } from '../options.js';
import type { ProviderRegistry } from '../providers/registry.js';

type DefaultsTable = Record<string, ProviderDefaults>;

/** Per options object: its table keyed by provider id, and the registry that table was keyed with. */
const tables = new WeakMap<DefaultsTable, { registry: ProviderRegistry; byId: DefaultsTable }>();

/**
 * `options.providers` re-keyed by provider id, once per options object and registry, with no
 * prototype (a client's provider name can never read an inherited member). It may name a provider by
 * any spelling a target may use (`gemini`, `azure`), but must name one, and each only once: a typo
 * would otherwise drop the server's base URL and key without a word. `createGateway` builds it first,
 * so a bad key fails at start-up.
 */
export function defaultsById(registry: ProviderRegistry, providers: DefaultsTable): DefaultsTable {
  const table = tables.get(providers);
  if (table?.registry === registry) return table.byId;
  const byId: DefaultsTable = Object.create(null);
  const spelledAs = new Map<string, string>();
  for (const [name, defaults] of Object.entries(providers)) {
    const provider = registry.get(name);
    if (!provider) {
      throw new TypeError(`llmux: invalid options: options.providers.${name}: unknown provider "${name}" (known: ${registry.ids().join(', ')})`);
    }
    const other = spelledAs.get(provider.id);
    if (other !== undefined) {
      throw new TypeError(`llmux: invalid options: options.providers.${name}: names the same provider as options.providers.${other} ("${provider.id}")`);
    }
    spelledAs.set(provider.id, name);
    byId[provider.id] = defaults;
  }
  tables.set(providers, { registry, byId });
  return byId;
}

/** The server's defaults for provider `id`. */
export function providerDefaults(registry: ProviderRegistry, providers: DefaultsTable, id: string): ProviderDefaults | undefined {
  return defaultsById(registry, providers)[id];
}
