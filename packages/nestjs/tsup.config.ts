import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // `import.meta.url` in the CJS build (wildcard-route reads the installed @nestjs/core version).
  shims: true,
  external: [/^@llmux\//],
});
