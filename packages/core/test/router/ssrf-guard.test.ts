import { describe, expect, it } from 'vitest';
import { compileConfig } from '../../src/config/compile.js';
import type { PlanNode } from '../../src/config/plan.js';
import { builtinProviders, ProviderRegistry } from '../../src/providers/registry.js';
import { checkRequestHosts, connectGuard, isAllowedHost, parseRequestHost, standingOf, type RequestHost } from '../../src/router/ssrf-guard.js';

const url = (s: string) => new URL(s);

describe('allowedHosts entries', () => {
  it.each([
    ['localhost', 'http://localhost:8080/v1', true],
    ['localhost:8080', 'http://localhost:8080/v1', true],
    ['localhost:8080', 'http://localhost:8081/v1', false],
    ['LocalHost:8080', 'http://localhost:8080/v1', true],
    ['[::1]:8080', 'http://[::1]:8080/v1', true],
    ['[::1]:8080', 'http://[::1]:8081/v1', false],
    ['[::1]', 'http://[::1]:8081/v1', true],
    ['::1', 'http://[::1]:8081/v1', true],
    ['10.0.0.5:443', 'https://10.0.0.5/v1', true],
    ['10.0.0.5:80', 'https://10.0.0.5/v1', false],
    ['*.corp.example', 'http://llm.corp.example:9000/v1', true],
    ['*.corp.example', 'http://corp.example/v1', false],
  ])('%s against %s → %s', (entry, target, expected) => {
    expect(isAllowedHost(url(target), [entry])).toBe(expected);
  });

  it('connect-time guard: a name listed with a port counts for the socket, which never sees the port', () => {
    const guard = connectGuard(['localhost:8080', '[::1]:9', '*.corp.example']);
    expect(guard.isAllowedName('localhost')).toBe(true);
    expect(guard.isAllowedName('::1')).toBe(true);
    expect(guard.isAllowedName('llm.corp.example')).toBe(true);
    expect(guard.isAllowedName('example.com')).toBe(false);
  });
});

describe('standing of a client-chosen host', () => {
  const registry = new ProviderRegistry(builtinProviders());
  const compileClient = (customHost: string) => {
    const hosts: RequestHost[] = [];
    const plan = compileConfig(
      { provider: 'openai', api_key: 'k', custom_host: customHost },
      {
        registry,
        providers: {},
        env: {},
        clientConfig: true,
        onCustomHost: (u, param) => {
          const host = parseRequestHost(u, param);
          hosts.push(host);
          return host;
        },
      },
      'x-portkey-config',
    );
    return { target: (plan.root as Extract<PlanNode, { kind: 'target' }>).target, hosts };
  };

  it('is unknown until the pre-check judged it, then says why it passed', async () => {
    const listed = compileClient('http://127.0.0.1:9/v1');
    expect(standingOf(listed.target)).toBeUndefined();
    await checkRequestHosts(listed.hosts, ['127.0.0.1:9'], async () => []);
    expect(standingOf(listed.target)).toBe('listed');

    const open = compileClient('http://public.example/v1');
    await checkRequestHosts(open.hosts, [], async () => ['203.0.113.7']);
    expect(standingOf(open.target)).toBe('public');
  });
});
