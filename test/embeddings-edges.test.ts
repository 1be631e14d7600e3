/** Embeddings across providers, edges from an adversarial review; the regressions are marked. */
/**
 * Adversarial review: POST /v1/embeddings across providers, through the official `openai` SDK
 * (which asks for `encoding_format: "base64"` by default and decodes it itself).
 * Tests in "bugs" fail against the current source; each comment says expected, actual and why.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { cassette, fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

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

async function start(targets: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}, options: AppOptions = {}) {
  const app = await appFactories.express5!({ env: {}, config: { ...extra, targets } as never, ...options });
  apps.push(app);
  const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { app, client };
}

/** A float answer as an OpenAI-compatible server that ignores `encoding_format` sends it (two 5-dimension vectors). */
const FLOATS = fixtureJson('openai/embeddings.float-trimmed.json');

const vertexTarget = () => ({ provider: 'vertex-ai', api_key: 'ya29.test-token', custom_host: `${up.url}/v1`, vertex_project_id: 'p', vertex_region: 'us-central1' });
/** Vertex :predict answers: one prediction per instance sent, its first value the instance's number (`t<n>`). */
const vertexEcho = (req: { json: any }) => ({
  json: {
    predictions: (req.json.instances as Array<{ content: string }>).map((i) => ({
      embeddings: { values: [Number(i.content.slice(1)), 0.5], statistics: { token_count: 2, truncated: false } },
    })),
  },
});

describe('regressions (fixed)', () => {
  // Expected: the SDK (default request: encoding_format "base64") gets Mistral's vectors, as it does
  // for Cohere, Gemini and Titan, whose float answers the gateway encodes (embedding-base64.ts).
  // Was: every vector comes back as zeros of a quarter of the length ([0] here; 256 zeros for
  // mistral-embed's 1024 floats), silently. Mistral's /v1/embeddings ignores encoding_format and
  // answers float arrays (anything-llm#5794, docs-mcp-server#469: "256-dim all-zero vectors");
  // LM Studio does the same (lmstudio-bug-tracker#756). The SDK then runs Buffer.from(array,'base64'),
  // which turns each float into one byte (0).
  // Diagnosis: packages/core/src/providers/openai-compatible/provider.ts:125-131 passes
  // `encoding_format` through and returns the upstream JSON as is; adaptEmbeddingsForMistral
  // (presets.ts:95) does not handle it either. Fix: when the request asked for base64 and an item's
  // `embedding` is an array, replace it with embeddingToBase64(item.embedding) in the embeddings
  // response translator (all OpenAI-compatible presets; a no-op for servers that honour base64).
  for (const provider of ['mistral', 'lmstudio']) {
    it(`${provider}: the openai SDK's default base64 request gets the server's float vectors, not zeros`, async () => {
      const { client } = await start([{ provider, api_key: 'k', custom_host: `${up.url}/v1` }]);
      up.route('/v1/embeddings', { json: { ...FLOATS, model: 'mistral-embed' } });
      const res = await client.embeddings.create({ model: 'mistral-embed', input: ['a', 'b'] });
      expect(up.requests[0]!.json.encoding_format).toBe('base64');
      expect(res.data).toHaveLength(2);
      res.data.forEach((d, i) => {
        const want = FLOATS.data[i].embedding as number[];
        expect(d.embedding).toHaveLength(want.length);
        d.embedding.forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 6));
      });
    });
  }

  // Expected: Vertex's documented limits are respected as Gemini's (100) and Cohere's (96) are:
  // gemini-embedding-001 "supports one instance per request", other text-embedding models take at
  // most 250 input texts per request ("inputs beyond this limit result in a 400 error", Vertex
  // "Get text embeddings" page). Actual: every input goes in one :predict call, so any array input
  // to gemini-embedding-001 (the default Google embedding model) and any array over 250 to
  // text-embedding-005 fails with Vertex's 400.
  // Diagnosis: packages/core/src/providers/google/embeddings.ts:73 returns one request for the
  // `vertex` flavour (`vertexBody`), without the split done for Gemini just below. Fix: split
  // `instances` into calls of 1 (gemini-embedding*) or 250 (others) and return the array, which
  // callEmbeddings already joins in order (join-embeddings.ts).
  it('vertex-ai gemini-embedding-001: each input is its own :predict call (one instance per request), joined in order', async () => {
    const { client } = await start([vertexTarget()]);
    up.route('*', vertexEcho);
    const res = await client.embeddings.create({ model: 'gemini-embedding-001', input: ['t0', 't1', 't2'], encoding_format: 'float' });
    expect(up.requests.map((r) => r.json.instances.length)).toEqual([1, 1, 1]);
    expect(res.data.map((d) => [d.index, d.embedding[0]])).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect(res.usage).toMatchObject({ prompt_tokens: 6, total_tokens: 6 });
  });

  it('vertex-ai text-embedding-005: 300 inputs go in :predict calls of at most 250 instances', async () => {
    const { client } = await start([vertexTarget()]);
    up.route('*', vertexEcho);
    const input = Array.from({ length: 300 }, (_, i) => `t${i}`);
    const res = await client.embeddings.create({ model: 'text-embedding-005', input, encoding_format: 'float' });
    for (const r of up.requests) expect(r.json.instances.length).toBeLessThanOrEqual(250);
    expect(res.data.map((d) => d.embedding[0])).toEqual(input.map((_, i) => i));
  });

  // DESIGN.md: a client "can never ... spend past a budget"; limits-stage.ts:17-19: "leaving early can
  // never dodge a budget". Expected: the calls of a fan-out that the provider answered (and billed)
  // count against the budget even when a later call of the same request fails, so a 40-token day
  // budget stops admitting once ~40 tokens were billed. Actual: a request whose last Titan input is
  // refused (400) settles at 0 tokens and $0 and its log record has no usage, so every such request is
  // admitted forever: 10 requests bill 120 tokens upstream against a 40-token budget. A client can
  // drain the provider account past any budget by appending one bad input (''), and a throttled
  // Bedrock/Cohere/Gemini fan-out (429 mid-way) is under-counted the same way.
  // Diagnosis: upstream/call.ts:319-321 (callEmbeddings) throws the first failure of `inBatches` and
  // drops the answers already received; limits/limits-stage.ts:25 then settles a failed request with
  // no usage at 0. Fix: on a fan-out failure, attach the summed usage of the calls that succeeded to the
  // error (or state) and settle/record it; or settle at the reservation when any call succeeded.
  it('a Titan fan-out whose last input is refused still counts the calls AWS billed against a token budget', async () => {
    const rec = cassette('bedrock/invoke.titan-embed-v2.cassette.yaml')[0]!;
    const perCall = (rec.response.parsed_body as { inputTextTokenCount: number }).inputTextTokenCount; // 4
    const { app } = await start(
      [{ provider: 'bedrock', aws_access_key_id: 'AKIDEXAMPLE', aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', aws_region: 'us-east-1', custom_host: up.url }],
      { budget: { max_tokens_per_day: 40 } },
    );
    up.route('/model/amazon.titan-embed-text-v2%3A0/invoke', (req) =>
      req.json.inputText === 'dddd'
        ? {
            // Answered last, so the three billed calls always complete (nothing is aborted mid-way).
            delayMs: 50,
            status: 400,
            headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' },
            json: { message: 'Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again.' },
          }
        : { json: rec.response.parsed_body },
    );
    const statuses: number[] = [];
    for (let i = 0; i < 10 && !statuses.includes(402); i++) {
      const r = await fetch(`${app.gatewayURL}/v1/embeddings`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'amazon.titan-embed-text-v2:0', input: ['aaaa', 'bbbb', 'cccc', 'dddd'], encoding_format: 'float' }),
      });
      statuses.push(r.status);
      if (r.status === 400) expect((await r.json()).error.message).toMatch(/^Malformed input request/);
      else await r.body?.cancel();
    }
    const billed = up.requests.filter((r) => r.json.inputText !== 'dddd').length * perCall;
    expect(statuses).toContain(402);
    expect(billed).toBeLessThanOrEqual(40);
  });
});

