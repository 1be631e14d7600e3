import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recentRequests, type RequestLogRecord } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { PLANTED_KEY, scriptUpstream, targetAt } from './helpers/observe.js';

/** A client's own provider key (sent with `allowRequestConfig`), a gateway key and an admin key: none may leak either. */
const CLIENT_KEY = 'sk-client-own-7a6b5c4d3e2f1a0b';
const GATEWAY_KEY = 'llmux-gw-key-team-a-5f4e3d2c1b0a';
const ADMIN_KEY = 'llmux-admin-key-0f1e2d3c4b5a6978';
const SECRETS = [PLANTED_KEY, CLIENT_KEY, GATEWAY_KEY, ADMIN_KEY];

let up: MockUpstream;
let app: TestApp;
const logLines: string[] = [];
const onLogRecords: RequestLogRecord[] = [];
const responses: string[] = [];
const spans = new InMemorySpanExporter();

beforeAll(async () => {
  up = await startMockUpstream();
  scriptUpstream(up);
  app = await appFactories.express5!({
    env: {},
    config: { strategy: { mode: 'fallback' }, targets: [targetAt(up, 'down'), targetAt(up, 'bad-key')] },
    providers: { openai: { apiKey: PLANTED_KEY } },
    allowRequestConfig: true,
    allowedHosts: ['127.0.0.1'],
    logBodies: true,
    auth: { keys: [{ key: GATEWAY_KEY, name: 'team-a' }], adminKeys: [ADMIN_KEY] },
    logger: pino({ level: 'debug' }, new Writable({ write: (chunk, _e, done) => (logLines.push(String(chunk)), done()) })),
    onLog: (r) => void onLogRecords.push(r),
    tracing: { tracerProvider: new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }) },
  });
});
afterAll(async () => {
  await app.close();
  await up.close();
  trace.disable();
});

async function send(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<Response> {
  const res = await fetch(`${app.gatewayURL}${path}`, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${GATEWAY_KEY}`, ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  responses.push(JSON.stringify([...res.headers]) + text);
  return res;
}

const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...extra });

describe('a planted provider key', () => {
  it('is absent from every response, log line, record, span and metric, whatever happens', async () => {
    // Both targets fail, echoing the key they were sent in their error messages.
    expect((await send('/v1/chat/completions', { body: chat() })).status).toBe(502);
    expect((await send('/v1/chat/completions', { body: chat({ stream: true }) })).status).toBe(502);
    expect((await send('/v1/messages', { body: { model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'Hi' }] } })).status).toBe(502);
    // A client that sends its own provider key (allowRequestConfig) against an upstream that echoes it.
    const own = await send('/v1/chat/completions', {
      headers: { 'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: CLIENT_KEY, custom_host: `${up.url}/bad-key/v1` }) },
      body: chat(),
    });
    expect(own.status).toBe(401);
    // The key typed into a prompt, into metadata, or used as a model name.
    await send('/v1/chat/completions', {
      headers: {
        'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: CLIENT_KEY, custom_host: `${up.url}/ok/v1` }),
        'x-llmux-metadata': JSON.stringify({ note: `key ${PLANTED_KEY}`, api_key: GATEWAY_KEY }),
      },
      body: chat({ messages: [{ role: 'user', content: `my keys are ${PLANTED_KEY} and ${GATEWAY_KEY}` }] }),
    });
    await send('/v1/chat/completions', { body: chat({ model: PLANTED_KEY }) });
    // Wrong and missing gateway keys, and the admin routes.
    expect((await send('/v1/chat/completions', { headers: { authorization: `Bearer ${PLANTED_KEY}` }, body: chat() })).status).toBe(401);
    expect((await send('/metrics', { method: 'GET', headers: { authorization: `Bearer ${ADMIN_KEY}` } })).status).toBe(200);
    expect((await send('/usage', { method: 'GET', headers: { 'x-llmux-admin-key': ADMIN_KEY } })).status).toBe(200);

    const view = recentRequests(app.gateway);
    await new Promise((r) => setTimeout(r, 20));
    expect(view.records.length).toBeGreaterThanOrEqual(7);
    expect(onLogRecords.length).toBe(view.records.length);
    expect(logLines.filter((l) => l.includes('"llmux request"')).length).toBe(view.records.length);
    const metrics = await (await fetch(`${app.gatewayURL}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).text();

    const everything = {
      responses: responses.join('\n'),
      logLines: logLines.join('\n'),
      onLog: JSON.stringify(onLogRecords),
      recent: JSON.stringify(view),
      spans: JSON.stringify(spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, status: s.status, events: s.events }))),
      metrics,
      upstreamErrorsSeen: up.requests.length > 0 ? 'yes' : 'no',
    };
    for (const [where, text] of Object.entries(everything)) {
      for (const secret of SECRETS) expect(text.includes(secret), `${secret} found in ${where}`).toBe(false);
    }
    // The redaction is visible where the key was: the upstream's echo and the prompt.
    expect(everything.responses).toContain('[REDACTED]');
    expect(everything.onLog).toContain('my keys are [REDACTED] and [REDACTED]');
    // The key did reach the upstreams: it was really planted.
    expect(up.requests.some((r) => r.headers.authorization === `Bearer ${PLANTED_KEY}`)).toBe(true);
    expect(up.requests.some((r) => r.headers.authorization === `Bearer ${CLIENT_KEY}`)).toBe(true);
    // And the gateway key never went upstream.
    expect(up.requests.every((r) => !JSON.stringify(r.headers).includes(GATEWAY_KEY))).toBe(true);
  });
});
