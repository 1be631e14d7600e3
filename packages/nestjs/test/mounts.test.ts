import { describe, expect, it } from 'vitest';
import { registeredMounts } from '../src/parser-refusals.js';
import { claimBasePath, servedBasePaths } from '../src/served-paths.js';

const express = () => ({ getType: () => 'express' });
/** An Express 5 app whose router holds routes at these paths. */
const appWith = (...paths: string[]) => ({ router: { stack: paths.map((path) => ({ route: { path } })) } });

describe('claimBasePath', () => {
  it('refuses a basePath under another, in either order, naming both', () => {
    for (const [first, second] of [
      ['/llm', '/llm/internal'],
      ['/LLM/internal/', '/llm'],
      ['/', '/llm'],
      ['/org/:org/llm', '/org/acme'],
    ]) {
      const adapter = express();
      claimBasePath(adapter, first!);
      expect(() => claimBasePath(adapter, second!)).toThrow(/basePath "[^"]+" lies under the basePath "[^"]+"/);
    }
  });

  it('takes paths beside each other, and keeps what it took', () => {
    const adapter = express();
    for (const path of ['/llm', '/llm2', '/team/llm', '/llm-internal']) claimBasePath(adapter, path);
    expect(servedBasePaths(adapter)).toEqual(['/llm', '/llm2', '/team/llm', '/llm-internal']);
  });
});

describe('registeredMounts', () => {
  const app = appWith('/llm/{*path}', '/llm', '/team/llm/{*path}', '/team/llm', '/health');
  const basePaths = ['/llm', '/team/llm'];

  it("gives a route that ends with two modules' basePaths to the longer one", () => {
    expect(registeredMounts(app, '/llm', '{*path}', basePaths)).toEqual([['llm']]);
    expect(registeredMounts(app, '/team/llm', '{*path}', basePaths)).toEqual([['team', 'llm']]);
  });

  it('finds the route under a global prefix, whatever its case, with parameters', () => {
    expect(registeredMounts(appWith('/api/LLM/{*path}'), '/llm', '{*path}', ['/llm'])).toEqual([['api', 'llm']]);
    expect(registeredMounts(appWith('/org/:org/llm/{*path}'), '/org/:org/llm', '{*path}', ['/org/:org/llm'])).toEqual([['org', ':', 'llm']]);
  });
});
