import type { ProviderDefaults } from '../options.js';
import type { ProviderRegistry } from '../providers/registry.js';

type DefaultsTable = Record<string, ProviderDefaults>;

/** Per options object: its table keyed by provider id, and the registry that table was keyed with. */
const tables = new WeakMap<DefaultsTable, { registry: ProviderRegistry; byId: DefaultsTable }>();

/**
 * `options.providers` may name a provider by any spelling a target may use (`gemini`, `azure`); targets
 * and model-name routing look defaults up by provider id. The table is re-keyed once per options object
 * (validateOptions refuses unknown names and two spellings of one provider), with no prototype, so a
 * client's provider name can never read an inherited member.
 */
export function providerDefaults(registry: ProviderRegistry, providers: DefaultsTable, id: string): ProviderDefaults | undefined {
  let table = tables.get(providers);
  if (table?.registry !== registry) {
    const byId: DefaultsTable = Object.create(null);
    for (const [name, defaults] of Object.entries(providers)) byId[registry.canonical(name)] = defaults;
    tables.set(providers, (table = { registry, byId }));
  }
  return table.byId[id];
}
