import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { cassette, type CassetteInteraction } from '../../../../test/helpers/fixtures.js';
import { bedrockGateway, expectValidSigV4 } from './bedrock-setup.js';

const g = bedrockGateway();
const [recorded] = cassette('bedrock/invoke.titan-embed-v2.cassette.yaml') as [CassetteInteraction];
const answer = (recorded.response as { parsed_body?: any }).parsed_body;
const MODEL = 'amazon.titan-embed-text-v2:0';
const PATH = new URL(recorded.request.uri).pathname;

describe('bedrock embeddings through InvokeModel (Titan v2)', () => {
  it('sends the recorded Titan body to the encoded invoke path and answers in the OpenAI shape', async () => {
    expect(PATH).toBe('/model/amazon.titan-embed-text-v2%3A0/invoke');
    g.upstream.enqueue(PATH, { json: answer });
    const res = await g.client.embeddings.create({ model: MODEL, input: 'Test embedding dimensions', dimensions: 256, encoding_format: 'float' });
    expect(res.object).toBe('list');
    expect(res.model).toBe(MODEL);
    expect(res.data).toEqual([{ object: 'embedding', index: 0, embedding: answer.embedding }]);
    expect(res.data[0]!.embedding).toHaveLength(256);
    expect(res.usage).toMatchObject({ prompt_tokens: 4, total_tokens: 4 });
    const sent = g.upstream.requests[0]!;
    expect(sent.path).toBe(PATH);
    expect(sent.json).toEqual(JSON.parse(recorded.request.body as string));
    expectValidSigV4(sent);
  });

  it('makes one signed invoke per input and keeps their order', async () => {
    const inputs = ['one', 'two', 'three', 'four', 'five'];
    g.upstream.route(PATH, (req) => ({
      // Later inputs answer faster, so the order must come from the input, not from arrival.
      delayMs: 5 * (inputs.length - inputs.indexOf(req.json.inputText)),
      json: { embedding: [inputs.indexOf(req.json.inputText), 0.5], inputTextTokenCount: 2 },
    }));
    const res = await g.client.embeddings.create({ model: MODEL, input: inputs, encoding_format: 'float' });
    expect(res.data.map((d) => d.embedding[0])).toEqual([0, 1, 2, 3, 4]);
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2, 3, 4]);
    expect(res.usage.prompt_tokens).toBe(10);
    expect(g.upstream.requests).toHaveLength(5);
    for (const r of g.upstream.requests) {
      expect(r.json).toEqual({ inputText: r.json.inputText, normalize: true });
      expectValidSigV4(r);
    }
  });

  it('leaves usage out when an answer has no token count, rather than counting it as 0', async () => {
    g.upstream.route(PATH, (req) => ({ json: req.json.inputText === 'two' ? { embedding: [0.5] } : { embedding: [0.5], inputTextTokenCount: 2 } }));
    const res = await g.client.embeddings.create({ model: MODEL, input: ['one', 'two'], encoding_format: 'float' }).withResponse();
    expect(res.data.usage).toBeUndefined();
    expect(res.response.headers.get('x-llmux-cost')).toBeNull();
    expect(res.response.headers.get('x-llmux-cost-status')).toBe('no_usage');
  });

  it('answers in base64 when the SDK asks for it by default, decoding to the same floats', async () => {
    g.upstream.enqueue(PATH, { json: answer });
    const res = await g.client.embeddings.create({ model: MODEL, input: 'Test embedding dimensions', dimensions: 256 });
    expect(g.upstream.requests[0]!.json).toEqual({ inputText: 'Test embedding dimensions', dimensions: 256, normalize: true });
    const got = res.data[0]!.embedding;
    expect(got).toHaveLength(256);
    got.forEach((x, i) => expect(x).toBeCloseTo(answer.embedding[i], 6));
  });

  it('fails the whole request with the provider status when one input fails', async () => {
    g.upstream.enqueue(PATH, { json: answer }, { status: 429, json: { message: 'Too many requests' }, headers: { 'x-amzn-errortype': 'ThrottlingException' } });
    const err = await g.client.embeddings.create({ model: MODEL, input: ['a', 'b'], encoding_format: 'float' }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.error.type).toBe('ThrottlingException');
  });

  it('refuses non-Titan models and token arrays with a 400 naming the field', async () => {
    const model = await g.client.embeddings.create({ model: 'cohere.embed-english-v3', input: 'x' }).catch((e) => e);
    expect(model.status).toBe(400);
    expect(model.error.param).toBe('model');
    const tokens = await g.client.embeddings.create({ model: MODEL, input: [[1, 2, 3]] }).catch((e) => e);
    expect(tokens.status).toBe(400);
    expect(tokens.error.param).toBe('input[0]');
    expect(g.upstream.requests).toHaveLength(0);
  });
});
