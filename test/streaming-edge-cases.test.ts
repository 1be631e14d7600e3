/**
 * Streaming mechanics, resource use and shutdown, through the real adapters against the mock upstream
 * (and a few purpose-built upstreams that honour backpressure and count what they wrote): oversized
 * and abandoned uploads, clients leaving between chunks, Connection: close, unbounded events, close()
 * — each of those failed before its fix — then backpressure, keep-alive reuse, timeouts, Unicode.
 */
import { request as httpRequest, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '@llmux/core';
import { abortLinkFor, writeResponse } from '@llmux/core/node';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream, sleep } from './helpers/mock-upstream.js';
import { streamEvents } from './helpers/observe.js';

let up: MockUpstream;
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());

const chatBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...extra });
const openaiAt = (url: string, extra: Record<string, unknown> = {}) => ({ targets: [{ provider: 'openai', api_key: 'sk-x', custom_host: url, ...extra }] });
const post = (url: string, body: string, signal?: AbortSignal) =>
  fetch(`${url}/v1/chat/completions`, { method: 'POST', ...(signal ? { signal } : {}), headers: { 'content-type': 'application/json' }, body });

/** Waits for 'drain' or 'close', and removes both listeners either way. */
function drainOrClose(res: import('node:http').ServerResponse): Promise<void> {
  return new Promise<void>((r) => {
    const done = () => (res.off('drain', done), res.off('close', done), r());
    res.on('drain', done);
    res.on('close', done);
  });
}

