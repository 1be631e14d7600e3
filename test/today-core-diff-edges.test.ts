/**
 * Today's core changes (3dd5578..HEAD), attacked at their edges: breaker lease tokens across clocks,
 * x-should-retry on refusals, re2js for `$regex`, the charset check of the gateway's own body reader,
 * absolute-form targets and the mount points the Express/Koa error handlers learn, stream response
 * ids and finish reasons, Portkey settings headers, and what the budgets reserve for PDFs and audio.
 */
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import express from 'express';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, createMemoryStore, type BreakerStore, type Gateway, type GatewayOptions, type RequestLogRecord } from '@llmux/core';
import { gatewayMiddleware } from '@llmux/express';
import { createRedisStore } from '@llmux/redis';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));
const AZURE_STREAM = sseFromJsonl(fixtureText('azure/chat-completions.model-router.chunks.jsonl'), { done: true });

let up: MockUpstream;
const gateways: Gateway[] = [];
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
  await Promise.all(gateways.map((g) => g.close(100)));
  await up.close();
});
beforeEach(() => {
  up.reset();
  for (const name of ['a', 'b']) {
    up.route(`/${name}/v1/chat/completions`, (r) => (r.json?.stream ? { chunks: STREAM } : { json: { ...COMPLETION, id: `chatcmpl-from-${name}` } }));
  }
});

function gateway(options: GatewayOptions): { g: Gateway; records: RequestLogRecord[] } {
  const records: RequestLogRecord[] = [];
  const g = createGateway({ env: {}, logger: false, routing: { sleep: async () => undefined }, onLog: (r) => void records.push(r), ...options });
  gateways.push(g);
  return { g, records };
}

