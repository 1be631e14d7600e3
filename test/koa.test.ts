import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Koa2 from 'koa2';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gatewayMiddleware, type GatewayMiddleware } from '@llmux/koa';
import { closeServer } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const chat = (stream = false) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream });
const post = (url: string, body: string) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

for (const [name, KoaClass] of [['koa3', Koa], ['koa2', Koa2]] as Array<[string, new () => any]>) {
  describe(`@llmux/koa on ${name}`, () => {
    let server: Server;
    let url: string;
    let mw: GatewayMiddleware<any>;
    /** What an outer middleware saw after the gateway ran. */
    const seen: Array<{ status: number; type: string; bodyIsStream: boolean }> = [];
    beforeAll(async () => {
      const app = new KoaClass();
      app.silent = true;
      app.use(async (ctx: any, next: () => Promise<void>) => {
        await next();
        seen.push({ status: ctx.status, type: ctx.type, bodyIsStream: typeof ctx.body?.pipe === 'function' });
        ctx.set('x-host-app', 'wrapped');
      });
      app.use(async (ctx: any, next: () => Promise<void>) => {
        if (ctx.get('authorization') === 'Bearer denied') ctx.throw(401, 'who are you?');
        ctx.state.user = { id: 'u-5', team: 'ops' };
        await next();
      });
      mw = gatewayMiddleware<any>({
        config: { targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${upstream.url}/v1` }] },
        identify: (ctx) => {
          if (ctx.get('x-fail-identify')) ctx.throw(403, 'not allowed to use the gateway');
          return { user: ctx.state.user.id, team: ctx.state.user.team };
        },
      });
      app.use(mw);
      server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await closeServer(server);
      await mw.close(500);
    });
    beforeEach(() => void (seen.length = 0));

    it("leaves the response to Koa: outer middleware sees and extends the gateway's JSON answer", async () => {
      upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
      const res = await post(`${url}/llm/v1/chat/completions`, chat());
      expect(res.status).toBe(200);
      expect(res.headers.get('x-host-app')).toBe('wrapped');
      expect(res.headers.get('x-llmux-provider')).toBe('openai');
      expect((await res.json()).object).toBe('chat.completion');
      expect(seen).toEqual([{ status: 200, type: 'application/json', bodyIsStream: false }]);
    });

    it('streams SSE as a Koa stream body with the SSE headers intact', async () => {
      upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
      const res = await post(`${url}/llm/v1/chat/completions`, chat(true));
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(res.headers.get('content-length')).toBeNull();
      expect(res.headers.get('x-host-app')).toBe('wrapped');
      const text = await res.text();
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(seen).toEqual([{ status: 200, type: 'text/event-stream', bodyIsStream: true }]);
    });

    it('sends the stream cost as a trailer after the last chunk', async () => {
      upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
      const res = await request(`${url}/llm/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat(true) });
      const text = await res.body.text();
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(Number(res.trailers['x-llmux-cost'])).toBeGreaterThan(0);
    });

    it('ends a stream whose upstream was cut with an error event, never [DONE], and stays up', async () => {
      upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')), cutAfter: 3 });
      const res = await request(`${url}/llm/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat(true) });
      const text = await res.body.text();
      expect(text).toContain('"error"');
      expect(text).not.toContain('[DONE]');
      expect(res.trailers['x-llmux-cost']).toBeUndefined();
      upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
      expect((await post(`${url}/llm/v1/chat/completions`, chat())).status).toBe(200);
    });

    it("keeps the host app's errors: identify and earlier middleware may refuse a request", async () => {
      const denied = await fetch(`${url}/llm/v1/models`, { headers: { authorization: 'Bearer denied' } });
      expect(denied.status).toBe(401);
      const refused = await fetch(`${url}/llm/v1/models`, { headers: { 'x-fail-identify': '1' } });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toBe('not allowed to use the gateway');
      expect(upstream.requests).toHaveLength(0);
    });

    it('passes paths outside basePath to the next middleware, including look-alikes', async () => {
      for (const path of ['/other', '/llmish/v1/models']) {
        const res = await fetch(`${url}${path}`);
        expect(res.status).toBe(404);
        expect(await res.text()).toBe('Not Found');
      }
    });
  });
}

describe('@llmux/koa behind koa-compress', () => {
  it('streams SSE uncompressed, event by event, while JSON answers are still compressed', async () => {
    const { default: compress } = await import('koa-compress');
    const app = new Koa();
    app.silent = true;
    // threshold 0: everything compressible is gzipped — not SSE, whose `cache-control: no-transform`
    // (stream/encode.ts) koa-compress honours, as compression middleware and proxies should.
    app.use(compress({ threshold: 0 }));
    const mw = gatewayMiddleware({ config: { targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${upstream.url}/v1` }] }, logger: false });
    app.use(mw);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const events = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
      // The role and first words, then the upstream waits 5 s: the first event must arrive before that.
      upstream.enqueue('/v1/chat/completions', { chunks: [events[0]! + events[1]!, ...events.slice(2)], chunkDelayMs: 5000 });
      const res = await request(`${url}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' },
        body: chat(true),
      });
      expect(res.headers['content-encoding']).toBeUndefined();
      let received = '';
      for await (const bytes of res.body) {
        received += Buffer.from(bytes).toString('utf8');
        if (received.includes('"content":"The"')) break;
      }
      expect(received).toContain('data: {');
      expect(received).not.toContain('[DONE]');

      upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
      const json = await request(`${url}/llm/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' }, body: chat() });
      expect(json.headers['content-encoding']).toBe('gzip');
      await json.body.dump();
    } finally {
      await closeServer(server);
      await mw.close(500);
    }
  });
});
