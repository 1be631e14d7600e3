/**
 * Edges from an adversarial review: gateway keys, admin routes, client configs, `identify`, and the
 * NestJS module. The regressions are marked (expected / what happened before the fix).
 */
import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, GatewayError, type Gateway, type GatewayOptions } from '@llmux/core';
import { GatewayModule, GatewayService } from '@llmux/nestjs';
import { appFactories } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { sleep, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { moduleClass, nestHarness } from './helpers/nest.js';

const KEY_A = 'llmux-team-a-0123456789abcdef';
const KEY_B = 'llmux-team-b-fedcba9876543210';
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const hi = [{ role: 'user' as const, content: 'Hi' }];

let up: MockUpstream;
const gateways: Gateway[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => {
  up.reset();
  up.route('*', { json: COMPLETION });
});

function gateway(options: GatewayOptions): Gateway {
  const g = createGateway({ env: {}, logger: false, ...options });
  gateways.push(g);
  return g;
}
/** A server config whose one target is the mock upstream (under `path`). */
const serverConfig = (path = 'v1') => ({ targets: [{ provider: 'openai', api_key: 'sk-test-server', custom_host: `${up.url}/${path}` }] });
const postChat = (base: string, body: Record<string, unknown> = {}, init: RequestInit = {}) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: hi, ...body }),
    ...init,
  });

describe('gateway keys and client configs', () => {
  // Regression (fixed). auth-options.ts: a key's `models` are "Models or aliases this key may request … Another model is
  // refused with 403", and auth-stage.ts says of client configs: "every model it may send upstream must be
  // allowed". On Azure the deployment *is* the model, and a client config may name any `deployment_id`:
  // a key limited to gpt-4o-mini, sending model "gpt-4o-mini" with the portkey-ai SDK's `config`, gets the
  // gpt-4o deployment called with the server's Azure key.
  // Expected: 403 forbidden naming the model, nothing sent upstream.
  // Was: 200; the upstream got POST /azure/openai/deployments/gpt-4o/chat/completions with `api-key: <server key>`.
  // Diagnosis: auth-stage.ts:30 checks `candidatesFor` (cost/model-names.ts:7-11 `upstreamModel`), which only
  // knows override_params.model and aliases; the Azure preset (providers/openai-compatible/presets.ts:33)
  // calls `extra.deployment_id ?? ctx.model`. A client-set deployment_id is a model choice the check never sees
  // (the budget reservation is priced for the wrong model too).
  it('a restricted key cannot reach another Azure deployment through a client config deployment_id (portkey-ai SDK)', async () => {
    const app = await appFactories.express5!({
      env: {},
      logger: false,
      allowRequestConfig: true,
      providers: { 'azure-openai': { baseURL: `${up.url}/azure`, apiKey: 'server-azure-key-0123' } },
      config: { targets: [{ provider: 'azure-openai', deployment_id: 'gpt-4o-mini' }] },
      auth: { keys: [{ key: KEY_B, name: 'team-b', models: ['gpt-4o-mini'] }] },
    } as never);
    try {
      const client = new Portkey({
        apiKey: KEY_B,
        baseURL: `${app.gatewayURL}/v1`,
        config: { targets: [{ provider: 'azure-openai', deployment_id: 'gpt-4o' }] },
      } as never);
      const result = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: hi }).then(
        () => 200,
        (e: { status?: number }) => e.status,
      );
      const deployments = up.requests.map((r) => /deployments\/([^/]+)\//.exec(r.path)?.[1]);
      expect(deployments).not.toContain('gpt-4o');
      expect(result).toBe(403);
    } finally {
      await app.close();
    }
  });

  // Passing (not covered elsewhere): the model list applies on the Anthropic ingress too, in Anthropic's shape.
  it('a restricted key on /v1/messages gets an Anthropic-shaped 403 naming the model, nothing sent upstream', async () => {
    const g = gateway({ config: serverConfig(), auth: { keys: [{ key: KEY_B, name: 'team-b', models: ['gpt-4o-mini'] }] } });
    const res = await g.handle({
      method: 'POST',
      path: '/v1/messages',
      headers: { 'x-api-key': KEY_B, 'content-type': 'application/json' },
      body: { model: 'claude-3-opus-20240229', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ type: 'error', error: { type: 'permission_error', message: expect.stringContaining('claude-3-opus-20240229') } });
    expect(up.requests).toHaveLength(0);
  });
});

describe('identify', () => {
  // Regression (fixed). DESIGN.md: a request's `signal` "fires when the client goes away: the upstream call must stop".
  // With an async `identify` (a session or JWT lookup), a client that gives up while it runs still gets its
  // request sent upstream and billed, on every adapter.
  // Expected: no upstream call completes for a client that already left (none made, or it is aborted).
  // Was: the upstream gets the request 300 ms after the client left and answers it in full (aborted: 0).
  // Diagnosis: express/src/index.ts:43-45, koa/src/index.ts:107-109 and nestjs/src/gateway-controller.ts:52-55
  // call `abortLinkFor(res)` only after `await identify(req)`; abortLinkFor (core/src/node/abort-signal.ts:47-61)
  // only listens for a future 'close', which already fired, so the link never aborts.
  for (const name of ['express5', 'koa3', 'nestjs']) {
    it(`${name}: a client that leaves while an async identify runs causes no upstream call`, async () => {
      up.route('/slow/v1/chat/completions', { json: COMPLETION, delayMs: 400 });
      const app = await appFactories[name]!({
        env: {},
        logger: false,
        config: serverConfig('slow/v1'),
        identify: async () => {
          await sleep(300);
          return { user: 'u-1' };
        },
      } as never);
      try {
        const leave = new AbortController();
        const pending = postChat(app.gatewayURL, {}, { signal: leave.signal }).catch((e: unknown) => e);
        await sleep(100);
        leave.abort();
        await pending;
        await sleep(900);
        expect(up.requests.length).toBe(up.aborted);
      } finally {
        await app.close();
      }
    });
  }
});

