/**
 * The adapters, routes and headers as a new user meets them: gateway keys beside a client's own
 * provider key, large bodies in the README's set-ups, HEAD, headers on failed requests, refused
 * request config on every route, the official SDKs on every adapter, GatewayService streams.
 */
import Anthropic from '@anthropic-ai/sdk';
import { Portkey } from 'portkey-ai';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { getEventListeners } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { gatewayMiddleware } from '@llmux/express';
import { GatewayModule, GatewayService } from '@llmux/nestjs';
import { appFactories, closeServer, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const hi = [{ role: 'user' as const, content: 'Hi' }];
const target = (extra: Record<string, unknown> = {}) => ({ provider: 'openai', api_key: 'sk-server', custom_host: `${upstream.url}/v1`, ...extra });
const chatBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'gpt-4o-mini', messages: hi, ...extra });

async function expressWith(options: Parameters<typeof gatewayMiddleware>[0], before?: (app: express.Express) => void) {
  const app = express();
  before?.(app);
  const mw = gatewayMiddleware({ logger: false, ...options });
  app.use(mw);
  const server = app.listen(0, '127.0.0.1') as Server;
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    gatewayURL: `${url}/llm`,
    async close() {
      await closeServer(server);
      await mw.close(100);
    },
  };
}

async function nestWith(options: Parameters<typeof GatewayModule.forRoot>[0], setup?: (app: NestExpressApplication) => void) {
  const M = class {};
  Module({ imports: [GatewayModule.forRoot({ logger: false, shutdownDeadlineMs: 200, ...options })] })(M);
  const app = await NestFactory.create<NestExpressApplication>(M as never, { logger: false });
  setup?.(app);
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    app,
    gatewayURL: `${url}/llm`,
    async close() {
      server.closeAllConnections();
      await app.close();
    },
  };
}

describe('gateway keys + allowRequestConfig: the client provider key in Authorization is the one used upstream', () => {
  // DESIGN.md "Details": "With allowRequestConfig and x-portkey-provider, the client's own
  // Authorization is the provider key (Portkey's behaviour)." The portkey-ai SDK sends the gateway key
  // as x-portkey-api-key (its `apiKey`) and the provider key as `Authorization`, so the two do not clash.
  // Before the fix, authenticate() strips Authorization whatever header carried the gateway key, and the target
  // then falls back to the server's own provider key: the client's key is ignored and the server pays.
  it('portkey-ai SDK (apiKey = gateway key, Authorization = provider key) reaches the provider with the client key', async () => {
    const gw = await expressWith({
      env: {},
      allowRequestConfig: true,
      providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-server-secret' } },
      config: { targets: [{ provider: 'openai' }] },
      auth: { keys: [{ key: 'llmux-gw-key-0123456789', name: 'team-a' }] },
    });
    try {
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      const pk = new Portkey({
        baseURL: `${gw.gatewayURL}/v1`,
        apiKey: 'llmux-gw-key-0123456789',
        provider: 'openai',
        Authorization: 'Bearer sk-client-own-key',
        maxRetries: 0,
      } as never);
      const res = await pk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
      expect(res.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
      expect(upstream.requests[0]!.headers.authorization).toBe('Bearer sk-client-own-key');
    } finally {
      await gw.close();
    }
  });
});

describe('large chat bodies (an image, a long history) reach the gateway in the set-ups the README gives', () => {
  // The gateway's own body limit is 10 MiB (`limits.maxBodyBytes`). A host's JSON parser that runs
  // first applies its own limit (Nest's and express.json()'s: 100 kB), so the README says how to
  // raise it (NestJS) or to mount the gateway before the parser (Express): these are those set-ups.
  const big = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(200_000) }] });

  it('NestJS with the body limit raised as the README shows: a 200 kB chat is answered', async () => {
    const nest = await nestWith({ config: { targets: [target()] } }, (app) => app.useBodyParser('json', { limit: '10mb' }));
    try {
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      const res = await fetch(`${nest.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
      expect(res.status, await res.text()).toBe(200);
      expect(upstream.requests).toHaveLength(1);
      expect(upstream.requests[0]!.json.messages[0].content).toHaveLength(200_000);
    } finally {
      await nest.close();
    }
  });

  it('Express with the gateway mounted before express.json(): a 200 kB chat is answered, the app keeps its parser', async () => {
    const gw = await expressWith({ config: { targets: [target()] } });
    try {
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION });
      const res = await fetch(`${gw.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
      expect(res.status, await res.text()).toBe(200);
      expect(upstream.requests[0]!.json.messages[0].content).toHaveLength(200_000);
    } finally {
      await gw.close();
    }
  });
});

