import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, fixtureJson } from '../../../../test/helpers/fixtures.js';
import { GEMINI_KEY, googleGateway, VERTEX_TOKEN } from './google-setup.js';

describe('google embeddings (batchEmbedContents)', () => {
  const g = googleGateway();

  it('splits more than 100 inputs into batchEmbedContents calls of 100 (Gemini\'s limit), joined in order', async () => {
    // Synthetic answers: one vector per request sent, its first value the input's number.
    g.upstream.route('/v1beta/models/gemini-embedding-001:batchEmbedContents', (req) => ({
      json: { embeddings: (req.json.requests as Array<{ content: { parts: Array<{ text: string }> } }>).map((r) => ({ values: [Number(r.content.parts[0]!.text.slice(5)), 0, 0] })) },
    }));
    const input = Array.from({ length: 250 }, (_, i) => `text ${i}`);
    const res = await g.client.embeddings.create({ model: 'gemini-embedding-001', input, encoding_format: 'float' });
    expect(g.upstream.requests.map((r) => (r.json.requests as unknown[]).length)).toEqual([100, 100, 50]);
    expect(res.data.map((d) => d.index)).toEqual(input.map((_, i) => i));
    expect(res.data.map((d) => (d.embedding as number[])[0])).toEqual(input.map((_, i) => i));
  });

  it('sends every input as one batch request and answers the OpenAI shape (batchEmbedContents.cassette.yaml)', async () => {
    const [rec] = cassette('gemini/batchEmbedContents.cassette.yaml');
    const values = (rec!.response.parsed_body as any).embeddings[0].values as number[];
    g.upstream.route('/v1beta/models/gemini-embedding-2-preview:batchEmbedContents', { json: rec!.response.parsed_body });
    const body = { model: 'gemini-embedding-2-preview', input: 'Hello, world!', dimensions: 768, task_type: 'RETRIEVAL_QUERY' };

    const floats = await g.client.embeddings.create({ ...body, encoding_format: 'float' } as never);
    const sent = g.upstream.requests[0]!;
    expect(sent.path).toBe(new URL(rec!.request.uri).pathname);
    expect(sent.headers['x-goog-api-key']).toBe(GEMINI_KEY);
    expect(sent.json).toEqual(rec!.request.parsed_body);
    expect(floats.object).toBe('list');
    expect(floats.model).toBe('gemini-embedding-2-preview');
    expect(floats.data).toEqual([{ object: 'embedding', index: 0, embedding: values }]);
    // batchEmbedContents reports no token count: none is invented (the answer is costed `no_usage`, not $0).
    expect(floats.usage).toBeUndefined();

    // The SDK asks for base64 by default and decodes float32 itself.
    const decoded = await g.client.embeddings.create(body as never);
    expect(g.upstream.requests[1]!.json).toEqual(rec!.request.parsed_body);
    expect(decoded.data[0]!.embedding).toHaveLength(768);
    decoded.data[0]!.embedding.forEach((v, i) => expect(v).toBeCloseTo(values[i]!, 6));
  });

  it('embeds several inputs in one call', async () => {
    g.upstream.enqueue('/v1beta/models/gemini-embedding-001:batchEmbedContents', { json: { embeddings: [{ values: [0.1, 0.2] }, { values: [0.3, 0.4] }] } });
    const res = await g.client.embeddings.create({ model: 'gemini-embedding-001', input: ['a', 'b'], encoding_format: 'float' });
    expect(g.upstream.requests[0]!.json).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] } },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] } },
      ],
    });
    expect(res.data.map((d) => [d.index, d.embedding])).toEqual([
      [0, [0.1, 0.2]],
      [1, [0.3, 0.4]],
    ]);
  });

  it('passes a 404 for an unknown embedding model on (batchEmbedContents.error-404.cassette.yaml)', async () => {
    const [rec] = cassette('gemini/batchEmbedContents.error-404.cassette.yaml');
    g.upstream.enqueue('/v1beta/models/nonexistent-model:batchEmbedContents', { status: 404, json: rec!.response.parsed_body });
    const err = await g.client.embeddings.create({ model: 'nonexistent-model', input: 'Hello, world!', task_type: 'RETRIEVAL_QUERY' } as never).catch((e) => e);
    expect(g.upstream.requests[0]!.json).toEqual(rec!.request.parsed_body);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error.message).toMatch(/^models\/nonexistent-model is not found/);
    expect(err.error.code).toBe('NOT_FOUND');
  });

  it('refuses token-id input with a 400 naming input', async () => {
    const err = await g.client.embeddings.create({ model: 'gemini-embedding-001', input: [1, 2, 3] }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.error.param).toBe('input');
    expect(g.upstream.requests).toHaveLength(0);
  });
});

describe('vertex-ai embeddings (:predict)', () => {
  const v = googleGateway({ provider: 'vertex-ai' });

  it('posts instances to the regional predict URL with the Bearer token (vertex.predict-embeddings.json)', async () => {
    const path = '/v1/projects/my-project/locations/europe-west4/publishers/google/models/text-embedding-005:predict';
    const body = fixtureJson('gemini/vertex.predict-embeddings.json');
    v.upstream.enqueue(path, { json: body });
    const res = await v.client.embeddings.create({ model: 'text-embedding-005', input: ['sunny day at the beach', 'rainy day in the city'], dimensions: 5, encoding_format: 'float' });
    const sent = v.upstream.requests[0]!;
    expect(sent.path).toBe(path);
    expect(sent.headers.authorization).toBe(`Bearer ${VERTEX_TOKEN}`);
    expect(sent.headers['x-goog-api-key']).toBeUndefined();
    expect(sent.json).toEqual({ instances: [{ content: 'sunny day at the beach' }, { content: 'rainy day in the city' }], parameters: { outputDimensionality: 5 } });
    expect(res.data.map((d) => d.embedding)).toEqual(body.predictions.map((p: any) => p.embeddings.values));
    // Vertex counts tokens per instance.
    expect(res.usage).toMatchObject({ prompt_tokens: 11, total_tokens: 11 });
  });
});
