import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import express from 'express';
import { gatewayMiddleware, type ExpressGatewayOptions } from '@llmux/express';
import { appFactories, type TestApp } from './helpers/apps.js';
import { MockUpstream } from './helpers/mock-upstream.js';

const twoTargets = {
  strategy: { mode: 'fallback' },
  targets: [
    { provider: 'mock', name: 'fast', override_params: { model: 'mock-fast' }, mock_response: 'from the first target' },
    { provider: 'mock', name: 'slow', override_params: { model: 'mock-slow' }, mock_response: 'from the second target', api_key: 'sk-planted-secret-123' },
  ],
};

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (open.length) await open.pop()!();
});

/** An Express app with the gateway mounted with `app.use(mount, mw)` — the framework strips the mount. */
async function expressAt(mount: string, options: ExpressGatewayOptions = {}): Promise<string> {
  const app = express();
  const mw = gatewayMiddleware({ basePath: mount, env: {}, ...options });
  app.use(mount, mw);
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  open.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await mw.close(100);
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${mount}`;
}

async function start(factory: keyof typeof appFactories, options: Parameters<(typeof appFactories)['express5']>[0] = {}): Promise<TestApp> {
  const app = await appFactories[factory]!({ env: {}, ...options });
  open.push(() => app.close());
  return app;
}

const chat = (text: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'anything', messages: [{ role: 'user', content: text }], ...extra });

describe('playground page', () => {
  it('serves one self-contained HTML page with a strict CSP and no absolute gateway URL', async () => {
    const app = await start('express5', { config: twoTargets });
    const res = await fetch(`${app.gatewayURL}/playground`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).toContain(`<script nonce="${nonce}">`);
    expect(html).toContain(`<style nonce="${nonce}">`);
    // Nothing from elsewhere, and no mount path baked in: the script derives it from location.
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/src=|<link rel="stylesheet"/);
    expect(html).not.toContain('/llm');
    // A fresh nonce per response.
    const again = await fetch(`${app.gatewayURL}/playground/`);
    expect(again.status).toBe(200);
    expect(again.headers.get('content-security-policy')).not.toContain(nonce);
  });

  it('lists the server config tree and models without keys or hosts', async () => {
    const app = await start('express5', { config: twoTargets });
    const res = await fetch(`${app.gatewayURL}/playground/api/info`);
    expect(res.status).toBe(200);
    const info = await res.json();
    expect(info).toMatchObject({
      object: 'llmux.playground.info',
      guarded: false,
      routing: 'config',
      models: ['mock-fast', 'mock-slow'],
      pin_header: 'x-llmux-playground-target',
      nodes: [
        { path: 'config', kind: 'strategy', mode: 'fallback', depth: 0, targets: 2 },
        { path: 'config.targets[0]', kind: 'target', provider: 'mock', model: 'mock-fast', name: 'fast', depth: 1 },
        { path: 'config.targets[1]', kind: 'target', provider: 'mock', model: 'mock-slow', name: 'slow', depth: 1 },
      ],
    });
    const text = JSON.stringify(info);
    expect(text).not.toContain('sk-planted-secret-123');
    expect(text).not.toContain('mock://');
  });

  it('pins a request to one target of the server config, streamed and not', async () => {
    const app = await start('express5', { config: twoTargets });
    const pinned = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[1]' },
      body: chat('hello'),
    });
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect((await pinned.json()).choices[0].message.content).toBe('from the second target');

    const streamed = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[1]' },
      body: chat('hello', { stream: true, stream_options: { include_usage: true } }),
    });
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    expect(streamed.headers.get('x-llmux-target')).toBe('config.targets[1]');
    const sse = await streamed.text();
    expect(sse).toContain('"usage"');
    expect(sse.trim().endsWith('data: [DONE]')).toBe(true);

    // Without a pin it routes like /v1/chat/completions: the fallback's first target answers.
    const unpinned = await fetch(`${app.gatewayURL}/playground/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('hello') });
    expect(unpinned.headers.get('x-llmux-target')).toBe('config.targets[0]');
  });

  it('refuses a pin outside the server config, and pins combined with request-level config', async () => {
    const app = await start('express5', { config: twoTargets, allowRequestConfig: true });
    const unknown = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[7]' },
      body: chat('hi'),
    });
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error).toMatchObject({ param: 'x-llmux-playground-target', message: expect.stringContaining('config.targets[7]') });

    const mixed = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-llmux-playground-target': 'config.targets[0]',
        'x-llmux-config': JSON.stringify({ provider: 'openai', custom_host: 'http://169.254.169.254/v1' }),
      },
      body: chat('hi'),
    });
    expect(mixed.status).toBe(400);
    expect((await mixed.json()).error.param).toBe('x-llmux-playground-target');

    // The pin header means nothing on the public chat route.
    const ignored = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[1]' },
      body: chat('hi'),
    });
    expect(ignored.headers.get('x-llmux-target')).toBe('config.targets[0]');
  });

  it('says which targets exist when the gateway routes by model name', async () => {
    const app = await start('express5');
    const info = await (await fetch(`${app.gatewayURL}/playground/api/info`)).json();
    expect(info).toMatchObject({ routing: 'model', nodes: [] });
    const res = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config' },
      body: chat('hi'),
    });
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toContain('routes by model name');
  });

  it('asks for the admin key on its API once one is configured; the page itself stays reachable', async () => {
    const app = await start('express5', { config: twoTargets, adminKey: 'admin-secret' });
    expect((await fetch(`${app.gatewayURL}/playground`)).status).toBe(200);
    for (const path of ['/playground/api/info', '/playground/api/usage', '/playground/api/requests']) {
      const missing = await fetch(`${app.gatewayURL}${path}`);
      expect(missing.status, path).toBe(401);
      expect((await missing.json()).error.type).toBe('authentication_error');
      const wrong = await fetch(`${app.gatewayURL}${path}`, { headers: { 'x-llmux-admin-key': 'admin-secreT' } });
      expect(wrong.status, path).toBe(401);
      const right = await fetch(`${app.gatewayURL}${path}`, { headers: { 'x-llmux-admin-key': 'admin-secret' } });
      expect(right.status, path).toBe(200);
    }
    const chatNoKey = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[1]' },
      body: chat('hi'),
    });
    expect(chatNoKey.status).toBe(401);
    const info = await (await fetch(`${app.gatewayURL}/playground/api/info`, { headers: { authorization: 'Bearer admin-secret' } })).json();
    expect(info.guarded).toBe(true);
  });

  it('is gone with playground: false', async () => {
    const app = await start('express5', { config: twoTargets, playground: false });
    for (const path of ['/playground', '/playground/api/info', '/playground/api/usage']) {
      const res = await fetch(`${app.gatewayURL}${path}`);
      expect(res.status, path).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    }
    const res = await fetch(`${app.gatewayURL}/playground/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('hi') });
    expect(res.status).toBe(404);
    expect(() => gatewayMiddleware({ playground: 'yes' as never })).toThrow(/options\.playground/);
  });

  it('shows budgets and rate limits in the usage API', async () => {
    const app = await start('express5', {
      config: { ...twoTargets, budget: { max_cost_per_day: 5 }, rate_limit: { requests_per_minute: 100 } },
    });
    await fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('count me') });
    const usage = await (await fetch(`${app.gatewayURL}/playground/api/usage`)).json();
    expect(usage.object).toBe('llmux.playground.usage');
    expect(usage.budgets[0]).toMatchObject({ scope: 'gateway', metric: 'cost', period: 'day', limit: 5, remaining: 5 });
    expect(usage.rate_limits[0]).toMatchObject({ scope: 'gateway', metric: 'requests', limit: 100, used: 1, remaining: 99 });
  });
});

describe('playground with gateway keys (auth)', () => {
  const auth = { keys: [{ name: 'team-a', key: 'llmux-team-a-0123456789' }], adminKeys: ['llmux-admin-0123456789'] };

  it('needs an admin key for its API, and lets the admin chat without a gateway key', async () => {
    const app = await start('express5', { config: twoTargets, auth });
    expect((await fetch(`${app.gatewayURL}/playground`)).status).toBe(200);
    const noKey = await fetch(`${app.gatewayURL}/playground/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('hi') });
    expect(noKey.status).toBe(401);
    // A gateway key is not an admin key.
    const gatewayKey = await fetch(`${app.gatewayURL}/playground/api/info`, { headers: { 'x-llmux-admin-key': 'llmux-team-a-0123456789' } });
    expect(gatewayKey.status).toBe(401);
    const info = await (await fetch(`${app.gatewayURL}/playground/api/info`, { headers: { 'x-llmux-admin-key': 'llmux-admin-0123456789' } })).json();
    expect(info).toMatchObject({ guarded: true, auth: true });
    const asAdmin = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-admin-key': 'llmux-admin-0123456789', 'x-llmux-playground-target': 'config.targets[1]' },
      body: chat('hi'),
    });
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.headers.get('x-llmux-target')).toBe('config.targets[1]');
    // The public route still wants a gateway key.
    const publicRoute = await fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('hi') });
    expect(publicRoute.status).toBe(401);
  });

  it('is absent when auth is set but no admin key exists', async () => {
    const app = await start('express5', { config: twoTargets, auth: { keys: auth.keys } });
    expect((await fetch(`${app.gatewayURL}/playground`)).status).toBe(404);
    expect((await fetch(`${app.gatewayURL}/playground/api/info`)).status).toBe(404);
    const res = await fetch(`${app.gatewayURL}/playground/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('hi') });
    expect(res.status).toBe(404);
  });
});

describe('playground facts from the log ring', () => {
  it('finds a request by trace id with its attempts and fallbacks', async () => {
    const upstream = await new MockUpstream().start();
    open.push(() => upstream.close());
    upstream.route('/v1/chat/completions', { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } });
    const app = await start('express5', {
      adminKey: 'admin-secret',
      config: {
        strategy: { mode: 'fallback' },
        targets: [
          // The admin key must never reach a provider, even one told to forward such headers.
          { provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1`, override_params: { model: 'gpt-4o-mini' }, forward_headers: ['x-llmux-admin-key', 'authorization'] },
          { provider: 'mock', override_params: { model: 'mock-1' } },
        ],
      },
    });
    const admin = { 'x-llmux-admin-key': 'admin-secret' };
    const res = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer admin-secret', ...admin, 'x-llmux-playground-target': 'config' },
      body: chat('fall back please', { stream: true, stream_options: { include_usage: true } }),
    });
    expect(res.headers.get('x-llmux-target')).toBe('config.targets[1]');
    await res.text();
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.headers['x-llmux-admin-key']).toBeUndefined();
    expect(upstream.requests[0]!.headers.authorization).toBe('Bearer sk-upstream');

    const traceId = res.headers.get('x-llmux-trace-id')!;
    const found = await (await fetch(`${app.gatewayURL}/playground/api/requests?trace_id=${traceId}`, { headers: admin })).json();
    expect(found.available).toBe(true);
    expect(found.data).toHaveLength(1);
    expect(found.data[0]).toMatchObject({
      trace_id: traceId,
      route: 'chat',
      model: 'mock-1',
      target: 'config.targets[1]',
      status: 200,
      fallbacks: 1,
      cache: 'DISABLED',
      attempts: [
        { target: 'config.targets[0]', provider: 'openai', status: 503 },
        { target: 'config.targets[1]', provider: 'mock', status: 200 },
      ],
    });
    expect(JSON.stringify(found)).not.toContain('sk-upstream');
    const usage = await (await fetch(`${app.gatewayURL}/playground/api/usage`, { headers: admin })).json();
    expect(usage.recent.requests.map((r: { trace_id: string }) => r.trace_id)).toContain(traceId);
  });

  it('computes the cache hit rate over recent lookups', async () => {
    const app = await start('express5', { config: { cache: { mode: 'simple' }, targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }] } });
    for (let i = 0; i < 3; i++) {
      await (await fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('same question') })).text();
    }
    await (await fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('other question') })).text();
    const usage = await (await fetch(`${app.gatewayURL}/playground/api/usage`)).json();
    expect(usage.cache).toEqual({ lookups: 4, hits: 2, hit_rate: 0.5 });
  });

  it('says when the ring is turned off', async () => {
    const app = await start('express5', { config: twoTargets, recentRequests: 0 });
    const usage = await (await fetch(`${app.gatewayURL}/playground/api/usage`)).json();
    expect(usage.recent).toEqual({ available: false, requests: [] });
  });
});

