/**
 * `/v1/messages` and what Anthropic clients recover by: a threaded request (`thread`, beta
 * message-threads-2026-08-12) reaches only Anthropic targets, every other one refuses it with the
 * `thread_unsupported_request` details the SDK turns threading off on; an Anthropic error's
 * `error.details` reaches the client; a long `metadata.user_id` fits OpenAI's `user`; and errors
 * raised before a route is chosen still answer in Anthropic's shape.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from '../../../../test/helpers/apps.js';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';

let upstream: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await upstream.close();
});
beforeEach(() => upstream.reset());

const openai = () => ({ provider: 'openai', api_key: 'sk-openai-up', custom_host: `${upstream.url}/v1` });
const anthropic = (api_key = 'sk-ant-up') => ({ provider: 'anthropic', api_key, custom_host: `${upstream.url}/v1` });
const google = () => ({ provider: 'google', api_key: 'AIza-up', custom_host: `${upstream.url}/v1beta` });

async function start(config: Record<string, unknown>): Promise<TestApp> {
  const app = await appFactories.express5!({ env: {}, config } as never);
  apps.push(app);
  return app;
}

async function post(app: TestApp, body: unknown) {
  const res = await fetch(`${app.gatewayURL}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'client', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
}

/** A later turn of a threaded tool loop: only the new tool result, continuing a stored reply. */
const continued = {
  model: 'claude-sonnet-4-6',
  max_tokens: 100,
  thread: { type: 'continue', previous_message_id: 'msg_01Prev' },
  messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'sunny' }] }],
};
const refusal = { type: 'error', error: { type: 'invalid_request_error', details: { error_code: 'thread_unsupported_request', unsupported: [] } } };
const message = { id: 'msg_01Next', type: 'message', role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'Sunny.' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 5, output_tokens: 2 } };

describe('a threaded request on /v1/messages', () => {
  it('goes to an Anthropic target of a mixed tree as sent', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [anthropic(), openai()] });
    upstream.route('/v1/messages', { json: message });
    const res = await post(app, continued);
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.json.thread).toEqual(continued.thread);
  });

  it('is refused, never translated, when the Anthropic target failed and the fallback cannot hold a thread', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [anthropic(), openai()] });
    upstream.route('/v1/messages', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    const res = await post(app, continued);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject(refusal);
    expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/messages']);
  });

  it('keeps the refusal details when every target of the tree refused (the router summary alone would drop them)', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [openai(), google()] });
    for (const thread of [continued.thread, { type: 'create' }]) {
      const res = await post(app, { ...continued, thread });
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject(refusal);
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('without `thread` is translated as usual', async () => {
    const app = await start({ targets: [openai()] });
    upstream.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const { thread: _thread, ...unthreaded } = continued;
    const res = await post(app, { ...unthreaded, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe("an Anthropic error's details on /v1/messages", () => {
  const lost = { type: 'error', error: { type: 'not_found_error', message: 'The thread was not found or has expired.', details: { error_code: 'thread_not_found' } }, request_id: 'req_01' };

  it('reach the client, streamed or not', async () => {
    const app = await start({ targets: [anthropic()] });
    upstream.route('/v1/messages', { status: 404, json: lost });
    for (const stream of [false, true]) {
      const res = await post(app, { ...continued, stream });
      expect(res.status).toBe(404);
      expect(res.json).toMatchObject({ type: 'error', error: { type: 'not_found_error', details: { error_code: 'thread_not_found' } } });
    }
  });

  it("are dropped when they hold the target's key", async () => {
    const key = 'sk-ant-secret-key-0123456789';
    const app = await start({ targets: [anthropic(key)] });
    upstream.route('/v1/messages', { status: 404, json: { ...lost, error: { ...lost.error, details: { error_code: 'thread_not_found', echo: key } } } });
    const res = await post(app, continued);
    expect(res.status).toBe(404);
    expect(res.json.error.details).toBeUndefined();
    expect(JSON.stringify(res.json)).not.toContain(key);
  });

  it('belong only to the error they came with, not to a fallback that failed otherwise', async () => {
    const app = await start({ strategy: { mode: 'fallback' }, targets: [anthropic(), openai()] });
    upstream.route('/v1/messages', { status: 404, json: lost });
    upstream.route('/v1/chat/completions', { status: 500, json: { error: { message: 'boom', type: 'server_error' } } });
    const { thread: _thread, ...unthreaded } = continued;
    const res = await post(app, { ...unthreaded, messages: [{ role: 'user', content: 'hi' }] });
    expect(res.status).toBe(502);
    expect(res.json.error.details).toBeUndefined();
  });
});

describe('metadata.user_id as OpenAI `user`', () => {
  it('goes as is up to 64 characters, else as its SHA-256, the same each time', async () => {
    const app = await start({ targets: [openai()] });
    upstream.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const short = 'u'.repeat(64);
    const long = `user_${'ab'.repeat(40)}_session_1`;
    for (const id of [short, long, long]) await post(app, { model: 'gpt-4o-mini', max_tokens: 5, metadata: { user_id: id }, messages: [{ role: 'user', content: 'hi' }] });
    const users = upstream.requests.map((r) => r.json.user);
    expect(users).toEqual([short, createHash('sha256').update(long).digest('hex'), createHash('sha256').update(long).digest('hex')]);
  });
});

describe('errors raised before a route is chosen', () => {
  it('answer in Anthropic shape on /v1/messages whatever the query or trailing slash, and in OpenAI shape elsewhere', async () => {
    const app = await start({ targets: [openai()] });
    for (const path of ['/v1/messages', '/v1/messages/', '/v1/messages?beta=true']) {
      const res = await app.gateway.handle({ method: 'GET', path, headers: {} });
      expect(res.status).toBe(405);
      expect(res.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    }
    const chat = await app.gateway.handle({ method: 'GET', path: '/v1/chat/completions', headers: {} });
    expect(chat.status).toBe(405);
    expect(chat.body).toMatchObject({ error: { type: 'invalid_request_error', code: 'method_not_allowed' } });
  });
});