const target = (name: string, extra: Record<string, unknown> = {}) => ({ name, provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/${name}/v1`, ...extra });

const chat = (headers: Record<string, string> = {}, body: Record<string, unknown> = {}) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body },
});

async function listen(app: express.Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1') as Server;
  await new Promise((r) => server.once('listening', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('breaker lease tokens (trialUntil)', () => {
  const policy = { threshold: 1, windowMs: 60_000, cooldownMs: 1_000 };

  it('memory: a trial that outlived its lease gives back nothing of the caller that took over', async () => {
    const store = createMemoryStore() as unknown as BreakerStore;
    await store.breakerRecord('k', false, 0, policy);
    const a = await store.breakerAcquire('k', 1_000, policy);
    expect(a).toMatchObject({ state: 'half_open', allowed: true, trialUntil: 2_000 });
    const b = await store.breakerAcquire('k', 2_500, policy);
    expect(b).toMatchObject({ allowed: true, trialUntil: 3_500 });
    await store.breakerRelease!('k', 2_600, policy, a.trialUntil);
    // B still holds its trial: a third caller is refused.
    expect((await store.breakerAcquire('k', 2_700, policy)).allowed).toBe(false);
    await store.breakerRelease!('k', 2_800, policy, b.trialUntil);
    expect((await store.breakerAcquire('k', 2_900, policy)).allowed).toBe(true);
  });

  it('redis: instances whose clocks differ by seconds still free only their own lease', async () => {
    const redis = createRedisStore({ prefix: `llmux-today-core-${process.pid}-${Date.now()}:` });
    closers.push(() => redis.close!());
    await redis.ready;
    const store = redis as unknown as BreakerStore;
    const t = 1_700_000_000_000;
    await store.breakerRecord('k', false, t, policy);
    // Instance A runs 5 s ahead of the others.
    const a = await store.breakerAcquire('k', t + 6_000, policy);
    expect(a).toMatchObject({ state: 'half_open', allowed: true, trialUntil: t + 7_000 });
    // Instance B (on time) only sees the trial expire when its clock reaches A's lease.
    expect((await store.breakerAcquire('k', t + 6_500, policy)).allowed).toBe(false);
    const b = await store.breakerAcquire('k', t + 7_000, policy);
    expect(b).toMatchObject({ allowed: true, trialUntil: t + 8_000 });
    await store.breakerRelease!('k', t + 12_000, policy, a.trialUntil);
    expect((await store.breakerAcquire('k', t + 7_100, policy)).allowed).toBe(false);
    await store.breakerRelease!('k', t + 7_200, policy, b.trialUntil);
    expect((await store.breakerAcquire('k', t + 7_300, policy)).allowed).toBe(true);
  });
});

describe('x-should-retry on refusals', () => {
  it('a 502 whose targets each refused the request says x-should-retry: false, and the openai SDK sends it once', async () => {
    up.route('/r400/v1/chat/completions', { status: 400, json: { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } } });
    up.route('/r404/v1/chat/completions', { status: 404, json: { error: { message: 'no such model', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } } });
    const app = await appFactories.express5!({ env: {}, logger: false, config: { strategy: { mode: 'fallback' }, targets: [target('r400'), target('r404')] } } as never);
    closers.push(() => app.close());
    const sdk = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 2 });
    const err = (await sdk.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(502);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(up.requests.map((r) => r.path)).toEqual(['/r400/v1/chat/completions', '/r404/v1/chat/completions']);
  });
});

describe('conditional $regex keeps JavaScript semantics (as Portkey)', () => {
  const routed = async (pattern: string, value: string) => {
    const { g } = gateway({
      config: {
        strategy: { mode: 'conditional', conditions: [{ query: { 'metadata.tier': { $regex: pattern } }, then: 'a' }], default: 'b' },
        targets: [target('a'), target('b')],
      },
    });
    const res = await g.handle(chat({ 'x-portkey-metadata': JSON.stringify({ tier: value }) }));
    return (res.body as { id: string }).id;
  };

  it('plain patterns route as JavaScript matched them', async () => {
    expect(await routed('^premium', 'premium-eu')).toBe('chatcmpl-from-a');
    expect(await routed('^premium$', 'premium-eu')).toBe('chatcmpl-from-b');
  });

  describe("today's core changes, completed (fixed bugs)", () => {
    // Guards: matching stays on JavaScript's engine (re2js, tried today and reverted, has an ASCII-only \s: no NBSP, no \v)
    it('\\s still matches a non-breaking space, as the JavaScript pattern (and Portkey) did', async () => {
      expect(await routed('^premium\\s+plus$', 'premium\u00a0plus')).toBe('chatcmpl-from-a');
    });

    // Guards: JavaScript's . does not match \r or U+2028 (re2js's did)
    it('. does not match a carriage return, as under JavaScript', async () => {
      expect(await routed('^gold.tier$', 'gold\rtier')).toBe('chatcmpl-from-b');
    });
  });
});

describe('Portkey provider-settings headers', () => {
  it('are refused (403) where clients may not configure, and a header of another provider is a 400 naming it', async () => {
    const closed = gateway({ config: { targets: [target('a')] } }).g;
    const refused = await closed.handle(chat({ 'x-portkey-aws-region': 'us-east-1' }));
    expect(refused.status).toBe(403);
    expect((refused.body as any).error.param).toBe('x-portkey-aws-region');
    // An empty value counts as absent.
    expect((await closed.handle(chat({ 'x-portkey-aws-region': '  ' }))).status).toBe(200);
    const open = gateway({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], config: { targets: [target('a')] } } as never).g;
    const wrong = await open.handle(chat({ 'x-portkey-provider': 'openai', authorization: 'Bearer sk-client', 'x-portkey-aws-region': 'us-east-1' }));
    expect(wrong.status).toBe(400);
    expect((wrong.body as any).error.param).toBe('x-portkey-aws-region');
  });
});

describe('token reservation of PDF files', () => {
  /** A minimal PDF with `pages` page objects (and the /Pages node, which is no page). */
  const pdf = (pages: number) => {
    const kids = Array.from({ length: pages }, (_, i) => `${i + 3} 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n`).join('');
    return Buffer.from(`%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Count ${pages} >>\nendobj\n${kids}%%EOF\n`).toString('base64');
  };
  const withPdf = (pages: number) =>
    chat({}, { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'Sum up.' }, { type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${pdf(pages)}` } }] }] });

  it('reserves per page: under a 12,000-token daily budget one page is admitted and two are a 402 asking for more', async () => {
    const { g } = gateway({ config: { targets: [target('a')], budget: { max_tokens_per_day: 12_000 } } });
    expect((await g.handle(withPdf(1))).status).toBe(200);
    const refused = await g.handle(withPdf(2));
    expect(refused.status).toBe(402);
    const asked = Number(/may use up to (\d+) tokens/.exec((refused.body as any).error.message)?.[1]);
    expect(asked).toBeGreaterThan(2 * 7_000);
  });
});

