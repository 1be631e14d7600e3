import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; `test/packaging.test.ts` checks the built ESM and CJS output.
    alias: [
      { find: /^@llmux\/core\/node$/, replacement: src('core/src/node/index.ts') },
      { find: /^@llmux\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@llmux\/express$/, replacement: src('express/src/index.ts') },
      { find: /^@llmux\/koa$/, replacement: src('koa/src/index.ts') },
      { find: /^@llmux\/nestjs$/, replacement: src('nestjs/src/index.ts') },
      { find: /^@llmux\/redis$/, replacement: src('redis/src/index.ts') },
    ],
  },
  test: {
    // The JSON report lets .ci/run print one plain 'N passed, N failed' line.
    reporters: ['default', ['json', { outputFile: 'test/artifacts/vitest-report.json' }]],
    // The default pino logger would print a line per request; tests that check logs pass their own.
    env: { LLMUX_LOG_LEVEL: 'silent' },
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // A rejection nobody handled fails the test it happened in (see the file).
    setupFiles: ['test/setup/fail-on-unhandled.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