/** An upstream that streams `total` bytes of SSE honouring its socket's backpressure, and counts what it wrote. */
async function meteredUpstream(total: number) {
  const state = { written: 0, closed: false, connections: 0 };
  const event = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'é'.repeat(4000) }, finish_reason: null }] })}\n\n`;
  const sockets = new Set<Socket>();
  const server = createServer(async (req, res) => {
    for await (const _ of req);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.on('close', () => (state.closed = true));
    while (state.written < total && !res.destroyed) {
      state.written += Buffer.byteLength(event);
      if (!res.write(event)) await drainOrClose(res);
    }
    if (!res.destroyed) res.end('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
  });
  server.on('connection', (s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    state,
    url,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/** A raw socket that sends `head` + `body` (or the start of it) and never reads. */
function rawClient(url: string, body: string, opts: { contentLength?: number; send?: string; head?: string } = {}): Socket {
  const u = new URL(url);
  const s = connect({ host: '127.0.0.1', port: Number(u.port) });
  s.on('error', () => {});
  s.write(
    `${opts.head ?? `POST ${u.pathname} HTTP/1.1`}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${opts.contentLength ?? Buffer.byteLength(body)}\r\n\r\n${opts.send ?? body}`,
  );
  return s;
}

/** Raw HTTP exchange on one socket: everything received, and whether the server closed the socket. */
function rawExchange(url: string, head: string, body: string, waitMs = 1500): Promise<{ text: string; serverClosed: boolean }> {
  return new Promise((resolve) => {
    const s = rawClient(url, body, { head: head.replace('{PATH}', new URL(url).pathname) });
    let text = '';
    let serverClosed = false;
    s.setEncoding('utf8');
    s.on('data', (c) => (text += c));
    s.on('end', () => (serverClosed = true));
    setTimeout(() => {
      s.destroy();
      resolve({ text, serverClosed });
    }, waitMs);
  });
}

/** Sends a chunked body (no content-length) piece by piece; resolves with the status or the socket error. */
function sendChunked(url: string, pieces: string[], delayMs = 5): Promise<{ status?: number; text?: string; error?: string }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = httpRequest(
      { host: '127.0.0.1', port: u.port, path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
        res.on('error', (e) => resolve({ status: res.statusCode, error: e.message }));
      },
    );
    req.on('error', (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    void (async () => {
      for (const p of pieces) {
        if (req.destroyed) return;
        req.write(p);
        await sleep(delayMs);
      }
      req.end();
    })();
  });
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// FAILING — bugs
// ─────────────────────────────────────────────────────────────────────────────────────────────────

describe.each(['express5', 'express4', 'koa3', 'koa2', 'nestjs'])('%s without a body parser', (name) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await appFactories[name]!({ env: {}, bodyParser: false, config: { targets: [{ provider: 'mock' }] }, limits: { maxBodyBytes: 4096 } });
  });
  afterAll(() => app.close());

  // Contract: "@llmux/core/node … read a raw body with a size limit"; "Errors: every error leaves the
  // gateway in the OpenAI shape". A chunked body (no content-length) over maxBodyBytes must get the
  // same 413 as one that declares its length — before the fix the socket is destroyed (ECONNRESET, no answer).
  it('a chunked body over maxBodyBytes (no content-length) is answered 413, not a reset connection', async () => {
    const big = chatBody({ messages: [{ role: 'user', content: 'x'.repeat(20000) }] });
    const r = await sendChunked(`${app.gatewayURL}/v1/chat/completions`, big.match(/[\s\S]{1,1000}/g)!);
    expect(r).toMatchObject({ status: 413 });
    expect(JSON.parse(r.text!).error.code).toBe('payload_too_large');
  });
});

describe('writeResponse when the client leaves between two chunks', () => {
  async function customServer(withSignal: boolean, path: string) {
    const g = createGateway({ env: {}, config: openaiAt(`${up.url}/${path}/v1`) });
    const outcome = { settled: false };
    const server = createServer(async (req, res) => {
      let text = '';
      for await (const c of req) text += c;
      const response = await g.handle({ method: 'POST', path: '/v1/chat/completions', headers: req.headers, body: text, ...(withSignal ? { signal: abortLinkFor(res) as any } : {}) });
      writeResponse(res, response).then(
        () => (outcome.settled = true),
        () => (outcome.settled = true),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { g, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, outcome };
  }

  // Contract (README "Any Node server"; write-response.ts doc): `@llmux/core/node` writes "with
  // backpressure and abort … stopping the source as soon as the client is gone". Before the fix a client that
  // leaves while the writer awaits the next upstream chunk leaves writeResponse pending forever
  // (write() on the destroyed response returns false and `drained()` waits for a 'close' that already
  // fired); without a request signal the upstream call is never stopped either.
  for (const withSignal of [true, false]) {
    it(`settles, and the upstream call stops (request signal: ${withSignal})`, async () => {
      const path = `slow-${withSignal}`;
      up.route(`/${path}/v1/chat/completions`, { chunks: [...streamEvents.slice(0, 3), ...Array(200).fill(': keep-alive\n\n')], chunkDelayMs: 150 });
      const aborted0 = up.aborted;
      const { g, server, url, outcome } = await customServer(withSignal, path);
      const ac = new AbortController();
      const res = await post(url, chatBody({ stream: true }), ac.signal);
      await res.body!.getReader().read();
      await sleep(50); // the writer now awaits the next upstream chunk
      ac.abort();
      await sleep(1000);
      const upstreamStopped = up.aborted > aborted0;
      server.closeAllConnections();
      server.close();
      await g.close(200);
      expect({ settled: outcome.settled, upstreamStopped }).toEqual({ settled: true, upstreamStopped: true });
    });
  }
});

describe.each(['express5', 'koa3'])('%s: a client sending Connection: close', (name) => {
  let app: TestApp;
  beforeAll(async () => {
    up.route('/cc/v1/chat/completions', { chunks: streamEvents });
    app = await appFactories[name]!({ env: {}, config: openaiAt(`${up.url}/cc/v1`) });
  });
  afterAll(() => app.close());

  // RFC 9112 §9.6: a server that receives `Connection: close` MUST close the connection after the
  // response. The SSE headers hard-code the hop-by-hop `connection: keep-alive`, which makes Node
  // answer "keep-alive" and keep the socket open (until keepAliveTimeout).
  it('the stream is not announced keep-alive, and the server closes the connection after it', async () => {
    const r = await rawExchange(`${app.gatewayURL}/v1/chat/completions`, 'POST {PATH} HTTP/1.1\r\nConnection: close', chatBody({ stream: true }));
    expect(r.text).toContain('data: [DONE]');
    expect({ serverClosed: r.serverClosed, keepAliveHeader: /connection: keep-alive/i.test(r.text) }).toEqual({ serverClosed: true, keepAliveHeader: false });
  });
});

describe.each(['express5', 'koa3'])('%s: a client that leaves while uploading its body', (name) => {
  // Contract: "Never a 500 for bad input"; log-record.ts: `client_closed` = "the client left before
  // the end". Before the fix the read error is a plain Error → internal_error 500 (an error-level log line and
  // a 5xx in metrics for every client that gives up mid-upload).
  it('is recorded as the client leaving (499, client_closed), not a 500 internal_error', async () => {
    const records: any[] = [];
    const app = await appFactories[name]!({ env: {}, bodyParser: false, onLog: (r: any) => records.push(r), config: { targets: [{ provider: 'mock' }] } });
    const s = rawClient(`${app.gatewayURL}/v1/chat/completions`, '', { contentLength: 1000, send: '{"model":"gpt-4o-mini",' });
    await sleep(100);
    s.destroy();
    await sleep(300);
    await app.close();
    expect(records).toHaveLength(1);
    expect({ status: records[0].status, outcome: records[0].outcome }).toEqual({ status: 499, outcome: 'client_closed' });
  });
});

describe('an upstream stream event that never ends', () => {
  // Contract: "Streams pass through chunk by chunk, never buffered whole"; non-stream upstream bodies
  // are capped (readText, 64 MiB) but the SSE decoder (eventsource-parser without maxBufferSize)
  // buffers an unterminated line without limit: 160 MB are read in about a second, heap grows ~2×.
  it('is bounded (the attempt fails) instead of being buffered without limit', async () => {
    const state = { written: 0 };
    const piece = 'x'.repeat(64 * 1024);
    const server = createServer(async (req, res) => {
      for await (const _ of req);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"');
      while (!res.destroyed && state.written < 160 * 1024 * 1024) {
        state.written += piece.length;
        if (!res.write(piece)) await drainOrClose(res);
      }
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const app = await appFactories.express5!({ env: {}, config: openaiAt(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`) });
    const ac = new AbortController();
    const resP = post(app.gatewayURL, chatBody({ stream: true }), ac.signal).then(
      (r) => r.text(),
      () => '',
    );
    await Promise.race([resP, sleep(4000)]);
    const written = state.written;
    ac.abort();
    server.closeAllConnections();
    server.close();
    await app.close();
    expect(written).toBeLessThan(80 * 1024 * 1024);
  });
});

