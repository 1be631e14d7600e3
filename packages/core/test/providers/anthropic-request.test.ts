import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from '../../../../test/helpers/apps.js';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';
import { ANTHROPIC_KEY, anthropicGateway } from './anthropic-setup.js';

const answer = () => ({ json: fixtureJson('anthropic/messages.text.json') });
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('what the anthropic provider sends upstream', () => {
  const gw = anthropicGateway({ anthropic_beta: 'prompt-caching-2024-07-31' });

  async function send(params: Record<string, unknown>) {
    gw.upstream.enqueue('/v1/messages', answer());
    await gw.client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }], ...params } as never);
    return gw.upstream.requests[0]!;
  }

  it('posts to {baseURL}/messages with the target key in x-api-key and the pinned API version', async () => {
    const sent = await send({});
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers['anthropic-beta']).toBe('prompt-caching-2024-07-31');
    expect(sent.headers['content-type']).toBe('application/json');
    // The client's own credentials never travel upstream.
    expect(sent.headers.authorization).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain('client-side-key');
  });

  it('sends a plain request with the default max_tokens and nothing OpenAI-only', async () => {
    const sent = await send({ seed: 7, frequency_penalty: 0.5, logprobs: false });
    expect(sent.json).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] });
  });

  // Claude returns no log probabilities: a 200 with `logprobs: null` would hide that from the client.
  it('refuses logprobs: true with a 400 naming logprobs', async () => {
    const err = await gw.client.chat.completions
      .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }], logprobs: true })
      .then(() => undefined, (e: InstanceType<typeof OpenAI.APIError>) => e);
    expect(err?.status).toBe(400);
    expect(err?.param).toBe('logprobs');
  });

  it('moves system and developer messages to system, keeping cache breakpoints', async () => {
    const one = await send({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] });
    expect(one.json.system).toBe('Be brief.');
    gw.upstream.reset();
    const two = await send({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } }] },
        { role: 'developer', content: 'Answer in French.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    expect(two.json.system).toEqual([
      { type: 'text', text: 'Long context', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'Answer in French.' },
    ]);
    expect(two.json.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }]);
  });

  it('honours max_completion_tokens over max_tokens, and max_tokens alone', async () => {
    expect((await send({ max_tokens: 100, max_completion_tokens: 300 })).json.max_tokens).toBe(300);
    gw.upstream.reset();
    expect((await send({ max_tokens: 100 })).json.max_tokens).toBe(100);
  });

  it('sends data-URL images as base64 sources and http URLs as url sources', async () => {
    const sent = await send({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
          ],
        },
      ],
    });
    expect(sent.json.messages[0].content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('sends OpenAI file parts as documents (PDF as base64, text decoded, filename as title) and Anthropic-shaped blocks unchanged', async () => {
    const pdf = Buffer.from('%PDF-1.4 tiny').toString('base64');
    const notes = Buffer.from('Meeting notes: ship on Friday. Ünïcode kept.').toString('base64');
    const own = { type: 'document', source: { type: 'url', url: 'https://example.com/spec.pdf' }, citations: { enabled: true } };
    const sent = await send({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Summarise both' },
            { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
            { type: 'file', file: { file_data: `data:text/plain;base64,${notes}` } },
            own,
          ],
        },
      ],
    });
    expect(sent.json.messages[0].content).toEqual([
      { type: 'text', text: 'Summarise both' },
      { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: pdf }, title: 'report.pdf' },
      { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Meeting notes: ship on Friday. Ünïcode kept.' } },
      own,
    ]);
  });

  it('refuses files Anthropic cannot take inline with a 400 naming the field, without calling upstream', async () => {
    gw.upstream.reset();
    const cases: Array<[unknown, string]> = [
      [{ type: 'file', file: { file_id: 'file-abc' } }, 'messages[0].content[0].file.file_data'],
      [{ type: 'file', file: { file_data: 'data:text/plain;base64,@@not base64@@' } }, 'messages[0].content[0].file.file_data'],
    ];
    for (const [part, param] of cases) {
      const err = await gw.client.chat.completions
        .create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: [part] }] } as never)
        .catch((e: unknown) => e as InstanceType<typeof OpenAI.BadRequestError>);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error).toMatchObject({ param });
    }
    expect(gw.upstream.requests).toHaveLength(0);
  });

  it('translates tools and every tool_choice', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const cases: Array<[unknown, unknown]> = [
      ['auto', { type: 'auto' }],
      ['required', { type: 'any' }],
      ['none', { type: 'none' }],
      [{ type: 'function', function: { name: 'get_weather' } }, { type: 'tool', name: 'get_weather' }],
    ];
    for (const [choice, expected] of cases) {
      gw.upstream.reset();
      const sent = await send({ tools, tool_choice: choice });
      expect(sent.json.tools).toEqual([{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]);
      expect(sent.json.tool_choice).toEqual(expected);
    }
    gw.upstream.reset();
    const serial = await send({ tools, parallel_tool_calls: false });
    expect(serial.json.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
  });

  it('turns assistant tool_calls into tool_use blocks and consecutive tool results into one user turn', async () => {
    const sent = await send({
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking both.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'Sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: 'Rain' }] },
        { role: 'user', content: 'Thanks, and tomorrow?' },
      ],
    });
    expect(sent.json.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking both.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'Rain' }] },
          { type: 'text', text: 'Thanks, and tomorrow?' },
        ],
      },
    ]);
  });

  it('sends stop sequences, temperature, top_p and the user id', async () => {
    const sent = await send({ stop: 'END', temperature: 0.2, top_p: 0.9, user: 'user-42' });
    expect(sent.json).toMatchObject({ stop_sequences: ['END'], temperature: 0.2, top_p: 0.9, metadata: { user_id: 'user-42' } });
    gw.upstream.reset();
    expect((await send({ stop: ['a', 'b'] })).json.stop_sequences).toEqual(['a', 'b']);
  });

  it('turns reasoning_effort into a thinking budget on top of the default max_tokens, or within the given one', async () => {
    const high = await send({ reasoning_effort: 'high' });
    expect(high.json.thinking).toEqual({ type: 'enabled', budget_tokens: 4096 });
    expect(high.json.max_tokens).toBe(4096 + 4096);
    gw.upstream.reset();
    const bounded = await send({ reasoning_effort: 'medium', max_completion_tokens: 3000 });
    expect(bounded.json).toMatchObject({ max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 1500 } });
    gw.upstream.reset();
    expect((await send({ reasoning_effort: 'none' })).json.thinking).toBeUndefined();
    gw.upstream.reset();
    // Anthropic's own parameters pass as extra fields.
    expect((await send({ thinking: { type: 'enabled', budget_tokens: 2000 }, top_k: 5 })).json).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2000 }, top_k: 5 });
  });

  it('sends json_schema as output_config.format and stream: true when streaming', async () => {
    gw.upstream.enqueue('/v1/messages', { chunks: ['event: message_stop\ndata: {"type":"message_stop"}\n\n'] });
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    const stream = await gw.client.chat.completions.create({
      model: 'claude-sonnet-4-5',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      response_format: { type: 'json_schema', json_schema: { name: 'a', schema } },
    });
    for await (const _ of stream);
    const sent = gw.upstream.requests[0]!.json;
    expect(sent.stream).toBe(true);
    expect(sent.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(sent.stream_options).toBeUndefined();
  });

  it('refuses what Anthropic cannot do with a 400 naming the field, without calling upstream', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ n: 2 }, 'n'],
      [{ reasoning_effort: 'extreme' }, 'reasoning_effort'],
      [{ reasoning_effort: 'low', max_tokens: 500 }, 'max_tokens'],
      [{ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }] }, 'messages[0].content[0].type'],
      [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }, 'messages[0].content[0].image_url.url'],
      [
        {
          messages: [
            { role: 'user', content: 'x' },
            { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{not json' } }] },
            { role: 'tool', tool_call_id: 't', content: 'r' },
          ],
        },
        'messages[1].tool_calls[0].function.arguments',
      ],
    ];
    for (const [params, param] of cases) {
      const err = await gw.client.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hi' }], ...params } as never).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.error.param).toBe(param);
      expect(err.message).toContain(param);
    }
    expect(gw.upstream.requests).toHaveLength(0);
  });
});

