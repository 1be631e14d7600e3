/**
 * Packaging and the NestJS module: routes under a parameterised global prefix or basePath, two
 * GatewayModules on one path, the Redis client option's types, dist built before packing, shipped
 * source maps. Each of these failed before its fix (comments say how); the npm-install checks of
 * the tarballs (ESM/CJS consumers, TypeScript resolutions, Nest 10 and 11) were run by hand.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Inject, Injectable } from '@nestjs/common';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { moduleClass, nestHarness } from './helpers/nest.js';
import { GatewayModule, GatewayService } from '@llmux/nestjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES = ['core', 'express', 'koa', 'nestjs', 'redis'];

const mockConfig = () => ({ targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }] });
const hi = [{ role: 'user' as const, content: 'hi' }];

const { boot } = nestHarness({ abortOnError: false });

describe('@llmux/nestjs', () => {
  // Regression. DESIGN.md: "`GatewayModule.forRoot(options)` in NestJS — gives the app an `/llm` route";
  // README: "NestJS (the global prefix applies …)". Nest routes `/t/acme/llm/v1/models` to the gateway's
  // controller, but gateway-controller.ts:19-22 (pathBelowRoute) strips the route *pattern*
  // (`/t/:tenant/llm`) from the URL literally, so the gateway sees path `/` and answers
  // `404 no route for GET /`. Same for a basePath with a parameter, and for `/LLM/v1/models`
  // (Express matches case-insensitively). Fix: take the path from the wildcard parameter
  // (`req.params.path` on Express 5 — an array, join with '/'; `req.params[0]` on Express 4) plus the
  // query string of `req.url`.
  it('serves the gateway under a global prefix that has a route parameter', async () => {
    const url = await boot(moduleClass({ imports: [GatewayModule.forRoot({ config: mockConfig(), logger: false })] }), (a) =>
      a.setGlobalPrefix('t/:tenant'),
    );
    const res = await fetch(`${url}/t/acme/llm/v1/models`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('list');
    // Express matches routes without regard to case; the gateway must see its own path all the same.
    const upper = await fetch(`${url}/t/acme/LLM/v1/models?x=1`);
    expect(upper.status).toBe(200);
  });

  it('serves the gateway under a basePath that has a route parameter, query string kept', async () => {
    const url = await boot(moduleClass({ imports: [GatewayModule.forRoot({ basePath: '/org/:org/llm', config: mockConfig(), logger: false })] }));
    const res = await fetch(`${url}/org/acme/llm/v1/models?limit=5`);
    expect(res.status).toBe(200);
    const missing = await fetch(`${url}/org/acme/llm/v1/nothing-here`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain('/v1/nothing-here');
  });

  // Regression. Brief/DESIGN: GatewayService calls the gateway "same routing, cache, budgets" as the route.
  // Importing `GatewayModule.forRoot(sameOptions)` in a feature module too (the usual way to get
  // GatewayService there without isGlobal) boots without a word, builds a second gateway and a second
  // controller on the same `/llm` route (never reachable), and the feature's GatewayService counts
  // budgets and rate limits apart from the HTTP route. module-definition.ts:39-48 adds a controller and
  // a gateway per forRoot with no check. Fix: fail at boot when two GatewayModules claim one basePath
  // (e.g. a per-HttpAdapter registry checked in onModuleInit), naming `isGlobal: true` as the remedy.
  it('two GatewayModules on one basePath fail clearly, or share one gateway', async () => {
    const options = () => ({ config: { ...mockConfig(), rate_limit: { requests_per_minute: 1 } }, logger: false as const });
    class Feature {
      constructor(readonly llm: GatewayService) {}
    }
    Inject(GatewayService)(Feature, undefined as never, 0);
    Injectable()(Feature);
    const FeatureModule = moduleClass({ imports: [GatewayModule.forRoot(options())], providers: [Feature] });
    await expect(boot(moduleClass({ imports: [GatewayModule.forRoot(options()), FeatureModule] }))).rejects.toThrow(
      /GatewayModule is imported twice for basePath "\/llm".*isGlobal: true/,
    );
  });

  it('two GatewayModules on different basePaths serve both', async () => {
    const url = await boot(
      moduleClass({
        imports: [
          GatewayModule.forRoot({ config: mockConfig(), logger: false }),
          moduleClass({ imports: [GatewayModule.forRoot({ basePath: '/ai', config: mockConfig(), logger: false })] }),
        ],
      }),
    );
    expect((await fetch(`${url}/llm/v1/models`)).status).toBe(200);
    expect((await fetch(`${url}/ai/v1/models`)).status).toBe(200);
  });
});

describe('@llmux/redis types', () => {
  // Regression. packages/redis/src/create-redis-store.ts (RedisStoreOptions.client?: RedisClientType, and
  // RedisStore.client) — README documents "client: an already-connected client to use instead of
  // `url`", but with the very redis version the package declares (^5.12.1), `createClient({ url })`
  // is RedisClientType<RedisDefaultModules, {}, {}, RespVersions, …> and does not fit the bare
  // RedisClientType (RESP 2) under `strict`: TS2322 "Type '3' is not assignable to type '2'".
  // Fix: type it `RedisClientType<any, any, any, any, any>` (or a small structural interface).
  it('createRedisStore({ client: createClient(...) }) type-checks under strict', () => {
    const virtual = join(root, 'test', '__redis_client_types__.ts');
    const source = [
      "import { createClient } from 'redis';",
      "import { createRedisStore } from '../packages/redis/src/index.js';",
      "const client = createClient({ url: 'redis://127.0.0.1:6379' });",
      "export const store = createRedisStore({ client, prefix: 'x:' });",
    ].join('\n');
    const options: ts.CompilerOptions = {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
    };
    const host = ts.createCompilerHost(options);
    const { getSourceFile, fileExists, readFile } = host;
    host.fileExists = (f) => resolve(f) === virtual || fileExists(f);
    host.readFile = (f) => (resolve(f) === virtual ? source : readFile(f));
    host.getSourceFile = (f, lang, ...rest) =>
      resolve(f) === virtual ? ts.createSourceFile(f, source, lang) : getSourceFile(f, lang, ...rest);
    const program = ts.createProgram([virtual], options, host);
    const errors = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && resolve(d.file.fileName) === virtual)
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]);
    expect(errors).toEqual([]);
  }, 60_000);
});

describe('packaging', () => {
  // Regression. DESIGN.md: "ESM and CJS builds with types". No package has a `prepack`/`prepublishOnly`
  // script (packages/*/package.json "scripts": { "build": "tsup" } only), so `npm pack` / `npm publish`
  // ship whatever dist/ happens to be there. Reproduced: `npm pack packages/core` right now ships a
  // dist/ built before commits e0d2738/da2bdcc/223e95b (its index.d.ts has no `SettleOptions`, which
  // src/index.ts exports), and @llmux/redis's dist predates its src/limits.ts. A fresh clone packs no
  // dist at all → a package whose `main`/`exports` point at missing files. Fix: "prepack": "npm run build".
  it('every package builds its dist/ before it is packed or published', () => {
    const missing = PACKAGES.filter((dir) => {
      const pkg = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
      return !/build|tsup/.test(`${pkg.scripts?.prepack ?? ''} ${pkg.scripts?.prepublishOnly ?? ''}`);
    });
    expect(missing).toEqual([]);
  });

  // Regression (low severity). The tarball of @llmux/core ships dist/*.cjs.map whose `sources` include
  // "/work/main/packages/core/dist/index.cjs" (…/node.cjs, chunk-*.cjs, …) with no sourcesContent: an
  // absolute path of the build machine, missing in every install, so `--enable-source-maps` stack
  // frames for those lines point nowhere. Cause: packages/core/tsup.config.ts `splitting: true` for the
  // CJS format (tsup's experimental CJS code splitting re-maps its own output). Fix: split only ESM
  // (two configs, or `splitting: false` for cjs), or ship no maps.
  it('shipped source maps name only files that are in the package or embedded', () => {
    const bad: string[] = [];
    for (const dir of PACKAGES) {
      const dist = join(root, 'packages', dir, 'dist');
      if (!existsSync(dist)) continue;
      for (const file of readdirSync(dist).filter((f) => f.endsWith('.map'))) {
        const map = JSON.parse(readFileSync(join(dist, file), 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
        map.sources.forEach((source, i) => {
          if (map.sourcesContent?.[i]) return;
          const inPackage = !source.startsWith('/') && resolve(dirname(join(dist, file)), source).startsWith(join(root, 'packages', dir, 'dist'));
          if (!inPackage) bad.push(`${dir}/dist/${file}: ${source}`);
        });
      }
    }
    expect(bad).toEqual([]);
  });
});