describe('HEAD on the GET routes answers as GET does, without the body', () => {
  // DESIGN.md routes: `GET /v1/models`, a playground page. RFC 9110 §9.3.2: HEAD is GET without the
  // body, and "all general-purpose servers MUST support GET and HEAD"; Express and Koa routers do it for
  // every GET route. Before the fix, `HEAD /llm/v1/models` and `HEAD /llm/playground` are 405 with `Allow: GET`
  // (uptime checks and `curl -I` fail) on every adapter.
  for (const [name, start] of Object.entries(appFactories)) {
    it(`${name}: HEAD /v1/models and HEAD /playground answer like GET`, async () => {
      const app: TestApp = await start({ config: { targets: [target()] }, logger: false, playground: true });
      try {
        for (const path of ['/v1/models', '/playground']) {
          const head = await fetch(`${app.gatewayURL}${path}`, { method: 'HEAD' });
          const get = await fetch(`${app.gatewayURL}${path}`);
          expect(head.status, `HEAD ${path}`).toBe(200);
          expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
          expect(await head.text()).toBe('');
          expect((await get.text()).length).toBeGreaterThan(0);
        }
      } finally {
        await app.close();
      }
    });
  }
});

describe('failed requests still carry x-llmux-retries / x-llmux-target (and the Portkey names)', () => {
  // DESIGN.md "Headers": "Every response carries x-llmux-trace-id ..., x-llmux-provider, x-llmux-target
  // ..., x-llmux-retries ... and the same facts under Portkey's names (x-portkey-retry-attempt-count,
  // x-portkey-last-used-option-index ...)". An error after routing keeps only trace id and provider:
  // a 503 after two retries says nothing about the retries or which target answered.
  it('a 503 after `retry.attempts: 2` says 2 retries and names the target', async () => {
    const gw = await expressWith({ config: { targets: [target({ retry: { attempts: 2 } })] } });
    try {
      upstream.route('/v1/chat/completions', { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } });
      const res = await fetch(`${gw.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() });
      expect(res.status).toBe(503);
      expect(upstream.requests).toHaveLength(3);
      expect(res.headers.get('x-llmux-provider')).toBe('openai');
      expect(res.headers.get('x-llmux-retries')).toBe('2');
      expect(res.headers.get('x-portkey-retry-attempt-count')).toBe('2');
      expect(res.headers.get('x-llmux-target')).toBe('config.targets[0]');
    } finally {
      await gw.close();
    }
  });
});

describe('GET /v1/models refuses a request config the server does not allow, as every route does', () => {
  // DESIGN.md "Details": "Without allowRequestConfig, such headers are refused with a 4xx, not ignored."
  // README: "otherwise those headers get a 403". Chat, embeddings and messages refuse; models answers
  // 200 with the server's list, so a Portkey client configured with its own config is silently ignored.
  it('403 request_config_not_allowed on /v1/models too', async () => {
    const gw = await expressWith({ config: { targets: [target()] } });
    try {
      const res = await fetch(`${gw.gatewayURL}/v1/models`, { headers: { 'x-portkey-config': JSON.stringify({ targets: [{ provider: 'mock' }] }) } });
      expect(res.status).toBe(403);
      expect((await res.json()).error.code).toBe('request_config_not_allowed');
    } finally {
      await gw.close();
    }
  });
});

describe('SDKs and cancellation on every adapter', () => {
  for (const [name, start] of Object.entries(appFactories)) {
    it(`${name}: @anthropic-ai/sdk messages.stream, portkey-ai stream with x-portkey-config, non-stream client abort`, async () => {
      const app: TestApp = await start({ config: { targets: [target()] }, logger: false, allowRequestConfig: true, allowedHosts: ['127.0.0.1'] });
      try {
        upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
        const anthropic = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
        const stream = anthropic.messages.stream({ model: 'gpt-4o-mini', max_tokens: 100, messages: hi });
        let text = '';
        stream.on('text', (t) => (text += t));
        const final = await stream.finalMessage();
        expect(text.length).toBeGreaterThan(0);
        expect(final.content[0]).toMatchObject({ type: 'text', text });

        upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
        const pk = new Portkey({
          baseURL: `${app.gatewayURL}/v1`,
          apiKey: 'unused',
          config: { targets: [{ provider: 'openai', api_key: 'sk-client', custom_host: `${upstream.url}/v1` }] },
          maxRetries: 0,
        } as never);
        let pkText = '';
        for await (const c of (await pk.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true })) as any) pkText += c.choices[0]?.delta?.content ?? '';
        expect(pkText.length).toBeGreaterThan(5);
        expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer sk-client');

        upstream.enqueue('/v1/chat/completions', { hang: true });
        const ac = new AbortController();
        const pending = fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' }, body: chatBody() }).catch(() => undefined);
        await vi.waitFor(() => expect(upstream.requests).toHaveLength(3));
        ac.abort();
        await pending;
        await vi.waitFor(() => expect(upstream.aborted).toBe(1));
      } finally {
        await app.close();
      }
    });
  }
});

describe('GatewayService.stream', () => {
  it('errors the Observable when the upstream breaks mid-stream (never a clean complete)', async () => {
    const nest = await nestWith({ config: { targets: [target()] } });
    try {
      upstream.enqueue('/v1/chat/completions', { chunks: STREAM, cutAfter: 4, chunkDelayMs: 5 });
      const service = nest.app.get(GatewayService);
      await expect(lastValueFrom(service.stream({ model: 'gpt-4o-mini', messages: hi }).pipe(toArray()))).rejects.toThrow();
    } finally {
      await nest.close();
    }
  });

  it("the caller's own signal stops the stream, and a finished stream leaves no listener on it", async () => {
    const nest = await nestWith({ config: { targets: [target()] } });
    try {
      const service = nest.app.get(GatewayService);
      // One long-lived signal for many calls (a job's, a server's shutdown signal).
      const longLived = new AbortController();
      for (let i = 0; i < 3; i++) {
        upstream.enqueue('/v1/chat/completions', { chunks: STREAM });
        const chunks = await lastValueFrom(service.stream({ model: 'gpt-4o-mini', messages: hi }, undefined, { signal: longLived.signal }).pipe(toArray()));
        expect(chunks.length).toBeGreaterThan(1);
      }
      expect(getEventListeners(longLived.signal, 'abort')).toHaveLength(0);

      upstream.enqueue('/v1/chat/completions', { chunks: [STREAM[0]! + STREAM[1]!, ...STREAM.slice(2)], chunkDelayMs: 5000 });
      const failed = lastValueFrom(service.stream({ model: 'gpt-4o-mini', messages: hi }, undefined, { signal: longLived.signal }).pipe(toArray()));
      await vi.waitFor(() => expect(upstream.requests).toHaveLength(4));
      longLived.abort(new Error('shutting down'));
      await expect(failed).rejects.toThrow();
      await vi.waitFor(() => expect(upstream.aborted).toBe(1));
    } finally {
      await nest.close();
    }
  });

  it('unsubscribing before the first chunk aborts the pending upstream call', async () => {
    const nest = await nestWith({ config: { targets: [target()] } });
    try {
      upstream.enqueue('/v1/chat/completions', { hang: true });
      const service = nest.app.get(GatewayService);
      const sub = service.stream({ model: 'gpt-4o-mini', messages: hi }).subscribe({ error: () => undefined });
      await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
      sub.unsubscribe();
      await vi.waitFor(() => expect(upstream.aborted).toBe(1));
    } finally {
      await nest.close();
    }
  });
});