describe("the gateway's own body reader and its charset check", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await appFactories.express5!({
      bodyParser: false,
      logger: false,
      env: {},
      config: { targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/a/v1` }] },
    } as never);
    closers.push(() => app.close());
  });
  const post = (contentType: string) =>
    fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Grüße' }] }),
    });

  it('reads UTF-8 however the parameter is spelt (quoted, spaced, upper case) and refuses latin1 with 415', async () => {
    for (const type of ['application/json; charset="utf-8"', 'application/json;CHARSET = UTF-8', 'application/json; charset=utf8', 'application/json ;charset=utf-8;foo=bar']) {
      expect([type, (await post(type)).status]).toEqual([type, 200]);
    }
    const latin1 = await post('application/json; charset=iso-8859-1');
    expect(latin1.status).toBe(415);
    expect((await latin1.json()).error.param).toBe('content-type');
  });

  describe("today's core changes, completed (fixed bugs)", () => {
    // Guards (fixed): an empty charset parameter is a 415 "unsupported charset """, where body-parser (express.json) reads it as the default UTF-8
    it('an empty charset parameter (charset= or charset="") is read as UTF-8, as express.json() reads it', async () => {
      for (const type of ['application/json; charset=', 'application/json; charset=""']) {
        expect([type, (await post(type)).status]).toEqual([type, 200]);
      }
    });
  });
});

describe('stream facts in the record', () => {
  it('an OpenAI stream records its response id and finish reason', async () => {
    const { g, records } = gateway({ config: { targets: [target('a')] } });
    const res = await g.handle(chat({}, { stream: true }));
    for await (const _ of res.body as AsyncIterable<unknown>) void _;
    await new Promise((r) => setTimeout(r, 20));
    const r = records.at(-1)!;
    expect(r.response_id).toMatch(/^chatcmpl-/);
    expect(r.finish_reasons).toEqual(['stop']);
  });

  it('an OpenAI stream cut after content records the id its first chunk carried, as a 502 stream_cut', async () => {
    up.route('/cut/v1/chat/completions', { chunks: STREAM, cutAfter: 4, chunkDelayMs: 10 });
    const { g, records } = gateway({ config: { targets: [target('cut')] } });
    const res = await g.handle(chat({}, { stream: true }));
    try {
      for await (const _ of res.body as AsyncIterable<unknown>) void _;
    } catch {
      // The cut.
    }
    await until(() => records.length === 1);
    const r = records[0]!;
    expect(r).toMatchObject({ outcome: 'stream_cut', status: 502 });
    expect(r.response_id).toMatch(/^chatcmpl-/);
    expect(r.attempts.at(-1)).toMatchObject({ status: 502, model: 'gpt-4o-mini' });
  });

  describe("today's core changes, completed (fixed bugs)", () => {
    // Guards (fixed): Azure's first chunk (prompt_filter_results) has id "", and only the first chunk's text is searched: a cut Azure stream records no response_id
    it('an Azure stream cut after content still records the response id every content chunk carried', async () => {
      up.route('/az/openai/deployments/gpt-5-nano/chat/completions', { chunks: AZURE_STREAM, cutAfter: 6, chunkDelayMs: 10 });
      const { g, records } = gateway({
        config: { targets: [{ provider: 'azure-openai', api_key: 'az-key', custom_host: `${up.url}/az/openai`, deployment_id: 'gpt-5-nano' }] },
      });
      const res = await g.handle(chat({}, { model: 'gpt-5-nano', stream: true }));
      try {
        for await (const _ of res.body as AsyncIterable<unknown>) void _;
      } catch {
        // The cut.
      }
      await new Promise((r) => setTimeout(r, 20));
      const r = records.at(-1)!;
      expect(r.outcome).toBe('stream_cut');
      expect(r.response_id).toBe('chatcmpl-CYPS1lijGoK8gd9lYzY3r9Sx50nbt');
    });
  });
});

describe('Express: two gateways, each with its own errors handler at the root', () => {
  async function twoGateways() {
    const recordsA: RequestLogRecord[] = [];
    const recordsB: RequestLogRecord[] = [];
    const config = { targets: [{ provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/a/v1` }] };
    const a = gatewayMiddleware({ env: {}, logger: false, config, onLog: (r) => void recordsA.push(r) });
    const b = gatewayMiddleware({ env: {}, logger: false, config, onLog: (r) => void recordsB.push(r) });
    closers.push(() => a.close(100), () => b.close(100));
    const app = express();
    app.use(express.json({ limit: '1kb' }));
    app.use('/team-a', a);
    app.use('/team-b', b);
    app.use(a.errors);
    app.use(b.errors);
    const url = await listen(app);
    const send = (team: string, content: string) =>
      fetch(`${url}/${team}/llm/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
      });
    return { recordsA, recordsB, send, url };
  }

  it("absolute-form targets: the body parser's 413 under the mount is the gateway's own, before and after it served", async () => {
    const { send, url } = await twoGateways();
    const { port } = new URL(url);
    const big = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(4000) }] });
    const raw = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        let text = '';
        socket.on('data', (d) => (text += d.toString('latin1')));
        socket.on('error', reject);
        socket.on('close', () => resolve(text));
        socket.write(
          `POST http://127.0.0.1:${port}/team-a/llm/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(big)}\r\nConnection: close\r\n\r\n${big}`,
        );
      });
    for (const when of ['before', 'after']) {
      if (when === 'after') expect((await send('team-a', 'Hi')).status).toBe(200);
      const text = await raw();
      expect([when, text.slice(0, 12)]).toEqual([when, 'HTTP/1.1 413']);
      expect(text).toContain('"type":"invalid_request_error"');
    }
  });

  describe("today's core changes, completed (fixed bugs)", () => {
    // Guards (fixed): once gateway A has served under /team-a, MountPoints.pathFor still falls back to "below the first /llm/", so A answers (and logs) B's refusals
    it('a body-parser refusal under the second mount is answered and recorded by the second gateway, after both have served', async () => {
      const { recordsA, recordsB, send } = await twoGateways();
      expect((await send('team-a', 'Hi')).status).toBe(200);
      expect((await send('team-b', 'Hi')).status).toBe(200);
      await until(() => recordsA.length === 1 && recordsB.length === 1);
      expect((await send('team-b', 'x'.repeat(4000))).status).toBe(413);
      await until(() => recordsA.length + recordsB.length === 3);
      expect({ a: recordsA.map((r) => r.status), b: recordsB.map((r) => r.status) }).toEqual({ a: [200], b: [200, 413] });
    });
  });
});