describe('anthropic without a config', () => {
  let upstream: MockUpstream;
  let app: TestApp;
  let client: OpenAI;
  beforeAll(async () => {
    upstream = await startMockUpstream();
    app = await appFactories.express5!({ providers: { anthropic: { baseURL: `${upstream.url}/v1` } }, env: { ANTHROPIC_API_KEY: 'sk-ant-from-env' } });
    client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await app.close();
    await upstream.close();
  });

  it('routes claude-… and anthropic/… model names with the key from ANTHROPIC_API_KEY', async () => {
    for (const model of ['claude-sonnet-4-5', 'anthropic/claude-sonnet-4-5']) {
      upstream.reset();
      upstream.enqueue('/v1/messages', answer());
      const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
      expect(res.response.headers.get('x-llmux-provider')).toBe('anthropic');
      expect(upstream.requests[0]!.headers['x-api-key']).toBe('sk-ant-from-env');
      expect(upstream.requests[0]!.json.model).toBe('claude-sonnet-4-5');
    }
  });
});

describe('anthropic target settings', () => {
  const gw = anthropicGateway({ override_params: { model: 'claude-haiku-4-5', max_tokens: 256 }, structured_output: 'tool', anthropic_version: '2023-01-01' });

  it('applies override_params, the version and the tool technique for structured output', async () => {
    gw.upstream.enqueue('/v1/messages', { json: fixtureJson('anthropic/messages.tool-use.json') });
    const schema = { type: 'object', properties: { elements: { type: 'array' } } };
    const res = await gw.client.chat.completions.create({
      model: 'whatever',
      messages: [{ role: 'user', content: 'Hi' }],
      response_format: { type: 'json_schema', json_schema: { name: 'weather', schema } },
    });
    const sent = gw.upstream.requests[0]!;
    expect(sent.headers['anthropic-version']).toBe('2023-01-01');
    expect(sent.json).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 256, tool_choice: { type: 'tool', name: 'json' } });
    expect(sent.json.tools).toEqual([{ name: 'json', description: expect.any(String), input_schema: schema }]);
    expect(sent.json.output_config).toBeUndefined();
    expect(JSON.parse(res.choices[0]!.message.content!).elements).toHaveLength(4);
  });
});