describe('work cut by close() is the gateway\'s doing, not the provider\'s', () => {
  // Contract: "every error … says whether the gateway or the provider failed"; "gateway.close()" —
  // requests it refuses get 503 gateway_closing. A request admitted just before close() whose body
  // arrives after it is sent to the destroyed upstream pool and answered 502
  // `network_error` "openai could not be reached: The client is destroyed", source "provider".
  it('a request whose body finishes after close() resolved gets 503 gateway_closing', async () => {
    up.route('/late/v1/chat/completions', { json: { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] } });
    const app = await appFactories.express5!({ env: {}, bodyParser: false, config: openaiAt(`${up.url}/late/v1`) });
    const body = chatBody();
    const s = rawClient(`${app.gatewayURL}/v1/chat/completions`, body, { send: body.slice(0, 10) });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c) => (text += c));
    await sleep(100);
    await app.gateway.close(200);
    s.write(body.slice(10));
    await sleep(500);
    s.destroy();
    await app.close();
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 503 Service Unavailable');
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).error.code).toBe('gateway_closing');
  });

  it('a stream cut at the close() deadline ends with an error event that names the gateway, not a provider network error', async () => {
    up.route('/endless6/v1/chat/completions', { chunks: [...streamEvents.slice(0, 3), ...Array(1000).fill(': keep-alive\n\n')], chunkDelayMs: 50 });
    const app = await appFactories.express5!({ env: {}, config: openaiAt(`${up.url}/endless6/v1`) });
    const res = await post(app.gatewayURL, chatBody({ stream: true }));
    const textP = res.text();
    await sleep(200);
    await app.gateway.close(200);
    const text = await textP;
    await app.close();
    const last = JSON.parse(text.trim().split('\n\n').pop()!.slice('data: '.length));
    expect(last.error.source).toBe('gateway');
    expect(last.error.code).toBe('gateway_closing');
  });
});

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// Gaps no other suite covered
// ─────────────────────────────────────────────────────────────────────────────────────────────────