describe('/v1/messages threads with a fallback tree [anthropic, openai]', () => {
  const lost = { status: 404, json: { type: 'error', error: { type: 'not_found_error', message: 'The thread was not found or has expired.', details: { error_code: 'thread_not_found' } }, request_id: 'req_01Lost' } };
  const reply = (id: string, text: string) => ({ id, type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 30, output_tokens: 10 } });
  let app: TestApp;
  beforeAll(async () => {
    app = await appFactories.express5!({
      env: {},
      logger: false,
      config: {
        strategy: { mode: 'fallback' },
        targets: [
          { provider: 'anthropic', api_key: 'sk-ant-up', custom_host: `${up.url}/ant/v1` },
          { provider: 'openai', api_key: 'sk-openai-up', custom_host: `${up.url}/a/v1` },
        ],
      },
    } as never);
    closers.push(() => app.close());
  });
  const post = async (body: unknown) => {
    const res = await fetch(`${app.gatewayURL}/v1/messages?beta=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-client', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as any };
  };
  const turn = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user', content: 'And tomorrow?' }] };

  it('a threaded turn Anthropic answers is served; the OpenAI fallback is never asked', async () => {
    up.enqueue('/ant/v1/messages', { json: reply('msg_01A', 'Rain.') });
    const res = await post({ ...turn, thread: { type: 'continue', previous_message_id: 'msg_01Prev' } });
    expect(res.status).toBe(200);
    expect(up.requests.map((r) => r.path)).toEqual(['/ant/v1/messages']);
  });

  describe("today's core changes, completed (fixed bugs)", () => {
    // Guards (fixed): the OpenAI fallback's thread refusal replaces Anthropic's 404 thread_not_found, so the SDK stops threading (or throws) instead of replaying under a new thread
    it("Anthropic's lost thread (404 thread_not_found, with its details) reaches the client, not the fallback's thread_unsupported_request", async () => {
      up.enqueue('/ant/v1/messages', lost);
      const res = await post({ ...turn, thread: { type: 'continue', previous_message_id: 'msg_01Prev' } });
      expect(res.status).toBe(404);
      expect(res.json.error.details).toEqual({ error_code: 'thread_not_found' });
    });

    // Guards (fixed): same cause, through the SDK: a lost thread that Anthropic reports (and the SDK replays) becomes a ThreadUnsupportedRequestError the caller must handle
    it("the SDK's message thread replays a lost thread under a new one, as it does against Anthropic itself", async () => {
      up.enqueue('/ant/v1/messages', { json: reply('msg_01T1', 'Sunny.') }, lost, { json: reply('msg_01T2', 'Rain.') });
      const sdk = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'sk-ant-client', maxRetries: 0 });
      const thread = sdk.beta.messages.thread({ model: 'claude-sonnet-4-6', max_tokens: 100 });
      expect((await thread.send({ role: 'user', content: 'Weather today?' })).id).toBe('msg_01T1');
      const second = await thread.send({ role: 'user', content: 'And tomorrow?' }).catch((e: unknown) => e);
      expect(second).not.toBeInstanceOf(Error);
      expect(up.requests.map((r) => r.json?.thread?.type)).toEqual(['create', 'continue', 'create']);
    });
  });
});