describe('covered here only', () => {
  it('an empty input array from the SDK is a 400 naming input, with no upstream call', async () => {
    const { client } = await start([{ provider: 'cohere', api_key: 'c', custom_host: `${up.url}/v2` }]);
    const err = await client.embeddings.create({ model: 'embed-v4.0', input: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error.param).toBe('input');
    expect(up.requests).toHaveLength(0);
  });

  it('fallback from OpenAI (500) to Cohere: the SDK default base64 decodes to Cohere\'s floats; headers and record name the answering target', async () => {
    const records: Array<Record<string, any>> = [];
    const { client } = await start(
      [
        { provider: 'openai', api_key: 'k', custom_host: `${up.url}/v1` },
        { provider: 'cohere', api_key: 'c', custom_host: `${up.url}/v2`, override_params: { model: 'embed-v4.0' } },
      ],
      { strategy: { mode: 'fallback' } },
      { onLog: (r: unknown) => void records.push(r as Record<string, any>) } as never,
    );
    const cohere = fixtureJson('cohere/embed-v2.json');
    up.route('/v1/embeddings', { status: 500, json: { error: { message: 'boom', type: 'server_error' } } });
    up.route('/v2/embed', { json: cohere });
    const { data, response } = await client.embeddings.create({ model: 'text-embedding-3-small', input: cohere.texts }).withResponse();
    expect(up.requests.map((r) => r.path)).toEqual(['/v1/embeddings', '/v2/embed']);
    expect(up.requests[1]!.json).toMatchObject({ model: 'embed-v4.0', texts: cohere.texts, embedding_types: ['float'] });
    data.data.forEach((d, i) => cohere.embeddings.float[i].forEach((v: number, j: number) => expect(d.embedding[j]).toBeCloseTo(v, 6)));
    expect(data.usage).toEqual({ prompt_tokens: 10, total_tokens: 10 });
    expect(response.headers.get('x-llmux-provider')).toBe('cohere');
    expect(response.headers.get('x-llmux-target')).toBe('config.targets[1]');
    expect(Number(response.headers.get('x-llmux-cost'))).toBeGreaterThan(0);
    const record = records.at(-1)!;
    expect(record.attempts.map((a: any) => [a.provider, a.status])).toEqual([
      ['openai', 500],
      ['cohere', 200],
    ]);
    expect(record.usage).toMatchObject({ input_tokens: 10 });
  });
});