describe.each(['express5', 'koa3', 'koa2', 'nestjs'])('%s: backpressure', (name) => {
  // Contract: "Streams pass through chunk by chunk, never buffered whole"; node writer "stream with drain".
  it('a client that never reads holds the upstream back (it writes a few MB, not 300), and leaving closes it', async () => {
    const u = await meteredUpstream(300 * 1024 * 1024);
    const app = await appFactories[name]!({ env: {}, config: openaiAt(`${u.url}/v1`) });
    const s = rawClient(`${app.gatewayURL}/v1/chat/completions`, chatBody({ stream: true }));
    s.pause();
    await sleep(2000);
    const written = u.state.written;
    s.destroy();
    await sleep(200);
    const upstreamClosed = u.state.closed;
    await app.close();
    await u.close();
    expect(written).toBeLessThan(64 * 1024 * 1024);
    expect(upstreamClosed).toBe(true);
  });
});

describe.each(['express5', 'koa3', 'koa2', 'nestjs'])('%s: many streams, half the clients leave', (name) => {
  it('every upstream of a client that left is closed, the rest end with [DONE], nothing stays in flight, no listener warnings', async () => {
    const warnings: string[] = [];
    const onWarn = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarn);
    up.route('/many/v1/chat/completions', { chunks: streamEvents, chunkDelayMs: 60 });
    const aborted0 = up.aborted;
    const app = await appFactories[name]!({ env: {}, config: openaiAt(`${up.url}/many/v1`) });
    const N = 30;
    const results = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const ac = new AbortController();
        const res = await post(app.gatewayURL, chatBody({ stream: true }), ac.signal);
        const reader = res.body!.getReader();
        let text = new TextDecoder().decode((await reader.read()).value);
        if (i % 2) {
          ac.abort();
          return 'left';
        }
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        return text.includes('data: [DONE]') ? 'done' : 'broken';
      }),
    );
    await sleep(300);
    const inflight = app.gateway.internals.inflight.size;
    await app.close();
    process.off('warning', onWarn);
    expect(results.filter((r) => r === 'done').length).toBe(N / 2);
    expect(up.aborted - aborted0).toBe(N / 2);
    expect(inflight).toBe(0);
    expect(warnings).toEqual([]);
  });
});

describe.each(['express5', 'koa3', 'koa2', 'nestjs'])('%s: close() through the adapter', (name) => {
  // Contract: gateway.close(); "A stream that breaks after content was sent ends with data: {"error"…}, never [DONE]".
  it('a stream past the deadline is cut with an error event (no [DONE]); close() twice is one promise; later requests get 503', async () => {
    up.route('/endless/v1/chat/completions', { chunks: [...streamEvents.slice(0, 3), ...Array(1000).fill(': keep-alive\n\n')], chunkDelayMs: 50 });
    const app = await appFactories[name]!({ env: {}, config: openaiAt(`${up.url}/endless/v1`) });
    const res = await post(app.gatewayURL, chatBody({ stream: true }));
    const textP = res.text();
    await sleep(200);
    const t0 = Date.now();
    const c1 = app.gateway.close(300);
    expect(app.gateway.close(300)).toBe(c1);
    const after = await post(app.gatewayURL, chatBody());
    const afterBody = await after.json();
    const text = await Promise.race([textP, sleep(4000).then(() => 'TIMEOUT')]);
    await c1;
    const took = Date.now() - t0;
    await app.close();
    expect(after.status).toBe(503);
    expect(afterBody.error.code).toBe('gateway_closing');
    expect(text).not.toBe('TIMEOUT');
    expect(text).not.toContain('[DONE]');
    expect(text).toMatch(/data: \{"error"/);
    expect(took).toBeLessThan(1500);
  });
});

describe.each(['express5', 'koa3'])('%s: close() with clients that stall', (name) => {
  it('resolves soon after the deadline with a client that never reads and one that never finishes its body; the upstream socket is closed', async () => {
    const u = await meteredUpstream(200 * 1024 * 1024);
    const app = await appFactories[name]!({ env: {}, bodyParser: false, config: openaiAt(`${u.url}/v1`) });
    const reader = rawClient(`${app.gatewayURL}/v1/chat/completions`, chatBody({ stream: true }));
    reader.pause();
    const slow = rawClient(`${app.gatewayURL}/v1/chat/completions`, '', { contentLength: 1000, send: '{"model":' });
    await sleep(500);
    const t0 = Date.now();
    await Promise.race([app.gateway.close(300), sleep(5000)]);
    const took = Date.now() - t0;
    await sleep(100);
    const upstreamClosed = u.state.closed;
    reader.destroy();
    slow.destroy();
    await app.close();
    await u.close();
    expect(took).toBeLessThan(2000);
    expect(upstreamClosed).toBe(true);
  });
});

describe('upstream keep-alive', () => {
  it('sequential requests (stream and not) reuse one upstream socket, and close() closes it', async () => {
    const u = await startMockUpstream();
    let connections = 0;
    (u as any).server.on('connection', () => connections++);
    u.route('/v1/chat/completions', (req) =>
      req.json?.stream ? { chunks: streamEvents } : { json: { id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] } },
    );
    const app = await appFactories.express5!({ env: {}, config: openaiAt(`${u.url}/v1`) });
    for (let i = 0; i < 10; i++) await (await post(app.gatewayURL, chatBody({ stream: i % 2 === 0 }))).text();
    expect(connections).toBe(1);
    await app.close();
    await sleep(50);
    expect((u as any).sockets.size).toBe(0);
    await u.close();
  });
});

