/**
 * The HTTP surface of the mounted gateway on Express 4 and 5, Koa 2 and 3 and NestJS (with and
 * without a global prefix), spoken over raw sockets where a client library would tidy the request:
 * methods (405 with Allow, HEAD, OPTIONS), paths (trailing and double slashes, percent-encoding,
 * `..`, case, query strings, long URLs, absolute-form targets), the OpenAI-shaped 404 under the mount
 * and never outside it, content types (charset, BOM, text/plain, none, multipart, a non-UTF-8
 * charset), Accept, HTTP/1.0, `Connection: close`, `Expect: 100-continue`, pipelining, duplicate
 * headers, and the response headers DESIGN.md fixes (trace id on every response, SSE content type
 * and no-cache, no provider headers such as set-cookie or the upstream's x-request-id).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
/** Headers a real OpenAI answer carries that are the provider's own business, not the gateway client's. */
const PROVIDER_HEADERS = { 'set-cookie': '__cf_bm=abc; path=/; HttpOnly', 'x-request-id': 'req_upstream_1', 'openai-organization': 'org-upstream', 'openai-processing-ms': '321' };

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/chat/completions', (r) => {
    if (r.json?.model === 'limited') {
      return { status: 429, headers: { ...PROVIDER_HEADERS, 'retry-after': '7' }, json: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded', param: null } } };
    }
    return r.json?.stream ? { chunks: STREAM, headers: PROVIDER_HEADERS } : { json: COMPLETION, headers: PROVIDER_HEADERS };
  });
});

const options = (extra: Record<string, unknown> = {}) => ({
  logger: false as const,
  env: {},
  playground: true,
  config: { targets: [{ provider: 'openai', api_key: 'sk-server', custom_host: `${upstream.url}/v1` }] },
  ...extra,
});

const CHAT = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
const STREAM_CHAT = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Hi' }] });

interface RawResponse {
  status: number;
  headers: Record<string, string[]>;
  body: string;
}

/** Sends bytes on one socket and returns all it got back once the server closes it. */
function exchange(base: string, data: string | Buffer | Array<string | Buffer>): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const parts: Buffer[] = [];
    socket.on('data', (d) => parts.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    for (const d of [data].flat()) socket.write(d);
  });
}