describe('playground under other mount points', () => {
  it('answers under a custom basePath with app.use(mount, middleware)', async () => {
    const gatewayURL = await expressAt('/internal/ai', { config: twoTargets });
    const page = await fetch(`${gatewayURL}/playground`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('llmux playground');
    const info = await fetch(`${gatewayURL}/playground/api/info`);
    expect((await info.json()).nodes).toHaveLength(3);
    expect((await fetch(`${gatewayURL.replace('/internal/ai', '/llm')}/playground`)).status).toBe(404);
  });

  it('answers under a NestJS global prefix', async () => {
    const app = await start('nestjs-prefixed', { config: twoTargets });
    expect(app.gatewayURL).toMatch(/\/api\/llm$/);
    const page = await fetch(`${app.gatewayURL}/playground`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const info = await fetch(`${app.gatewayURL}/playground/api/info`);
    expect((await info.json()).routing).toBe('config');
    const pinned = await fetch(`${app.gatewayURL}/playground/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[1]' },
      body: chat('through nest'),
    });
    expect(pinned.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect((await fetch(`${app.url}/llm/playground`)).status).toBe(404);
  });

  it('answers under Koa', async () => {
    const app = await start('koa3', { config: twoTargets });
    expect((await fetch(`${app.gatewayURL}/playground`)).status).toBe(200);
    expect((await fetch(`${app.gatewayURL}/playground/api/info`)).status).toBe(200);
  });
});
