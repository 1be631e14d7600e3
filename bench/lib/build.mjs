// Bundles the bench's server entries with the working tree's llmux sources (esbuild, as tsup does
// for the published build) into bench/.build. The bench then measures exactly the code in the tree,
// and a `npm run build` by someone else (tsup cleans dist/) cannot pull files from under a run.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** `BENCH_SRC=<dir>`: take the llmux sources from another copy of the repository (A/B runs). */
const srcRoot = process.env.BENCH_SRC ? process.env.BENCH_SRC.replace(/\/?$/, '/') : root;
const sources = {
  '@llmux/core': 'packages/core/src/index.ts',
  '@llmux/core/node': 'packages/core/src/node/index.ts',
  '@llmux/express': 'packages/express/src/index.ts',
  '@llmux/koa': 'packages/koa/src/index.ts',
  '@llmux/nestjs': 'packages/nestjs/src/index.ts',
  '@llmux/redis': 'packages/redis/src/index.ts',
};

/** @llmux/* from source; every other package stays an import of the installed one. */
const llmuxFromSource = {
  name: 'llmux-from-source',
  setup(b) {
    b.onResolve({ filter: /^@llmux\// }, (args) => {
      const file = sources[args.path];
      if (!file) throw new Error(`bench build: unknown package ${args.path}`);
      return { path: srcRoot + file };
    });
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@llmux/') ? undefined : { path: args.path, external: true }));
  },
};

/** Builds `entries` (paths relative to bench/) into bench/.build (or `BENCH_OUT`); returns the output directory. */
export async function buildBench(entries) {
  const outdir = process.env.BENCH_OUT ?? root + 'bench/.build';
  await build({
    entryPoints: entries.map((e) => root + 'bench/' + e),
    outdir,
    outbase: root + 'bench',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    plugins: [llmuxFromSource],
  });
  return outdir;
}
