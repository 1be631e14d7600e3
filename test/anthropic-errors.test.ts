import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * Provider errors reach clients with the provider's status: in the OpenAI shape on
 * /v1/chat/completions, in Anthropic's shape on /v1/messages. The error bodies are synthetic (no
 * 401/429/529 or context-overflow recordings exist); their shapes and messages follow the providers' docs.
 */
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const anthropicError = (type: string, message: string) => ({ type: 'error', error: { type, message }, request_id: 'req_011CSynthetic' });

const ANTHROPIC_CASES = [
  { status: 400, type: 'invalid_request_error', message: 'prompt is too long: 208310 tokens > 200000 maximum', openai: OpenAI.BadRequestError, anthropic: Anthropic.BadRequestError },
  { status: 401, type: 'authentication_error', message: 'invalid x-api-key', openai: OpenAI.AuthenticationError, anthropic: Anthropic.AuthenticationError },
  { status: 429, type: 'rate_limit_error', message: 'This request would exceed the rate limit for your organization of 50 requests per minute.', retryAfter: '7', openai: OpenAI.RateLimitError, anthropic: Anthropic.RateLimitError },
  { status: 529, type: 'overloaded_error', message: 'Overloaded', openai: OpenAI.APIError, anthropic: Anthropic.APIError },
];

function clients(app: TestApp) {
  return {
    openai: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: app.gatewayURL, apiKey: 'sk-ant-client', maxRetries: 0 }),
  };
}

const chat = { model: 'claude-sonnet-4-6', messages: [{ role: 'user' as const, content: 'Hi' }] };
const message = { model: 'claude-sonnet-4-6', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Hi' }] };

describe('errors of an Anthropic target', () => {
  let app: TestApp;
  let c: ReturnType<typeof clients>;
  beforeAll(async () => {
    app = await appFactories.express5!({ config: { targets: [{ provider: 'anthropic', api_key: 'sk-ant-upstream', custom_host: `${upstream.url}/v1` }] } });
    c = clients(app);
  });
  afterAll(() => app.close());

  for (const k of ANTHROPIC_CASES) {
    it(`${k.status} ${k.type} keeps its status on both routes`, async () => {
      const reply = () => ({ status: k.status, json: anthropicError(k.type, k.message), headers: k.retryAfter ? { 'retry-after': k.retryAfter } : {} });
      upstream.enqueue('/v1/messages', reply(), reply());

      const viaOpenAI = await c.openai.chat.completions.create(chat).catch((e) => e);
      expect(viaOpenAI).toBeInstanceOf(k.openai);
      expect(viaOpenAI.status).toBe(k.status);
      expect(viaOpenAI.message).toContain(k.message);
      expect(viaOpenAI.error).toMatchObject({ type: k.type, code: k.type, source: 'provider', provider: 'anthropic' });
      if (k.retryAfter) expect(viaOpenAI.headers.get('retry-after')).toBe(k.retryAfter);

      const viaAnthropic = await c.anthropic.messages.create(message).catch((e) => e);
      expect(viaAnthropic).toBeInstanceOf(k.anthropic);
      expect(viaAnthropic.status).toBe(k.status);
      expect(viaAnthropic.error).toMatchObject({ type: 'error', error: { type: k.type, message: k.message } });
      if (k.retryAfter) expect(viaAnthropic.headers.get('retry-after')).toBe(k.retryAfter);
    });
  }

  it('an overloaded_error event before any content becomes a 529 on both routes', async () => {
    const head = splitSse(fixtureText('anthropic/messages.text.stream.sse')).slice(0, 3);
    const overloaded = 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
    upstream.enqueue('/v1/messages', { chunks: [...head, overloaded] }, { chunks: [...head, overloaded] });

    const viaOpenAI = await c.openai.chat.completions.create({ ...chat, stream: true }).catch((e) => e);
    expect(viaOpenAI).toBeInstanceOf(OpenAI.APIError);
    expect(viaOpenAI.status).toBe(529);
    expect(viaOpenAI.error).toMatchObject({ type: 'overloaded_error', message: 'Overloaded' });

    const viaAnthropic = await c.anthropic.messages.create({ ...message, stream: true }).catch((e) => e);
    expect(viaAnthropic.status).toBe(529);
    expect(viaAnthropic.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
  });

  it('a stream cut after content fails loudly on both routes, never as a complete answer', async () => {
    const events = splitSse(fixtureText('anthropic/messages.thinking.stream.sse'));
    const cut = events.filter((e) => !e.includes('message_stop'));
    upstream.enqueue('/v1/messages', { chunks: cut }, { chunks: cut });

    const stream = await c.openai.chat.completions.create({ ...chat, stream: true });
    const err = await (async () => {
      for await (const _ of stream);
    })().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.message).toContain('message_stop');

    const viaAnthropic = await c.anthropic.messages.stream(message).finalMessage().catch((e) => e);
    expect(viaAnthropic).toBeInstanceOf(Anthropic.APIError);
    expect(viaAnthropic.error).toMatchObject({ type: 'error', error: { message: expect.stringContaining('message_stop') } });
  });
});

describe('errors of an OpenAI target on /v1/messages', () => {
  let app: TestApp;
  let c: ReturnType<typeof clients>;
  beforeAll(async () => {
    app = await appFactories.express5!({ config: { targets: [{ provider: 'openai', api_key: 'sk-openai-upstream', custom_host: `${upstream.url}/v1` }] } });
    c = clients(app);
  });
  afterAll(() => app.close());

  const OPENAI_CASES = [
    { status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.", type: 'invalid_request_error' },
    { status: 401, code: 'invalid_api_key', message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'authentication_error' },
    { status: 429, code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 30000, Requested 500.', type: 'rate_limit_error', retryAfter: '3' },
    { status: 503, code: 'server_error', message: 'The server is overloaded or not ready yet.', type: 'overloaded_error' },
  ];
  for (const k of OPENAI_CASES) {
    it(`${k.status} ${k.code} arrives as Anthropic ${k.type}`, async () => {
      upstream.enqueue('/v1/chat/completions', {
        status: k.status,
        json: { error: { message: k.message, type: k.status === 429 ? 'requests' : 'invalid_request_error', param: null, code: k.code } },
        headers: k.retryAfter ? { 'retry-after': k.retryAfter } : {},
      });
      const err = await c.anthropic.messages.create({ ...message, model: 'gpt-4o' }).catch((e) => e);
      expect(err).toBeInstanceOf(Anthropic.APIError);
      expect(err.status).toBe(k.status);
      expect(err.error).toEqual({ type: 'error', error: { type: k.type, message: k.message }, request_id: expect.any(String) });
      if (k.retryAfter) expect(err.headers.get('retry-after')).toBe(k.retryAfter);
    });
  }
});
