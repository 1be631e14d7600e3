/**
 * Adversarial review: POST /v1/embeddings across providers (OpenAI/Azure passthrough, Gemini
 * batchEmbedContents, Vertex :predict, Bedrock Titan, Cohere v2, Mistral), through the real adapters
 * and the official `openai` SDK (which asks for `encoding_format: "base64"` by default and decodes it).
 * Upstreams are mocks on 127.0.0.1 that answer with the recorded bodies of ../shared/fixtures.
 * Tests in "regressions (fixed)" guard bugs this review found.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { cassette, fixtureJson } from './helpers/fixtures.js';
import { sleep, startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

let up: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  up.reset();
});

async function start(targets: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}, options: AppOptions = {}, framework = 'express5') {
  const app = await appFactories[framework]!({ env: {}, config: { ...extra, targets } as never, ...options });
  apps.push(app);
  const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { app, client };
}

const post = (app: TestApp, body: unknown, signal?: AbortSignal) =>
  fetch(`${app.gatewayURL}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...(signal ? { signal } : {}) });

/** Float32 little-endian base64, decoded the way the openai SDK does it. */
const decode = (b64: string) => {
  const buf = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4));
};
const closeTo = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
};

const bedrockTarget = () => ({
  provider: 'bedrock',
  aws_access_key_id: 'AKIDEXAMPLE',
  aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  aws_region: 'us-east-1',
  custom_host: up.url,
});
const cohereTarget = (extra: Record<string, unknown> = {}) => ({ provider: 'cohere', api_key: 'co-key', custom_host: `${up.url}/v2`, ...extra });
const geminiTarget = () => ({ provider: 'google', api_key: 'AIza-test', custom_host: `${up.url}/v1beta` });
const vertexTarget = () => ({ provider: 'vertex-ai', api_key: 'ya29.test-token', custom_host: `${up.url}/v1`, vertex_project_id: 'p', vertex_region: 'us-central1' });

const TITAN = cassette('bedrock/invoke.titan-embed-v2.cassette.yaml')[0]!;
const TITAN_ANSWER = TITAN.response.parsed_body as { embedding: number[]; inputTextTokenCount: number };
const TITAN_PATH = '/model/amazon.titan-embed-text-v2%3A0/invoke';
/** Titan answers: the recorded body with the input's number (`t<n>`) as the first value. */
const titanEcho = (req: RecordedRequest) => ({ json: { ...TITAN_ANSWER, embedding: [Number(String(req.json.inputText).slice(1)), ...TITAN_ANSWER.embedding.slice(1, 4)] } });
/** Cohere /v2/embed answers shaped as `cohere/embed-v2.json`: one vector per text (its number first), `input_tokens` 2 per text. */
const cohereEcho = (req: RecordedRequest) => ({
  json: {
    id: 'f5aa3e7b-f011-4c5c-a825-f94669f760e5',
    texts: req.json.texts,
    embeddings: { float: (req.json.texts as string[]).map((t) => [Number(t.slice(1)), 0.25]) },
    meta: { api_version: { version: '2' }, billed_units: { input_tokens: 2 * req.json.texts.length } },
    response_type: 'embeddings_by_type',
  },
});
const geminiEcho = (req: RecordedRequest) => ({
  json: { embeddings: (req.json.requests as Array<{ content: { parts: Array<{ text: string }> } }>).map((r) => ({ values: [Number(r.content.parts[0]!.text.slice(1)), 0.5] })) },
});
const numbered = (n: number) => Array.from({ length: n }, (_, i) => `t${i}`);

