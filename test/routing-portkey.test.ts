import { Portkey } from 'portkey-ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { seeded } from './helpers/seeded-random.js';

/**
 * The seed's configs, verbatim, sent by the `portkey-ai` SDK as its `config` (the `x-portkey-config`
 * header). The providers' base URLs point at local mock upstreams through the server's options.
 */
const SEED_FALLBACK = {
  strategy: { mode: 'fallback' },
  targets: [
    { provider: 'openai', api_key: 'sk-...' },
    { provider: 'anthropic', api_key: 'sk-ant-...' },
    { provider: 'google', api_key: 'AIza...' },
  ],
};
const SEED_LOADBALANCE = {
  strategy: { mode: 'loadbalance' },
  targets: [
    { provider: 'openai', weight: 0.7 },
    { provider: 'anthropic', weight: 0.3 },
  ],
};
const SEED_CACHE = { cache: { mode: 'semantic', max_age: 3600 }, targets: [{ provider: 'openai' }] };

let openai: MockUpstream;
let anthropic: MockUpstream;
let google: MockUpstream;
let app: TestApp;


beforeAll(async () => {
  [openai, anthropic, google] = await Promise.all([startMockUpstream(), startMockUpstream(), startMockUpstream()]);
  app = await appFactories.express5!({
    allowRequestConfig: true,
    providers: {
      openai: { baseURL: `${openai.url}/v1`, apiKey: 'sk-server-openai' },
      anthropic: { baseURL: `${anthropic.url}/v1`, apiKey: 'sk-server-anthropic' },
      google: { baseURL: `${google.url}/v1beta`, apiKey: 'server-google' },
    },
    routing: { random: seeded(11) },
  });
});
afterAll(async () => {
  await app.close();
  await Promise.all([openai, anthropic, google].map((u) => u.close()));
});
beforeEach(() => {
  for (const u of [openai, anthropic, google]) u.reset();
});

const portkey = (config: object) => new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', config, maxRetries: 0 });
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('portkey-ai SDK with the seed configs', () => {
  it('fallback: OpenAI is down at 2am, Anthropic answers', async () => {
    openai.route('*', { status: 503, json: { error: { message: 'The server is overloaded', type: 'server_error' } } });
    anthropic.route('*', { json: fixtureJson('anthropic/messages.text.json') });
    const res = (await portkey(SEED_FALLBACK).chat.completions.create(ask)) as any;
    expect(res.choices[0].message.content).toBe(fixtureJson('anthropic/messages.text.json').content[0].text);
    // The SDK hands back its own headers without the `x-portkey-` prefix.
    const headers = res.getHeaders();
    expect(headers['trace-id']).toMatch(/.+/);
    expect(headers['provider']).toBe('anthropic');
    expect(headers['last-used-option-index']).toBe('config.targets[1]');
    expect(openai.requests[0]!.headers.authorization).toBe('Bearer sk-...');
    expect(anthropic.requests[0]!.headers['x-api-key']).toBe('sk-ant-...');
  });

  it('fallback: both OpenAI and Anthropic fail, Gemini answers', async () => {
    openai.route('*', { reset: true });
    anthropic.route('*', { status: 529, json: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } } });
    google.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
    const res = (await portkey(SEED_FALLBACK).chat.completions.create(ask)) as any;
    expect(res.choices[0].message.content.length).toBeGreaterThan(0);
    expect(res.getHeaders()['provider']).toBe('google');
    expect(google.requests[0]!.headers['x-goog-api-key'] ?? google.requests[0]!.path).toContain('AIza...');
  });

  it('fallback while streaming: a failure before the first token is invisible to the client', async () => {
    openai.route('*', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')), cutAfter: 1 });
    anthropic.route('*', { chunks: splitSse(fixtureText('anthropic/messages.text.stream.sse')) });
    const stream = (await portkey(SEED_FALLBACK).chat.completions.create({ ...ask, stream: true })) as any;
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(openai.requests).toHaveLength(1);
    expect(anthropic.requests).toHaveLength(1);
  });

  it('loadbalance 70/30 between OpenAI and Anthropic, with the server keys', async () => {
    openai.route('*', { json: fixtureJson('openai/chat-completions.text.json') });
    anthropic.route('*', { json: fixtureJson('anthropic/messages.text.json') });
    const client = portkey(SEED_LOADBALANCE);
    const seen: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const res = (await client.chat.completions.create(ask)) as any;
      const provider = res.getHeaders()['provider'];
      seen[provider] = (seen[provider] ?? 0) + 1;
      expect(res.getHeaders()['trace-id']).toMatch(/.+/);
    }
    expect(seen.openai! + seen.anthropic!).toBe(100);
    expect(seen.openai).toBeGreaterThan(55);
    expect(seen.openai).toBeLessThan(85);
    expect(openai.requests[0]!.headers.authorization).toBe('Bearer sk-server-openai');
  });

  it('the semantic-cache config answers through the SDK', async () => {
    openai.route('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    openai.route('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
    const res = (await portkey(SEED_CACHE).chat.completions.create(ask)) as any;
    expect(res.choices[0].message.content).toBe(fixtureJson('openai/chat-completions.text.json').choices[0].message.content);
    expect(res.getHeaders()['trace-id']).toMatch(/.+/);
  });

  it('every error response carries a trace id too, and lists the attempts', async () => {
    openai.route('*', { status: 503, json: { error: { message: 'down' } } });
    anthropic.route('*', { status: 503, json: { type: 'error', error: { type: 'api_error', message: 'down' } } });
    google.route('*', { status: 503, json: { error: { code: 503, message: 'down', status: 'UNAVAILABLE' } } });
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-portkey-config': JSON.stringify(SEED_FALLBACK) },
      body: JSON.stringify(ask),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('x-portkey-trace-id')).toMatch(/.+/);
    const body = await res.json();
    expect(body.error.attempts.map((a: { provider: string }) => a.provider)).toEqual(['openai', 'anthropic', 'google']);
    expect(JSON.stringify(body)).not.toMatch(/sk-\.\.\.|sk-ant-\.\.\.|AIza\.\.\./);
  });
});
