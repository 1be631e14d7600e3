import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';

const dist = fileURLToPath(new URL('./dist', import.meta.url));

/**
 * tsup's CJS code splitting maps each file to its own intermediate output under an absolute path of
 * the build machine. Those files ship beside their maps, so a relative name resolves in every install.
 */
function relativeMapSources(): void {
  for (const file of readdirSync(dist).filter((f) => f.endsWith('.map'))) {
    const path = join(dist, file);
    const map = JSON.parse(readFileSync(path, 'utf8')) as { sources: string[] };
    let changed = false;
    map.sources = map.sources.map((source) => {
      if (!isAbsolute(source) || !source.startsWith(dist)) return source;
      changed = true;
      return relative(dist, source);
    });
    if (changed) writeFileSync(path, JSON.stringify(map));
  }
}

export default defineConfig({
  entry: { index: 'src/index.ts', node: 'src/node/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // One copy of shared modules across both entries, in ESM and in CJS (an AbortLink made by
  // `@llmux/core/node` must be the class `@llmux/core` checks for).
  splitting: true,
  onSuccess: async () => relativeMapSources(),
});