describe('NestJS module', () => {
  const nest = nestHarness();

  // Passing (not covered elsewhere): app.close() waits for an HTTP stream in flight, which ends with [DONE].
  it('app.close() lets an HTTP stream in flight finish before resolving', async () => {
    up.route('/slow/v1/chat/completions', { chunks: STREAM, chunkDelayMs: 40 });
    const url = await nest.boot(moduleClass({ imports: [GatewayModule.forRoot({ config: serverConfig('slow/v1'), logger: false })] }));
    const res = await postChat(`${url}/llm`, { stream: true });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    let closed = false;
    const closing = nest.close().then(() => (closed = true));
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      if (!text.includes('"finish_reason":"stop"')) expect(closed).toBe(false);
    }
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await closing;
  });

  // Passing (not covered elsewhere): past `shutdownDeadlineMs` the stream is cut with an error event, never a clean end.
  it('app.close() past shutdownDeadlineMs cuts an endless stream with a gateway_closing error event', async () => {
    up.route('/endless/v1/chat/completions', { chunks: [...STREAM.slice(0, 3), ...Array(1000).fill(': keep-alive\n\n')], chunkDelayMs: 50 });
    const url = await nest.boot(
      moduleClass({ imports: [GatewayModule.forRoot({ config: serverConfig('endless/v1'), logger: false, shutdownDeadlineMs: 300 })] }),
    );
    const res = await postChat(`${url}/llm`, { stream: true });
    const reader = res.body!.getReader();
    await reader.read();
    const started = Date.now();
    const closing = nest.close().then(() => Date.now() - started);
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain('"code":"gateway_closing"');
    expect(text).not.toContain('[DONE]');
    expect(await closing).toBeLessThan(3000);
  });

  // Passing (not covered elsewhere): forRootAsync({ useClass }) with gateway keys; the openai SDK's apiKey is the key.
  it('forRootAsync({ useClass }) serves the gateway with its auth keys', async () => {
    class LlmOptions {
      createGatewayOptions() {
        return { config: serverConfig(), logger: false as const, auth: { keys: [{ key: KEY_A, name: 'team-a' }] } };
      }
    }
    Injectable()(LlmOptions);
    const url = await nest.boot(moduleClass({ imports: [GatewayModule.forRootAsync({ useClass: LlmOptions })] }));
    const withKey = new OpenAI({ baseURL: `${url}/llm/v1`, apiKey: KEY_A, maxRetries: 0 });
    expect((await withKey.chat.completions.create({ model: 'gpt-4o-mini', messages: hi })).object).toBe('chat.completion');
    const without = new OpenAI({ baseURL: `${url}/llm/v1`, apiKey: 'not-a-gateway-key', maxRetries: 0 });
    await expect(without.chat.completions.create({ model: 'gpt-4o-mini', messages: hi })).rejects.toMatchObject({ status: 401 });
    expect(up.requests).toHaveLength(1);
    expect(up.requests[0]!.headers.authorization).toBe('Bearer sk-test-server');
  });

  // Passing (not covered elsewhere): an identify that throws Nest's UnauthorizedException gets the host's 401; nothing is sent.
  it("identify throwing an HttpException answers the host's status without calling the provider", async () => {
    const identify = (req: { headers: Record<string, string | undefined> }) => {
      if (!req.headers['x-user']) throw new UnauthorizedException('sign in first');
      return { user: req.headers['x-user'] };
    };
    const url = await nest.boot(moduleClass({ imports: [GatewayModule.forRoot({ config: serverConfig(), logger: false, identify })] }));
    const refused = await postChat(`${url}/llm`);
    expect(refused.status).toBe(401);
    expect(up.requests).toHaveLength(0);
    expect((await postChat(`${url}/llm`, {}, { headers: { 'content-type': 'application/json', 'x-user': 'u-1' } })).status).toBe(200);
  });

  // Passing (not covered elsewhere): GatewayService calls carrying a key name get that key's model list.
  it("GatewayService.chat / stream with context.key apply that gateway key's model list", async () => {
    await nest.boot(
      moduleClass({ imports: [GatewayModule.forRoot({ config: serverConfig(), logger: false, auth: { keys: [{ key: KEY_B, name: 'team-b', models: ['gpt-4o-mini'] }] } })] }),
    );
    const service = nest.app()!.get(GatewayService);
    const refused = await service.chat({ model: 'gpt-4o', messages: hi }, { key: 'team-b' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect(refused).toMatchObject({ status: 403, param: 'model' });
    const streamed = await lastValueFrom(service.stream({ model: 'gpt-4o', messages: hi }, { key: 'team-b' }).pipe(toArray())).catch((e: unknown) => e);
    expect(streamed).toMatchObject({ status: 403 });
    expect(up.requests).toHaveLength(0);
  });
});

// Keep `Inject` referenced for decorator-free modules in future edits.
void Inject;