describe('request_timeout', () => {
  it('a non-stream answer whose headers arrive but whose body stalls ends with 504 near request_timeout', async () => {
    up.route('/stall/v1/chat/completions', { headers: { 'content-type': 'application/json' }, chunks: ['{"id":"chatcmpl-1","object":', '"chat.completion"}'], chunkDelayMs: 8000 });
    const app = await appFactories.koa3!({ env: {}, config: openaiAt(`${up.url}/stall/v1`, { request_timeout: 300 }) });
    const t0 = Date.now();
    const res = await post(app.gatewayURL, chatBody());
    const body = await res.json();
    const elapsed = Date.now() - t0;
    await app.close();
    expect(res.status).toBe(504);
    expect(body.error.code).toBe('upstream_timeout');
    expect(elapsed).toBeLessThan(2000);
  });
});

const TEXT = 'héllo 🌍 世界 — ça va? 👩‍👩‍👧 ';
/** An OpenAI SSE stream of TEXT cut into `size`-byte pieces, so characters split across reads. */
function splitUnicodeStream(size: number): Uint8Array[] {
  const ev = (delta: Record<string, unknown>, finish: string | null = null) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const raw = ev({ role: 'assistant', content: '' }) + [...TEXT].map((ch) => ev({ content: ch.repeat(3) })).join('') + ev({}, 'stop') + 'data: [DONE]\n\n';
  const bytes = Buffer.from(raw, 'utf8');
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('unicode split across reads', () => {
  it('upstream → /v1/chat/completions and → /v1/messages (encoder) keep every character', async () => {
    const expected = [...TEXT].map((ch) => ch.repeat(3)).join('');
    up.route('/uni/v1/chat/completions', { chunks: splitUnicodeStream(5), chunkDelayMs: 1 });
    const app = await appFactories.express5!({ env: {}, config: openaiAt(`${up.url}/uni/v1`) });
    const t1 = await (await post(app.gatewayURL, chatBody({ stream: true }))).text();
    const got1 = t1.split('\n\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '').join('');
    const r2 = await fetch(`${app.gatewayURL}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Hi' }] }),
    });
    const events = (await r2.text()).split('\n\n').map((e) => /data: (.*)/.exec(e)?.[1]).filter(Boolean).map((d) => JSON.parse(d!));
    const got2 = events.filter((d) => d.type === 'content_block_delta').map((d) => d.delta.text).join('');
    await app.close();
    expect(got1).toBe(expected);
    expect(got2).toBe(expected);
  });
});

describe.each(['express5', 'koa3'])('%s: HTTP/1.0', (name) => {
  it('an HTTP/1.0 client gets the whole stream, unchunked, and the server closes the connection', async () => {
    up.route('/h10/v1/chat/completions', { chunks: streamEvents });
    const app = await appFactories[name]!({ env: {}, config: openaiAt(`${up.url}/h10/v1`) });
    const r = await rawExchange(`${app.gatewayURL}/v1/chat/completions`, 'POST {PATH} HTTP/1.0', chatBody({ stream: true }));
    await app.close();
    expect(r.text).toMatch(/^HTTP\/1\.[01] 200/);
    expect(r.text).toContain('data: [DONE]');
    expect(r.text).not.toMatch(/transfer-encoding: chunked/i);
    expect(r.serverClosed).toBe(true);
  });
});
