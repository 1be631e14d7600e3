import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type Gateway, type GatewayOptions } from '@llmux/core';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let up: MockUpstream;
const gateways: Gateway[] = [];
const lookups: string[] = [];

/** DNS for made-up names, so the guard is tested without a network. */
const dns: Record<string, string[]> = {
  'public.example': ['203.0.113.10'],
  'internal.example': ['10.1.2.3'],
  'metadata.google.internal': ['169.254.169.254'],
  'rebind.example': ['203.0.113.11', '127.0.0.1'],
  'v6.example': ['fd00::1'],
};
const resolveHost = async (host: string) => {
  lookups.push(host);
  const found = dns[host];
  if (!found) throw new Error(`ENOTFOUND ${host}`);
  return found;
};

beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => {
  up.reset();
  lookups.length = 0;
  up.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
});

function gateway(options: GatewayOptions) {
  const g = createGateway({ resolveHost, ...options });
  gateways.push(g);
  return g;
}

const chat = (g: Gateway, headers: Record<string, string>) =>
  g.handle({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', ...headers },
    body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
  });

const errorOf = (res: { body: unknown }) => (res.body as { error: { message: string; param: string; code: string } }).error;
const configHeader = (custom_host: string) => ({ 'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'sk-client', custom_host }) });

describe('request-level config is refused unless the server allows it', () => {
  const g = () => gateway({ config: { provider: 'mock' } });

  it.each([
    ['x-portkey-config', JSON.stringify({ provider: 'mock' })],
    ['x-llmux-config', JSON.stringify({ provider: 'mock' })],
    ['x-portkey-provider', 'openai'],
    ['x-llmux-provider', 'openai'],
    ['x-portkey-custom-host', 'http://10.0.0.1'],
  ])('%s → 403 naming the header', async (name, value) => {
    const res = await chat(g(), { [name]: value });
    expect(res.status).toBe(403);
    expect(errorOf(res).message).toContain(name.replace(/^x-(portkey|llmux)-/, ''));
    expect(res.headers['x-portkey-trace-id']).toMatch(/.+/);
  });

  it('metadata is always accepted', async () => {
    const res = await chat(g(), { 'x-portkey-metadata': JSON.stringify({ user: 'u1' }) });
    expect(res.status).toBe(200);
  });
});

describe('request-level config when allowed', () => {
  it('routes by a config the client sent', async () => {
    const g = gateway({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], config: { provider: 'mock' } });
    const res = await chat(g, {
      'x-llmux-config': JSON.stringify({
        strategy: { mode: 'fallback' },
        targets: [
          { provider: 'openai', api_key: 'sk-a', custom_host: `${up.url}/down/v1` },
          { provider: 'openai', api_key: 'sk-b', custom_host: `${up.url}/v1` },
        ],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-llmux-target']).toBe('x-llmux-config.targets[1]');
    expect(up.requests.map((r) => r.headers.authorization)).toEqual(['Bearer sk-a', 'Bearer sk-b']);
  });

  it('x-portkey-provider with Authorization: the client’s key goes to the provider', async () => {
    const g = gateway({ allowRequestConfig: true, providers: { openai: { baseURL: `${up.url}/v1`, apiKey: 'sk-server' } } });
    const res = await chat(g, { 'x-portkey-provider': 'openai', authorization: 'Bearer sk-client-own' });
    expect(res.status).toBe(200);
    expect(up.requests[0]!.headers.authorization).toBe('Bearer sk-client-own');
  });

  it('x-portkey-custom-host with a provider passes the same guard', async () => {
    const allowed = gateway({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'] });
    expect((await chat(allowed, { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${up.url}/v1`, authorization: 'Bearer k' })).status).toBe(200);
    up.reset();
    const strict = gateway({ allowRequestConfig: true });
    const res = await chat(strict, { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${up.url}/v1`, authorization: 'Bearer k' });
    expect(res.status).toBe(403);
    expect(errorOf(res).param).toBe('x-portkey-provider.custom_host');
    expect(up.requests).toHaveLength(0);
  });

  it('a saved config id or broken JSON is a 400 naming the header', async () => {
    const g = gateway({ allowRequestConfig: true });
    const saved = await chat(g, { 'x-portkey-config': 'pc-abc123' });
    expect(saved.status).toBe(400);
    expect(errorOf(saved).message).toContain('saved config ids are not supported');
    const broken = await chat(g, { 'x-portkey-config': '{"targets": [' });
    expect(broken.status).toBe(400);
    expect(errorOf(broken).param).toBe('x-portkey-config');
    const invalid = await chat(g, { 'x-portkey-config': JSON.stringify({ targets: [{ provider: 'openai', weight: 'heavy' }] }) });
    expect(invalid.status).toBe(400);
    expect(errorOf(invalid).message).toContain('x-portkey-config.targets[0].weight');
  });

  it('never lifts the server’s budgets, rate limits or deadline', () => {
    const g = gateway({
      allowRequestConfig: true,
      config: { provider: 'mock', budget: { max_cost_per_day: 5 }, rate_limit: { requests_per_minute: 10 }, deadline: 30_000 },
    });
    const plan = g.internals.plans.forRequest({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'x-portkey-config': JSON.stringify({ provider: 'mock', budget: { max_cost_per_day: 5000 }, rate_limit: { requests_per_minute: 1e6 }, deadline: 999_999 }) },
    });
    expect(plan.budgets).toEqual([{ max_cost_per_day: 5 }]);
    expect(plan.rateLimits).toEqual([{ requests_per_minute: 10 }]);
    expect(plan.deadline).toBe(30_000);
  });
});

describe('SSRF guard for client-supplied hosts', () => {
  const g = () => gateway({ allowRequestConfig: true });

  it.each([
    ['http://10.0.0.5/v1', 'private'],
    ['http://172.20.1.1/v1', 'private'],
    ['http://192.168.1.10/v1', 'private'],
    ['http://127.0.0.1:8080/v1', 'loopback'],
    ['http://2130706433/v1', 'loopback as a number'],
    ['http://0x7f.1/v1', 'loopback in hex'],
    ['http://169.254.169.254/latest/meta-data', 'cloud metadata'],
    ['http://100.64.0.1/v1', 'CGNAT'],
    ['http://0.0.0.0:11434/v1', 'unspecified'],
    ['http://[::1]/v1', 'IPv6 loopback'],
    ['http://[fd12:3456::1]/v1', 'IPv6 unique local'],
    ['http://[fe80::1]/v1', 'IPv6 link local'],
    ['http://[::ffff:10.0.0.1]/v1', 'IPv4-mapped private'],
    ['http://localhost:8000/v1', 'localhost'],
    ['http://internal.example/v1', 'a name resolving to a private address'],
    ['http://metadata.google.internal/computeMetadata/v1', 'a name resolving to the metadata address'],
    ['http://rebind.example/v1', 'a name with one private address among public ones'],
    ['http://v6.example/v1', 'a name resolving to a unique-local IPv6 address'],
  ])('refuses %s (%s) with 403 naming custom_host', async (host) => {
    const res = await chat(g(), configHeader(host));
    expect(res.status).toBe(403);
    expect(errorOf(res).param).toBe('x-portkey-config.custom_host');
    expect(errorOf(res).message).toContain('options.allowedHosts');
  });

  it.each([['file:///etc/passwd'], ['ftp://public.example/v1'], ['gopher://public.example:70/']])('refuses %s with 400: http(s) only', async (host) => {
    const res = await chat(g(), configHeader(host));
    expect(res.status).toBe(400);
    expect(errorOf(res).param).toBe('x-portkey-config.custom_host');
  });

  it('refuses a name that does not resolve', async () => {
    const res = await chat(g(), configHeader('http://nowhere.example/v1'));
    expect(res.status).toBe(400);
    expect(errorOf(res).message).toContain('could not be resolved');
  });

  it('lets a public name through the guard (the call itself then proceeds)', async () => {
    const res = await chat(gateway({ allowRequestConfig: true, resolveHost: async () => ['203.0.113.10'], config: { provider: 'mock' } }), {
      'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'k', custom_host: 'http://public.example:1/v1', request_timeout: 500 }),
    });
    expect(res.status).not.toBe(403);
    expect(res.status).not.toBe(400);
  });

  it('checks nested targets and inherited hosts, too', async () => {
    const res = await chat(g(), {
      'x-portkey-config': JSON.stringify({
        provider: 'openai',
        custom_host: 'http://10.9.9.9/v1',
        targets: [{ api_key: 'a' }, { provider: 'mock' }],
      }),
    });
    expect(res.status).toBe(403);
  });

  it('allowedHosts opens named hosts (exact, wildcard, host:port)', async () => {
    for (const allowedHosts of [['127.0.0.1'], [`127.0.0.1:${new URL(up.url).port}`]]) {
      const res = await chat(gateway({ allowRequestConfig: true, allowedHosts }), configHeader(`${up.url}/v1`));
      expect(res.status).toBe(200);
    }
    const wild = gateway({ allowRequestConfig: true, allowedHosts: ['*.example'] });
    const res = await chat(wild, configHeader('http://internal.example:1/v1'));
    expect(res.status).not.toBe(403);
  });

  it('trusts hosts in the server’s own config', async () => {
    const g = gateway({ config: { provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` } });
    expect((await chat(g, {})).status).toBe(200);
    expect(lookups).toEqual([]);
  });
});
