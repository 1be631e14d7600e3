import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from '../../../../test/helpers/apps.js';
import { cassette, fixtureJson } from '../../../../test/helpers/fixtures.js';
import { COHERE_KEY, cohereGateway } from './cohere-setup.js';

const g = cohereGateway();
const recorded = fixtureJson('cohere/embed-v2.json');
const texts = ['sunny day at the beach', 'rainy day in the city'];

describe('cohere embeddings, replaying the recorded bodies', () => {
  it('sends /v2/embed with float embedding types and search_document, and the SDK decodes its default base64 (embed-v2.json)', async () => {
    g.upstream.enqueue('/v2/embed', { json: recorded });
    const res = await g.client.embeddings.create({ model: 'embed-english-v3.0', input: texts });
    const sent = g.upstream.requests[0]!;
    expect(sent.path).toBe('/v2/embed');
    expect(sent.headers.authorization).toBe(`Bearer ${COHERE_KEY}`);
    expect(sent.json).toEqual({ model: 'embed-english-v3.0', texts, input_type: 'search_document', embedding_types: ['float'] });
    expect(res.model).toBe('embed-english-v3.0');
    expect(res.usage).toMatchObject({ prompt_tokens: 10, total_tokens: 10 });
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    res.data.forEach((d, i) => {
      expect(d.object).toBe('embedding');
      expect(Array.from(d.embedding)).toHaveLength(5);
      Array.from(d.embedding).forEach((x, j) => expect(x).toBeCloseTo(recorded.embeddings.float[i][j], 6));
    });
  });

  it('splits more than 96 inputs into calls of 96 (Cohere\'s limit) and joins the answers in order, usage summed', async () => {
    // Synthetic answers built on the recorded one: each call answers one vector per text it was sent.
    g.upstream.route('/v2/embed', (req) => {
      const sent = req.json.texts as string[];
      return { json: { ...recorded, embeddings: { float: sent.map((t) => [Number(t.slice(5)), 0, 0, 0, 0]) }, meta: { billed_units: { input_tokens: sent.length } } } };
    });
    const input = Array.from({ length: 200 }, (_, i) => `text ${i}`);
    const res = await g.client.embeddings.create({ model: 'embed-english-v3.0', input, encoding_format: 'float' });
    expect(g.upstream.requests.map((r) => (r.json.texts as string[]).length)).toEqual([96, 96, 8]);
    expect(res.data.map((d) => d.index)).toEqual(input.map((_, i) => i));
    expect(res.data.map((d) => (d.embedding as number[])[0])).toEqual(input.map((_, i) => i));
    expect(res.usage).toMatchObject({ prompt_tokens: 200, total_tokens: 200 });
  });

  it('leaves usage out when Cohere reports no billed units, rather than counting them as 0', async () => {
    const { meta: _meta, ...unbilled } = recorded;
    g.upstream.enqueue('/v2/embed', { json: unbilled });
    const res = await g.client.embeddings.create({ model: 'embed-english-v3.0', input: texts, encoding_format: 'float' }).withResponse();
    expect(res.data.usage).toBeUndefined();
    expect(res.response.headers.get('x-llmux-cost-status')).toBe('no_usage');
  });

  it('returns plain floats when asked, and takes input_type and dimensions from the request', async () => {
    g.upstream.enqueue('/v2/embed', { json: recorded });
    const res = await g.client.embeddings.create({ model: 'embed-v4.0', input: 'sunny day at the beach', encoding_format: 'float', dimensions: 256, input_type: 'search_query' } as never);
    expect(g.upstream.requests[0]!.json).toEqual({
      model: 'embed-v4.0',
      texts: ['sunny day at the beach'],
      input_type: 'search_query',
      embedding_types: ['float'],
      output_dimension: 256,
    });
    expect((res as OpenAI.CreateEmbeddingResponse).data[0]!.embedding).toEqual(recorded.embeddings.float[0]);
  });

  it('takes input_type from a target\'s override_params', async () => {
    const app = await appFactories.express5!({
      config: { targets: [{ provider: 'cohere', api_key: COHERE_KEY, custom_host: `${g.upstream.url}/v2`, override_params: { input_type: 'classification' } }] },
    });
    try {
      g.upstream.enqueue('/v2/embed', { json: recorded });
      await new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }).embeddings.create({ model: 'embed-v4.0', input: texts });
      expect(g.upstream.requests[0]!.json.input_type).toBe('classification');
    } finally {
      await app.close();
    }
  });

  it('refuses token arrays with a 400 naming input', async () => {
    const err = await g.client.embeddings.create({ model: 'embed-v4.0', input: [1, 2, 3], encoding_format: 'float' }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.error.param).toBe('input');
    expect(g.upstream.requests).toHaveLength(0);
  });

  it('passes the recorded 404 on with Cohere\'s message (embed-v2.error-404.cassette.yaml)', async () => {
    const [i] = cassette('cohere/embed-v2.error-404.cassette.yaml');
    g.upstream.enqueue('/v2/embed', { status: i!.response.status.code, json: i!.response.parsed_body });
    const err = await g.client.embeddings.create({ model: 'nonexistent', input: ['Hello, world!'], input_type: 'search_query' } as never).catch((e) => e);
    const sent = g.upstream.requests[0]!.json;
    const want = i!.request.parsed_body;
    for (const field of ['model', 'texts', 'input_type', 'embedding_types']) expect(sent[field], field).toEqual(want[field]);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.status).toBe(404);
    expect(err.error).toMatchObject({ message: i!.response.parsed_body.message, type: 'not_found_error', provider: 'cohere' });
  });
});

describe('cohere without a config', () => {
  let app: TestApp;
  let client: OpenAI;
  beforeAll(async () => {
    // Cohere's own SDK reads CO_API_KEY; a gateway started in the same environment should too.
    app = await appFactories.express5!({ env: { CO_API_KEY: 'co-from-env' }, providers: { cohere: { baseURL: `${g.upstream.url}/v2` } } });
    client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(() => app.close());

  it('routes command-* models to cohere with the key from CO_API_KEY', async () => {
    g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
    const res = await client.chat.completions.create({ model: 'command-r-plus', messages: [{ role: 'user', content: 'Hi' }] }).withResponse();
    expect(res.response.headers.get('x-llmux-provider')).toBe('cohere');
    expect(res.data.choices[0]!.message.content).toBe('The capital of France is Paris.');
    expect(g.upstream.requests[0]!.headers.authorization).toBe('Bearer co-from-env');
  });

  it('prefers COHERE_API_KEY when both are set', async () => {
    const both = await appFactories.express5!({ env: { CO_API_KEY: 'co-old', COHERE_API_KEY: 'co-new' }, providers: { cohere: { baseURL: `${g.upstream.url}/v2` } } });
    try {
      g.upstream.enqueue('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
      await new OpenAI({ baseURL: `${both.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }).chat.completions.create({ model: 'cohere/command-a', messages: [{ role: 'user', content: 'Hi' }] });
      expect(g.upstream.requests[0]!.headers.authorization).toBe('Bearer co-new');
      expect(g.upstream.requests[0]!.json.model).toBe('command-a');
    } finally {
      await both.close();
    }
  });
});
