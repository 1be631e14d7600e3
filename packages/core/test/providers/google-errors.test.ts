import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { parseGoogleError } from '../../src/providers/google/errors.js';
import { cassette, fixtureJson, fixtureText } from '../../../../test/helpers/fixtures.js';
import { GEMINI_KEY, googleGateway } from './google-setup.js';

const g = googleGateway();
const user = [{ role: 'user' as const, content: 'Hi' }];
const path = (model: string) => `/v1beta/models/${model}:generateContent`;

async function failure(model: string, messages: OpenAI.ChatCompletionMessageParam[] = user) {
  return g.client.chat.completions.create({ model, messages }).catch((e) => e);
}

describe('google errors reach the client in the OpenAI shape with the provider status', () => {
  it('429 RESOURCE_EXHAUSTED keeps its message and turns RetryInfo.retryDelay into Retry-After (error-429-resource-exhausted.json)', async () => {
    g.upstream.enqueue(path('gemini-2.5-flash'), { status: 429, json: fixtureJson('gemini/error-429-resource-exhausted.json') });
    const err = await failure('gemini-2.5-flash');
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.status).toBe(429);
    expect(err.headers.get('retry-after')).toBe('35');
    expect(err.error).toMatchObject({
      message: 'You exceeded your current quota, please check your plan.',
      type: 'rate_limit_error',
      code: 'RESOURCE_EXHAUSTED',
      source: 'provider',
      provider: 'google',
    });
  });

  it('404 NOT_FOUND for an unknown model (error-404-not-found.cassette.yaml)', async () => {
    const [rec] = cassette('gemini/error-404-not-found.cassette.yaml');
    g.upstream.enqueue(path('gemini-3.6-flahs'), { status: rec!.response.status.code, json: rec!.response.parsed_body });
    const err = await failure('gemini-3.6-flahs', [{ role: 'user', content: 'hello' }]);
    expect(g.upstream.requests[0]!.path).toBe(new URL(rec!.request.uri).pathname);
    expect(g.upstream.requests[0]!.json.contents).toEqual(rec!.request.parsed_body.contents);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toMatchObject({ type: 'not_found_error', code: 'NOT_FOUND' });
    expect(err.error.message).toMatch(/^models\/gemini-3.6-flahs is not found for API version v1beta/);
  });

  it('400 API key not valid is an authentication_error and never echoes the key', async () => {
    // Synthetic (the fixtures README quotes this body from Google's docs; no recording exists).
    g.upstream.enqueue(path('gemini-2.5-flash'), {
      status: 400,
      json: {
        error: {
          code: 400,
          message: `API key not valid. Please pass a valid API key. (${GEMINI_KEY})`,
          status: 'INVALID_ARGUMENT',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' }],
        },
      },
    });
    const err = await failure('gemini-2.5-flash');
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'authentication_error', code: 'API_KEY_INVALID' });
    expect(err.error.message).toMatch(/^API key not valid/);
    expect(JSON.stringify(err.error)).not.toContain(GEMINI_KEY);
  });

  it('400 over the context limit is coded context_length_exceeded', async () => {
    // Synthetic, message quoted in the fixtures README from user reports.
    g.upstream.enqueue(path('gemini-2.5-flash'), {
      status: 400,
      json: { error: { code: 400, message: 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).', status: 'INVALID_ARGUMENT' } },
    });
    const err = await failure('gemini-2.5-flash');
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', code: 'context_length_exceeded' });
  });

  it('503 UNAVAILABLE (overloaded) stays a 503', async () => {
    // Synthetic, per the fixtures README.
    g.upstream.enqueue(path('gemini-2.5-flash'), { status: 503, json: { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } } });
    const err = await failure('gemini-2.5-flash');
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(503);
    expect(err.error).toMatchObject({ type: 'server_error', code: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' });
  });

  it('a non-JSON error body keeps the status and the text', async () => {
    g.upstream.enqueue(path('gemini-2.5-flash'), { status: 502, headers: { 'content-type': 'text/html' }, body: '<html>Bad Gateway</html>' });
    const err = await failure('gemini-2.5-flash');
    expect(err.status).toBe(502);
    expect(err.error.message).toBe('<html>Bad Gateway</html>');
  });

  it('reads the array-wrapped errors of non-SSE stream endpoints and a Retry-After header', () => {
    const body = `[${fixtureText('gemini/error-429-resource-exhausted.json')}]`;
    expect(parseGoogleError(429, body, {})).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryAfter: 34.4 });
    const plain = JSON.stringify({ error: { code: 429, message: 'slow down', status: 'RESOURCE_EXHAUSTED' } });
    expect(parseGoogleError(429, plain, { 'retry-after': '7' })).toMatchObject({ message: 'slow down', retryAfter: 7 });
  });
});

describe('bad input is a 400 naming the field, before Gemini is called', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a tool result without its call', { messages: [...user, { role: 'tool', tool_call_id: 'nope', content: 'x' }] }, 'messages[1].tool_call_id'],
    [
      'tool call arguments that are not JSON',
      { messages: [...user, { role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] },
      'messages[1].tool_calls[0].function.arguments',
    ],
    ['a content part Gemini cannot take', { messages: [{ role: 'user', content: [{ type: 'refusal', refusal: 'x' }] }] }, 'messages[0].content[0].type'],
    ['an image URL that is neither http nor data', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['only a system prompt', { messages: [{ role: 'system', content: 'Be brief.' }] }, 'messages'],
    ['an unknown tool_choice', { messages: user, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'custom' } }, 'tool_choice'],
    ['an unknown reasoning_effort', { messages: user, reasoning_effort: 'extreme' }, 'reasoning_effort'],
    ['a model name that climbs out of the path', { messages: user, model: 'gemini/../../v1/files' }, 'model'],
  ];
  for (const [what, body, param] of cases) {
    it(`rejects ${what} (${param})`, async () => {
      const res = await fetch(`${g.app.gatewayURL}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gemini-2.5-flash', ...body }),
      });
      expect(res.status).toBe(400);
      const json = await res.json();
      expect(json.error.param).toBe(param);
      expect(json.error.message).toContain(param);
      expect(g.upstream.requests).toHaveLength(0);
    });
  }
});