describe('OpenAI and Azure passthrough', () => {
  it('token ids (number[][] and number[]) and dimensions reach OpenAI unchanged; the recorded base64 answer is relayed for the SDK to decode; usage and cost', async () => {
    const { client } = await start([{ provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/v1` }]);
    const recorded = fixtureJson('openai/embeddings.base64.json');
    up.route('/v1/embeddings', { json: recorded });
    const { data, response } = await client.embeddings.create({ model: 'text-embedding-3-large', input: [[9906, 1917], [0]], dimensions: 256 }).withResponse();
    expect(up.requests[0]!.json).toEqual({ model: 'text-embedding-3-large', input: [[9906, 1917], [0]], dimensions: 256, encoding_format: 'base64' });
    expect(up.requests[0]!.headers.authorization).toBe('Bearer sk-test');
    closeTo(data.data[0]!.embedding, decode(recorded.data[0].embedding));
    expect(data.usage).toEqual({ prompt_tokens: 1, total_tokens: 1 });
    // text-embedding-3-large: $0.13 per million input tokens.
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(0.13e-6, 12);

    await client.embeddings.create({ model: 'text-embedding-3-large', input: [9906, 1917] });
    expect(up.requests[1]!.json.input).toEqual([9906, 1917]);
  });

  it('explicit encoding_format float: the recorded float answer comes back as floats, in order', async () => {
    const { client } = await start([{ provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/v1` }]);
    const recorded = fixtureJson('openai/embeddings.float-trimmed.json');
    up.route('/v1/embeddings', { json: recorded });
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['sunny day at the beach', 'rainy day in the city'], encoding_format: 'float' });
    expect(up.requests[0]!.json.encoding_format).toBe('float');
    expect(res.data.map((d) => d.index)).toEqual([0, 1]);
    expect(res.data.map((d) => d.embedding)).toEqual(recorded.data.map((d: { embedding: number[] }) => d.embedding));
  });

  it('azure-openai: the deployment URL with api-version, the api-key header, the body as the client sent it', async () => {
    const { client } = await start([{ provider: 'azure-openai', api_key: 'az-key', custom_host: up.url, deployment_id: 'embed-dep', api_version: '2024-10-21' }]);
    up.route('/openai/deployments/embed-dep/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
    const res = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'hello', dimensions: 3072, encoding_format: 'float' });
    expect(up.requests[0]!.path).toBe('/openai/deployments/embed-dep/embeddings?api-version=2024-10-21');
    expect(up.requests[0]!.headers['api-key']).toBe('az-key');
    expect(up.requests[0]!.json).toMatchObject({ input: 'hello', dimensions: 3072, encoding_format: 'float' });
    expect(res.data[0]!.embedding).toEqual(fixtureJson('openai/embeddings.float.json').data[0].embedding);
  });

  it('the recorded OpenAI 404 (unknown model) is a 404 model_not_found for the SDK', async () => {
    const { client } = await start([{ provider: 'openai', api_key: 'sk-test', custom_host: `${up.url}/v1` }]);
    const rec = cassette('openai/embeddings.error-404.cassette.yaml')[0]!;
    up.route('/v1/embeddings', { status: rec.response.status.code, json: rec.response.parsed_body });
    const err = await client.embeddings.create({ model: 'nonexistent', input: ['Hello, world!'] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error).toMatchObject({ code: 'model_not_found', message: rec.response.parsed_body.error.message });
  });
});

