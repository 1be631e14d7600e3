import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The built packages, as users install them: ESM `import` and CJS `require` (NestJS apps are often
 * CommonJS) both load, expose the contract's names, and ship type declarations for each.
 * `npm test` builds before running, so this checks the real `dist/`.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const PACKAGES: Record<string, { dir: string; exports: string[]; entries: string[] }> = {
  '@llmux/core': { dir: 'core', exports: ['createGateway', 'GatewayError', 'within'], entries: ['index', 'node'] },
  '@llmux/core/node': { dir: 'core', exports: ['writeResponse', 'abortSignalFor', 'abortLinkFor', 'jsonText', 'addTrailers', 'bodyFor', 'gatewayPath'], entries: [] },
  '@llmux/express': { dir: 'express', exports: ['gatewayMiddleware'], entries: ['index'] },
  '@llmux/koa': { dir: 'koa', exports: ['gatewayMiddleware'], entries: ['index'] },
  '@llmux/nestjs': { dir: 'nestjs', exports: ['GatewayModule', 'GatewayService'], entries: ['index'] },
  '@llmux/redis': { dir: 'redis', exports: ['createRedisStore'], entries: ['index'] },
};

const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();

describe('built packages', () => {
  for (const [name, { dir, exports, entries }] of Object.entries(PACKAGES)) {
    it(`${name} loads through require and import with its exports`, () => {
      const list = JSON.stringify(exports);
      const cjs = run(['-e', `const m = require(${JSON.stringify(name)}); console.log(JSON.stringify(${list}.filter((k) => !(k in m))))`]);
      const esm = run(['--input-type=module', '-e', `const m = await import(${JSON.stringify(name)}); console.log(JSON.stringify(${list}.filter((k) => !(k in m))))`]);
      expect(JSON.parse(cjs), 'missing from the CJS build').toEqual([]);
      expect(JSON.parse(esm), 'missing from the ESM build').toEqual([]);
      for (const entry of entries) {
        expect(existsSync(`${root}packages/${dir}/dist/${entry}.d.ts`), `${entry}.d.ts`).toBe(true);
        expect(existsSync(`${root}packages/${dir}/dist/${entry}.d.cts`), `${entry}.d.cts`).toBe(true);
      }
    });
  }

  it('a CommonJS app serves a chat completion through the built Express adapter', () => {
    const script = `
      const express = require('express');
      const { gatewayMiddleware } = require('@llmux/express');
      const app = express();
      const mw = gatewayMiddleware({ config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }] } });
      app.use(mw);
      const server = app.listen(0, '127.0.0.1', async () => {
        const res = await fetch('http://127.0.0.1:' + server.address().port + '/llm/v1/chat/completions', {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'ping' }] }),
        });
        const body = await res.json();
        console.log(res.status + ' ' + body.model);
        server.close(); await mw.close(100);
      });`;
    expect(run(['-e', script])).toBe('200 mock-1');
  });
});