/** The responses in `raw`, in order (bodies by content-length or chunked framing, else to the end). */
function parseResponses(raw: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = raw;
  while (rest.startsWith('HTTP/')) {
    const end = rest.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string[]> = {};
    for (const line of lines) {
      const i = line.indexOf(':');
      (headers[line.slice(0, i).trim().toLowerCase()] ??= []).push(line.slice(i + 1).trim());
    }
    const status = Number(statusLine!.split(' ')[1]);
    rest = rest.slice(end + 4);
    if (status === 100) continue;
    let body = '';
    if (headers['content-length']) {
      const n = Number(headers['content-length'][0]);
      body = rest.slice(0, n);
      rest = rest.slice(n);
    } else if (headers['transfer-encoding']?.[0] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = parseInt(rest.slice(0, lineEnd), 16);
        rest = rest.slice(lineEnd + 2);
        if (size === 0) {
          rest = rest.slice(rest.indexOf('\r\n\r\n') + 4 || rest.length);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else {
      body = rest;
      rest = '';
    }
    out.push({ status, headers, body });
  }
  return out;
}

const one = async (base: string, data: string | Buffer | Array<string | Buffer>): Promise<RawResponse> => {
  const all = parseResponses(await exchange(base, data));
  expect(all).toHaveLength(1);
  return all[0]!;
};

/** A request as bytes; `content-length` is added for a body, `connection: close` unless given. */
function request(method: string, target: string, headers: Record<string, string> = {}, body?: string | Buffer, version = '1.1'): Buffer {
  const all: Record<string, string> = { host: '127.0.0.1', connection: 'close', ...headers };
  if (body !== undefined) all['content-length'] = String(Buffer.byteLength(body));
  const head = `${method} ${target} HTTP/${version}\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body === undefined ? Buffer.alloc(0) : Buffer.from(body)]);
}

const JSON_CT = { 'content-type': 'application/json' };
const h = (r: RawResponse, name: string) => r.headers[name]?.[0];
const json = (r: RawResponse) => JSON.parse(r.body);

/** A gateway error in the OpenAI shape, with the trace id DESIGN.md puts on every response. */
function expectGatewayError(r: RawResponse, status: number, code: string) {
  expect(r.status, r.body).toBe(status);
  expect(h(r, 'content-type')).toMatch(/^application\/json/);
  const error = json(r).error;
  expect(error).toMatchObject({ code, type: expect.any(String), message: expect.any(String) });
  expect(error).toHaveProperty('param');
  expect(h(r, 'x-llmux-trace-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(h(r, 'x-portkey-trace-id')).toBe(h(r, 'x-llmux-trace-id'));
}

for (const [name, start] of Object.entries(appFactories)) {
  describe(`${name}: the HTTP surface`, () => {
    let app: TestApp;
    /** The mount's path: `/llm`, or `/api/llm` under Nest's global prefix. */
    let P: string;
    beforeAll(async () => {
      app = await start(options());
      P = new URL(app.gatewayURL).pathname;
    });
    afterAll(() => app.close());

    it('methods: GET/PUT/PATCH/DELETE/OPTIONS on POST routes are 405 with Allow: POST; POST on GET routes is 405 with Allow: GET, HEAD', async () => {
      for (const method of ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        const r = await one(app.url, request(method, `${P}/v1/chat/completions`));
        expectGatewayError(r, 405, 'method_not_allowed');
        expect(h(r, 'allow'), method).toBe('POST');
      }
      // A browser's preflight without CORS middleware in the host: refused the same way, nothing sent upstream.
      const preflight = await one(
        app.url,
        request('OPTIONS', `${P}/v1/chat/completions`, { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' }),
      );
      expectGatewayError(preflight, 405, 'method_not_allowed');
      const post = await one(app.url, request('POST', `${P}/v1/models`, JSON_CT, CHAT));
      expectGatewayError(post, 405, 'method_not_allowed');
      expect(h(post, 'allow')).toBe('GET, HEAD');
      // HEAD on a POST route is not a GET: 405 too, without a body.
      const head = await one(app.url, request('HEAD', `${P}/v1/chat/completions`));
      expect(head.status).toBe(405);
      expect(h(head, 'allow')).toBe('POST');
      expect(head.body).toBe('');
      expect(upstream.requests).toHaveLength(0);
    });

    it('unknown paths under the mount are the OpenAI-shaped 404 (also below /v1/messages, in Anthropic shape); paths outside it are the host\'s', async () => {
      for (const path of ['/v1/nope', '/v1/completions', '/v1/responses', '/V1/Chat/Completions', '/v1//chat/completions', '//v1/chat/completions', '/v1/chat%2Fcompletions', '/v1/chat/%63ompletions', '/v1/x/../chat/completions', '/../health']) {
        const r = await one(app.url, request('POST', `${P}${path}`, JSON_CT, CHAT));
        expectGatewayError(r, 404, 'not_found');
        expect(json(r).error.type).toBe('not_found_error');
      }
      const anthropic = await one(app.url, request('POST', `${P}/v1/messages/batches`, JSON_CT, CHAT));
      expect(anthropic.status).toBe(404);
      expect(json(anthropic)).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
      expect(h(anthropic, 'x-llmux-trace-id')).toBeDefined();
      // Outside the mount — beside it, a longer first segment, another case — the host answers, never the gateway.
      for (const path of ['/nope', `${P}x/v1/models`, `${P}.json`, `${P.toUpperCase()}X/v1/models`]) {
        const r = await one(app.url, request('GET', path));
        expect(r.status, path).toBe(404);
        expect(h(r, 'x-llmux-trace-id'), path).toBeUndefined();
        expect(r.body, path).not.toContain('not_found_error');
      }
      const host = await one(app.url, request('GET', '/health'));
      expect(json(host)).toEqual({ ok: true });
      expect(upstream.requests).toHaveLength(0);
    });

    it('a trailing slash, a query string and a long query on a route reach it; the query goes nowhere upstream', async () => {
      for (const path of ['/v1/chat/completions/', '/v1/chat/completions?api-version=2024-10-21&x=%2F..%2F', '/chat/completions']) {
        const r = await one(app.url, request('POST', `${P}${path}`, JSON_CT, CHAT));
        expect(r.status, `${path}: ${r.body}`).toBe(200);
        expect(json(r).id).toBe(COMPLETION.id);
      }
      expect(upstream.requests.map((q) => q.path)).toEqual(['/v1/chat/completions', '/v1/chat/completions', '/v1/chat/completions']);
      const long = await one(app.url, request('GET', `${P}/v1/models?cursor=${'a'.repeat(8000)}`));
      expect(long.status).toBe(200);
      expect(json(long)).toEqual({ object: 'list', data: [] });
    });

    it('content types: JSON with a charset, with a BOM, as text/plain or with none is read; multipart is a 400 naming the body', async () => {
      const cases: Array<[string, Record<string, string>, string]> = [
        ['charset', { 'content-type': 'application/json; charset=UTF-8' }, CHAT],
        ['bom', JSON_CT, `\uFEFF${CHAT}`],
        ['text/plain', { 'content-type': 'text/plain' }, CHAT],
        ['none', {}, CHAT],
      ];
      for (const [label, headers, body] of cases) {
        const r = await one(app.url, request('POST', `${P}/v1/chat/completions`, headers, body));
        expect(r.status, `${label}: ${r.body}`).toBe(200);
      }
      expect(upstream.requests).toHaveLength(cases.length);
      for (const sent of upstream.requests) expect(sent.json).toMatchObject({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
      const multipart = `--XX\r\ncontent-disposition: form-data; name="model"\r\n\r\ngpt-4o-mini\r\n--XX--\r\n`;
      const r = await one(app.url, request('POST', `${P}/v1/chat/completions`, { 'content-type': 'multipart/form-data; boundary=XX' }, multipart));
      expectGatewayError(r, 400, 'invalid_json');
      expect(json(r).error.param).toBe('body');
      expect(upstream.requests).toHaveLength(cases.length);
    });

    it('Accept: text/event-stream on a non-stream request still gets the JSON answer; a stream gets SSE with no-cache', async () => {
      const r = await one(app.url, request('POST', `${P}/v1/chat/completions`, { ...JSON_CT, accept: 'text/event-stream' }, CHAT));
      expect(r.status).toBe(200);
      expect(h(r, 'content-type')).toMatch(/^application\/json/);
      expect(json(r).object).toBe('chat.completion');
      const s = await one(app.url, request('POST', `${P}/v1/chat/completions`, JSON_CT, STREAM_CHAT));
      expect(s.status).toBe(200);
      expect(h(s, 'content-type')).toBe('text/event-stream; charset=utf-8');
      expect(h(s, 'cache-control')).toContain('no-cache');
      expect(h(s, 'x-llmux-trace-id')).toBeDefined();
      expect(s.body.endsWith('data: [DONE]\n\n')).toBe(true);
    });

    it('response headers: the trace id (the client\'s when sent) and no provider headers on answers, streams and provider errors; the provider\'s Retry-After stays', async () => {
      const traced = await one(app.url, request('POST', `${P}/v1/chat/completions`, { ...JSON_CT, 'x-llmux-trace-id': 'checkout-42' }, CHAT));
      expect(h(traced, 'x-llmux-trace-id')).toBe('checkout-42');
      expect(h(traced, 'x-portkey-trace-id')).toBe('checkout-42');
      const stream = await one(app.url, request('POST', `${P}/v1/chat/completions`, JSON_CT, STREAM_CHAT));
      const limited = await one(app.url, request('POST', `${P}/v1/chat/completions`, JSON_CT, JSON.stringify({ model: 'limited', messages: [{ role: 'user', content: 'Hi' }] })));
      expect(limited.status).toBe(429);
      expect(json(limited).error.code).toBe('rate_limit_exceeded');
      expect(h(limited, 'retry-after')).toBe('7');
      for (const r of [traced, stream, limited]) {
        for (const leaked of Object.keys(PROVIDER_HEADERS)) expect(r.headers[leaked], leaked).toBeUndefined();
        expect(h(r, 'x-llmux-provider')).toBe('openai');
      }
    });

    it('HTTP/1.0: a JSON answer with its length, and a stream delimited by the close (no chunking, no trailers), whole', async () => {
      const r = await one(app.url, request('POST', `${P}/v1/chat/completions`, JSON_CT, CHAT, '1.0'));
      expect(r.status).toBe(200);
      expect(json(r).id).toBe(COMPLETION.id);
      const s = await one(app.url, request('POST', `${P}/v1/chat/completions`, { ...JSON_CT, connection: 'keep-alive' }, STREAM_CHAT, '1.0'));
      expect(s.status).toBe(200);
      expect(s.headers['transfer-encoding']).toBeUndefined();
      expect(s.body.startsWith('data: {')).toBe(true);
      expect(s.body.endsWith('data: [DONE]\n\n')).toBe(true);
    });

    it('Expect: 100-continue: the body sent after the 100 is read and answered', async () => {
      const { hostname, port } = new URL(app.url);
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), hostname);
        let got = '';
        let sent = false;
        socket.on('data', (d) => {
          got += d.toString('latin1');
          if (!sent && got.includes('100 Continue\r\n\r\n')) {
            sent = true;
            socket.write(CHAT);
          }
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(got));
        socket.write(`POST ${P}/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: ${CHAT.length}\r\n\r\n`);
      });
      expect(raw.startsWith('HTTP/1.1 100 Continue')).toBe(true);
      const [r] = parseResponses(raw);
      expect(r!.status).toBe(200);
      expect(upstream.requests[0]!.json.model).toBe('gpt-4o-mini');
    });

    it('pipelined requests on one connection are answered in order, also after a refusal that never read its body', async () => {
      const raw = await exchange(app.url, [
        Buffer.concat([
          request('POST', `${P}/v1/nope`, { ...JSON_CT, connection: 'keep-alive' }, CHAT),
          request('PUT', `${P}/v1/chat/completions`, { ...JSON_CT, connection: 'keep-alive' }, CHAT),
          request('POST', `${P}/v1/chat/completions`, { ...JSON_CT, connection: 'keep-alive' }, CHAT),
          request('GET', `${P}/v1/models`),
        ]),
      ]);
      const answers = parseResponses(raw);
      expect(answers.map((a) => a.status)).toEqual([404, 405, 200, 200]);
      expect(json(answers[2]!).id).toBe(COMPLETION.id);
      expect(json(answers[3]!).object).toBe('list');
      expect(upstream.requests).toHaveLength(1);
    });

    it('duplicate headers: two differing Content-Lengths are refused before the gateway; two Authorizations are not merged into one key', async () => {
      const twoLengths = `POST ${P}/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${CHAT.length}\r\ncontent-length: ${CHAT.length - 1}\r\n\r\n${CHAT}`;
      const r = parseResponses(await exchange(app.url, twoLengths));
      expect(r[0]!.status).toBe(400);
      const twoAuth = `POST ${P}/v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\nauthorization: Bearer client-a\r\nauthorization: Bearer client-b\r\ncontent-length: ${CHAT.length}\r\n\r\n${CHAT}`;
      const ok = await one(app.url, twoAuth);
      expect(ok.status).toBe(200);
      expect(upstream.requests).toHaveLength(1);
      // The server's own key goes upstream; neither client value, nor both joined.
      expect(upstream.requests[0]!.headers.authorization).toBe('Bearer sk-server');
    });
  });
}

describe('every adapter: trace ids, charsets, absolute-form targets and the bare mount', () => {
  const adapters = ['express5', 'express4', 'koa3', 'koa2', 'nestjs', 'nestjs-prefixed'] as const;

  // Guards: the playground page carries the trace id headers DESIGN.md puts on every response.
  it('GET /playground carries x-llmux-trace-id and x-portkey-trace-id, generated or the client\'s', async () => {
    const app = await appFactories.express5!(options());
    try {
      const P = new URL(app.gatewayURL).pathname;
      const fresh = await one(app.url, request('GET', `${P}/playground`));
      expect(fresh.status).toBe(200);
      expect(h(fresh, 'content-type')).toMatch(/^text\/html/);
      const sent = await one(app.url, request('GET', `${P}/playground`, { 'x-llmux-trace-id': 'page-load-1' }));
      expect({ fresh: [h(fresh, 'x-llmux-trace-id') !== undefined, h(fresh, 'x-portkey-trace-id') !== undefined], sent: h(sent, 'x-llmux-trace-id') }).toEqual({
        fresh: [true, true],
        sent: 'page-load-1',
      });
    } finally {
      await app.close();
    }
  });

  // Guards: /metrics carries Portkey's x-portkey-trace-id beside x-llmux-trace-id, as every other route.
  it('GET /metrics carries x-portkey-trace-id beside x-llmux-trace-id', async () => {
    const app = await appFactories.express5!(options());
    try {
      const r = await one(app.url, request('GET', `${new URL(app.gatewayURL).pathname}/metrics`, { 'x-llmux-trace-id': 'scrape-1' }));
      expect(r.status).toBe(200);
      expect(h(r, 'x-llmux-trace-id')).toBe('scrape-1');
      expect(h(r, 'x-portkey-trace-id')).toBe('scrape-1');
    } finally {
      await app.close();
    }
  });

  // Guards: the gateway's own reader refuses a non-UTF-8 charset (415) rather than send replacement characters on.
  it('a JSON body in a charset other than UTF-8 is refused with 415 when the gateway reads it, never sent on with replacement characters', async () => {
    const latin1 = Buffer.from(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'café' }] }), 'latin1');
    const seen: Record<string, unknown> = {};
    for (const name of ['express5', 'koa3', 'nestjs']) {
      upstream.reset();
      upstream.route('/v1/chat/completions', { json: COMPLETION });
      // Mounted ahead of any body parser, as the README recommends: the gateway reads the body itself.
      const app = await appFactories[name]!(options({ bodyParser: false }));
      try {
        const r = await one(app.url, request('POST', `${new URL(app.gatewayURL).pathname}/v1/chat/completions`, { 'content-type': 'application/json; charset=iso-8859-1' }, latin1));
        seen[name] = { status: r.status, code: r.status === 200 ? null : json(r).error.code, upstream: upstream.requests.map((q) => q.json?.messages?.[0]?.content) };
      } finally {
        await app.close();
      }
    }
    const refused = { status: 415, code: 'unsupported_media_type', upstream: [] };
    expect(seen).toEqual({ express5: refused, koa3: refused, nestjs: refused });
  });

  // Guards: an absolute-form target (RFC 9112 §3.2.2) reaches the gateway on every adapter, as it reaches the host's routes.
  it('GET http://host/llm/v1/models (absolute form) is served as GET /llm/v1/models on every adapter', async () => {
    const seen: Record<string, number> = {};
    const hostSeen: Record<string, number> = {};
    for (const name of adapters) {
      const app = await appFactories[name]!(options());
      try {
        const { host } = new URL(app.url);
        hostSeen[name] = (await one(app.url, request('GET', `${app.url}/health`, { host }))).status;
        const r = await one(app.url, request('GET', `${app.gatewayURL}/v1/models`, { host }));
        seen[name] = r.status === 200 && json(r).object === 'list' ? 200 : r.status;
      } finally {
        await app.close();
      }
    }
    const all = (status: number) => Object.fromEntries(adapters.map((a) => [a, status]));
    expect(hostSeen).toEqual(all(200));
    expect(seen).toEqual(all(200));
  });

  // Guards: the bare mount (/llm, /llm?x=1) is the gateway's OpenAI-shaped 404 on NestJS too, not Nest's own.
  it('NestJS: GET <mount> and GET <mount>?x=1 are the gateway\'s OpenAI-shaped 404, as on Express and Koa', async () => {
    const seen: Record<string, unknown> = {};
    for (const name of adapters) {
      const app = await appFactories[name]!(options());
      try {
        const P = new URL(app.gatewayURL).pathname;
        for (const target of [P, `${P}?x=1`]) {
          const r = await one(app.url, request('GET', target));
          seen[`${name} ${target}`] = { status: r.status, code: r.body.startsWith('{"error"') ? json(r).error.code : null, trace: h(r, 'x-llmux-trace-id') !== undefined };
        }
      } finally {
        await app.close();
      }
    }
    const gateway404 = { status: 404, code: 'not_found', trace: true };
    expect(seen).toEqual(Object.fromEntries(Object.keys(seen).map((key) => [key, gateway404])));
  });
});