describe('Gemini batchEmbedContents and Vertex predict', () => {
  it('the recorded request: models/ path, taskType, outputDimensionality; the recorded vectors reach the SDK; no usage → no_usage', async () => {
    const rec = cassette('gemini/batchEmbedContents.cassette.yaml')[0]!;
    const { client } = await start([geminiTarget()]);
    up.route('/v1beta/models/gemini-embedding-2-preview:batchEmbedContents', { json: rec.response.parsed_body });
    const { data, response } = await client.embeddings
      .create({ model: 'gemini-embedding-2-preview', input: ['Hello, world!'], dimensions: 768, task_type: 'RETRIEVAL_QUERY' } as never)
      .withResponse();
    expect(up.requests[0]!.json).toEqual(rec.request.parsed_body);
    expect(up.requests[0]!.headers['x-goog-api-key']).toBe('AIza-test');
    closeTo(data.data[0]!.embedding, rec.response.parsed_body.embeddings[0].values);
    expect(response.headers.get('x-llmux-cost-status')).toBe('no_usage');
  });

  it('250 inputs: calls of 100, 100 and 50 requests, vectors joined in input order with running indexes', async () => {
    const { client } = await start([geminiTarget()]);
    up.route('*', geminiEcho);
    const input = numbered(250);
    const res = await client.embeddings.create({ model: 'gemini-embedding-001', input, encoding_format: 'float' });
    expect(up.requests.map((r) => r.json.requests.length)).toEqual([100, 100, 50]);
    expect(res.data.map((d) => d.index)).toEqual(input.map((_, i) => i));
    expect(res.data.map((d) => d.embedding[0])).toEqual(input.map((_, i) => i));
  });

  it('token ids are refused with a 400 naming input, before any call', async () => {
    const { client } = await start([geminiTarget()]);
    const err = await client.embeddings.create({ model: 'gemini-embedding-001', input: [[1, 2, 3]] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error.param).toBe('input');
    expect(up.requests).toHaveLength(0);
  });

  it('a 429 RESOURCE_EXHAUSTED on the second of three calls: 429 with Retry-After from RetryInfo, the other calls stopped', async () => {
    const { app } = await start([geminiTarget()]);
    let n = 0;
    up.route('*', (req) => (n++ === 1 ? { status: 429, json: fixtureJson('gemini/error-429-resource-exhausted.json') } : { delayMs: 300, ...geminiEcho(req) }));
    const res = await post(app, { model: 'gemini-embedding-001', input: numbered(250) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('35');
    expect((await res.json()).error).toMatchObject({ code: 'RESOURCE_EXHAUSTED', type: 'rate_limit_error' });
    expect(await until(() => up.aborted === 2)).toBe(true);
  });

  it('the recorded 404 for an unknown model is a 404 with Google\'s message', async () => {
    const rec = cassette('gemini/batchEmbedContents.error-404.cassette.yaml')[0]!;
    const { app } = await start([geminiTarget()]);
    up.route('*', { status: 404, json: rec.response.parsed_body });
    const res = await post(app, { model: 'nonexistent-model', input: 'Hello, world!', task_type: 'RETRIEVAL_QUERY' });
    expect(up.requests[0]!.json).toEqual(rec.request.parsed_body);
    expect(res.status).toBe(404);
    expect((await res.json()).error.message).toBe(rec.response.parsed_body.error.message);
  });

  it('vertex text-embedding-005: instances with task_type, parameters.outputDimensionality; the recorded answer with token counts summed', async () => {
    const { client } = await start([vertexTarget()]);
    const recorded = fixtureJson('gemini/vertex.predict-embeddings.json');
    up.route('*', { json: recorded });
    const res = await client.embeddings.create({ model: 'text-embedding-005', input: ['a', 'b'], dimensions: 5, task_type: 'RETRIEVAL_DOCUMENT', encoding_format: 'float' } as never);
    expect(up.requests[0]!.path).toBe('/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict');
    expect(up.requests[0]!.headers.authorization).toBe('Bearer ya29.test-token');
    expect(up.requests[0]!.json).toEqual({
      instances: [
        { content: 'a', task_type: 'RETRIEVAL_DOCUMENT' },
        { content: 'b', task_type: 'RETRIEVAL_DOCUMENT' },
      ],
      parameters: { outputDimensionality: 5 },
    });
    expect(res.data.map((d) => d.embedding)).toEqual(recorded.predictions.map((p: { embeddings: { values: number[] } }) => p.embeddings.values));
    expect(res.usage).toEqual({ prompt_tokens: 11, total_tokens: 11 });
  });
});

describe('Bedrock Titan', () => {
  it('one InvokeModel per input with the recorded body shape; answers arriving out of order are joined in input order; usage summed', async () => {
    const { client } = await start([bedrockTarget()]);
    // Later inputs answer first.
    up.route(TITAN_PATH, (req) => ({ delayMs: 80 - 10 * Number(String(req.json.inputText).slice(1)), ...titanEcho(req) }));
    const input = numbered(6);
    const res = await client.embeddings.create({ model: 'amazon.titan-embed-text-v2:0', input, dimensions: 256 });
    expect(up.requests).toHaveLength(6);
    for (const r of up.requests) {
      expect(r.path).toBe(TITAN_PATH);
      expect(Object.keys(r.json).sort()).toEqual(Object.keys(JSON.parse(TITAN.request.body as string)).sort());
      expect(r.json).toMatchObject({ dimensions: 256, normalize: true });
      expect(String(r.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
    }
    expect(up.requests.map((r) => r.json.inputText).sort()).toEqual([...input].sort());
    expect(res.data.map((d) => [d.index, d.embedding[0]])).toEqual(input.map((_, i) => [i, i]));
    expect(res.usage).toEqual({ prompt_tokens: 6 * TITAN_ANSWER.inputTextTokenCount, total_tokens: 6 * TITAN_ANSWER.inputTextTokenCount });
  });

  it('Cohere models on Bedrock are refused with a 400 naming model (README: Bedrock embeddings are Titan), with no call', async () => {
    const { app } = await start([bedrockTarget()]);
    const res = await post(app, { model: 'cohere.embed-english-v3', input: ['a', 'b'] });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('model');
    expect(up.requests).toHaveLength(0);
  });

  it('a throttled call mid-batch: the client gets the 429, no later input is sent, the calls in flight are aborted', async () => {
    const { app } = await start([bedrockTarget()]);
    up.route(TITAN_PATH, (req) =>
      req.json.inputText === 't1'
        ? { status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, json: { message: 'Too many requests, please wait before trying again.' } }
        : { delayMs: 400, ...titanEcho(req) },
    );
    const res = await post(app, { model: 'amazon.titan-embed-text-v2:0', input: numbered(10) });
    expect(res.status).toBe(429);
    expect((await res.json()).error.message).toBe('Too many requests, please wait before trying again.');
    expect(await until(() => up.aborted === 3)).toBe(true);
    await sleep(50);
    expect(up.requests.map((r) => r.json.inputText).sort()).toEqual(['t0', 't1', 't2', 't3']);
  });
});

describe('Cohere v2 and Mistral', () => {
  it('cohere: 200 texts go in calls of 96, 96 and 8 with input_type and output_dimension; joined in order; usage summed and costed', async () => {
    const { client } = await start([cohereTarget()]);
    up.route('/v2/embed', cohereEcho);
    const input = numbered(200);
    const { data, response } = await client.embeddings
      .create({ model: 'embed-v4.0', input, dimensions: 256, input_type: 'search_query', encoding_format: 'float' } as never)
      .withResponse();
    expect(up.requests.map((r) => r.json.texts.length)).toEqual([96, 96, 8]);
    for (const r of up.requests) expect(r.json).toMatchObject({ model: 'embed-v4.0', input_type: 'search_query', output_dimension: 256, embedding_types: ['float'] });
    expect(up.requests[0]!.headers.authorization).toBe('Bearer co-key');
    expect(data.data.map((d) => [d.index, d.embedding[0]])).toEqual(input.map((_, i) => [i, i]));
    expect(data.usage).toEqual({ prompt_tokens: 400, total_tokens: 400 });
    // embed-v4.0: $0.12 per million input tokens.
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(400 * 0.12e-6, 12);
  });

  it('cohere: the recorded 404 keeps its status and message', async () => {
    const rec = cassette('cohere/embed-v2.error-404.cassette.yaml')[0]!;
    const { client } = await start([cohereTarget()]);
    up.route('/v2/embed', { status: 404, json: rec.response.parsed_body });
    const err = await client.embeddings.create({ model: 'nonexistent', input: ['Hello, world!'] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.error.message).toBe(rec.response.parsed_body.message);
  });

  it('mistral: dimensions go as output_dimension, user is dropped; its float answer decodes for the SDK; costed', async () => {
    const { client } = await start([{ provider: 'mistral', api_key: 'mk', custom_host: `${up.url}/v1` }]);
    const floats = fixtureJson('openai/embeddings.float-trimmed.json');
    up.route('/v1/embeddings', { json: { ...floats, model: 'mistral-embed', usage: { prompt_tokens: 10, total_tokens: 10 } } });
    const { data, response } = await client.embeddings.create({ model: 'mistral-embed', input: ['a', 'b'], dimensions: 512, user: 'u1' }).withResponse();
    expect(up.requests[0]!.json).toEqual({ model: 'mistral-embed', input: ['a', 'b'], encoding_format: 'base64', output_dimension: 512 });
    data.data.forEach((d, i) => closeTo(d.embedding, floats.data[i].embedding));
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(10 * 0.1e-6, 12);
  });
});

describe('client abort mid-batch', () => {
  for (const framework of ['express5', 'koa3', 'nestjs']) {
    it(`${framework}: a client that leaves while a Titan fan-out waits stops the calls in flight and starts no other`, async () => {
      const { app } = await start([bedrockTarget()], {}, {}, framework);
      up.route(TITAN_PATH, { hang: true });
      const ac = new AbortController();
      const pending = post(app, { model: 'amazon.titan-embed-text-v2:0', input: numbered(12) }, ac.signal).catch((e: unknown) => e);
      expect(await until(() => up.requests.length === 4)).toBe(true);
      ac.abort();
      await pending;
      expect(await until(() => up.aborted === 4)).toBe(true);
      await sleep(50);
      expect(up.requests).toHaveLength(4);
    });
  }

  it('cohere: a client that leaves while three batches wait aborts all three', async () => {
    const { app } = await start([cohereTarget()]);
    up.route('/v2/embed', { hang: true });
    const ac = new AbortController();
    const pending = post(app, { model: 'embed-v4.0', input: numbered(200) }, ac.signal).catch((e: unknown) => e);
    expect(await until(() => up.requests.length === 3)).toBe(true);
    ac.abort();
    await pending;
    expect(await until(() => up.aborted === 3)).toBe(true);
  });
});

describe('budgets, limits and cache for embeddings', () => {
  it('a token budget reserves by input size: text and token ids over the limit are 402 with no call', async () => {
    const { app } = await start([{ provider: 'openai', api_key: 'sk', custom_host: `${up.url}/v1` }], { budget: { max_tokens_per_day: 50 } });
    up.route('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
    for (const input of [['x'.repeat(60)], [Array.from({ length: 60 }, (_, i) => i)]]) {
      const res = await post(app, { model: 'text-embedding-3-large', input });
      expect(res.status).toBe(402);
      expect((await res.json()).error).toMatchObject({ code: 'budget_exceeded', requested: 60 });
    }
    expect(up.requests).toHaveLength(0);
    const ok = await post(app, { model: 'text-embedding-3-large', input: 'hello' });
    expect(ok.status).toBe(200);
  });

  it('exact cache: the same request is a HIT with no call; another dimensions or encoding_format is a MISS', async () => {
    const { app } = await start([cohereTarget()], { cache: { mode: 'simple' } });
    up.route('/v2/embed', cohereEcho);
    const body = { model: 'embed-v4.0', input: ['t1', 't2'], encoding_format: 'float' };
    const first = await post(app, body);
    const firstBody = await first.json();
    expect(first.headers.get('x-llmux-cache')).toBe('MISS');
    const second = await post(app, body);
    expect(second.headers.get('x-llmux-cache')).toBe('HIT');
    expect(await second.json()).toEqual(firstBody);
    expect(up.requests).toHaveLength(1);
    const other = await post(app, { ...body, dimensions: 256 });
    expect(other.headers.get('x-llmux-cache')).toBe('MISS');
    const b64 = await post(app, { ...body, encoding_format: 'base64' });
    expect(b64.headers.get('x-llmux-cache')).toBe('MISS');
    expect(typeof (await b64.json()).data[0].embedding).toBe('string');
    expect(up.requests).toHaveLength(3);
  });

  it('semantic mode: an embeddings request is matched exactly only — no embedder call, a reworded input is a MISS', async () => {
    const openai = { provider: 'openai', api_key: 'sk', custom_host: `${up.url}/v1` };
    const { app } = await start([openai], { cache: { mode: 'semantic', embedding: { ...openai, model: 'text-embedding-3-small' } } });
    up.route('/v1/embeddings', { json: fixtureJson('openai/embeddings.float-trimmed.json') });
    const body = { model: 'text-embedding-3-small', input: ['sunny day at the beach', 'rainy day in the city'], encoding_format: 'float' };
    expect((await post(app, body)).headers.get('x-llmux-cache')).toBe('MISS');
    expect((await post(app, body)).headers.get('x-llmux-cache')).toBe('HIT');
    expect((await post(app, { ...body, input: ['a sunny day at the beach', 'rainy day in the city'] })).headers.get('x-llmux-cache')).toBe('MISS');
    // One call per MISS, each the client's own body: nothing embedded for a semantic lookup.
    expect(up.requests.map((r) => r.json.input[0])).toEqual(['sunny day at the beach', 'a sunny day at the beach']);
  });
});

describe('regressions (fixed)', () => {
  // Guards: an empty input (refused by OpenAI and Titan) never reaches a fan-out that would bill the others first.
  it('an empty string as input, alone or in an array, is a 400 naming input with no upstream call', async () => {
    const { app } = await start([bedrockTarget()]);
    // Synthetic Bedrock answer for an empty inputText (Titan's schema has minLength 1).
    up.route(TITAN_PATH, (req) =>
      req.json.inputText === ''
        ? { status: 400, json: { message: 'Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again.' } }
        : titanEcho(req),
    );
    for (const input of ['', ['t0', '']]) {
      const res = await post(app, { model: 'amazon.titan-embed-text-v2:0', input });
      expect(res.status).toBe(400);
      expect((await res.json()).error.param).toEqual(expect.stringMatching(/^input/));
    }
    expect(up.requests).toHaveLength(0);
  });

  // Guards: OpenAI's cap of 2048 inputs per request, so one request cannot fan out into dozens of calls.
  it('more than 2048 inputs is a 400 naming input with no upstream call', async () => {
    const { app } = await start([cohereTarget()]);
    up.route('/v2/embed', cohereEcho);
    const res = await post(app, { model: 'embed-v4.0', input: numbered(2049) });
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('input');
    expect(up.requests).toHaveLength(0);
  });

  // Guards: Vertex's limit of 20,000 input tokens per :predict call, besides its 250 instances.
  it('vertex: no :predict call carries more than 20,000 input tokens (250 inputs of 100 words each must be split)', async () => {
    const { app } = await start([vertexTarget()]);
    up.route('*', (req) => ({
      json: { predictions: (req.json.instances as unknown[]).map(() => ({ embeddings: { values: [0.1, 0.2], statistics: { token_count: 100, truncated: false } } })) },
    }));
    const input = Array.from({ length: 250 }, (_, i) => `${'hello '.repeat(99)}w${i}`);
    const res = await post(app, { model: 'text-embedding-005', input, encoding_format: 'float' });
    // Every word is at least one token: a call over 20,000 words is over 20,000 tokens.
    for (const r of up.requests) {
      const words = (r.json.instances as Array<{ content: string }>).reduce((n, i) => n + i.content.split(' ').length, 0);
      expect(words).toBeLessThanOrEqual(20_000);
    }
    expect(res.status).toBe(200);
    expect((await res.json()).data).toHaveLength(250);
  });

  // Guards: Titan v2's own price ($0.02/M), which the price database gives as v1's $0.10/M.
  it('titan v2 is costed at $0.02 per million input tokens', async () => {
    const { client } = await start([bedrockTarget()]);
    up.route(TITAN_PATH, titanEcho);
    const { data, response } = await client.embeddings.create({ model: 'amazon.titan-embed-text-v2:0', input: numbered(3) }).withResponse();
    expect(data.usage.prompt_tokens).toBe(12);
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(12 * 0.02e-6, 12);
  });

  // Guards: tokens billed by a fan-out that failed part-way still count when a fallback answers.
  it('fallback after a partly billed Titan fan-out: the budget counts the Titan calls AWS billed as well as the answer', async () => {
    const { app } = await start(
      [bedrockTarget(), cohereTarget({ override_params: { model: 'embed-v4.0' } })],
      { strategy: { mode: 'fallback' }, budget: { max_tokens_per_day: 10_000 } },
      { adminKey: 'admin-k' } as never,
    );
    up.route(TITAN_PATH, (req) =>
      req.json.inputText === 't3'
        ? // Answered last, so the three other calls always complete and are billed.
          { delayMs: 80, status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException' }, json: { message: 'Too many requests, please wait before trying again.' } }
        : titanEcho(req),
    );
    up.route('/v2/embed', cohereEcho);
    const res = await post(app, { model: 'amazon.titan-embed-text-v2:0', input: numbered(4), encoding_format: 'float' });
    expect(res.status).toBe(200);
    expect((await res.json()).usage).toEqual({ prompt_tokens: 8, total_tokens: 8 });
    const titanBilled = up.requests.filter((r) => r.path === TITAN_PATH && r.json.inputText !== 't3').length * TITAN_ANSWER.inputTextTokenCount;
    expect(titanBilled).toBe(12);
    const usage = await app.gateway.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin-k' } });
    const row = (usage.body as { budgets: Array<{ metric: string; spent: number }> }).budgets.find((b) => b.metric === 'tokens')!;
    expect(row.spent).toBeGreaterThanOrEqual(titanBilled + 8);
  });
});
