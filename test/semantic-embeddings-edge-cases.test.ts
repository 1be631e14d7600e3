/**
 * The semantic cache's default embedder and threshold, and /v1/embeddings across providers: an Azure
 * chat deployment never used for embeddings, "at or above threshold" with 32-bit vectors, Gemini
 * honouring override_params, Mistral's own field names. Each failed before its fix.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CacheScratch, GatewayConfig } from '@llmux/core';
import { fixtureJson } from './helpers/fixtures.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';
import { topicEmbeddings, topicVector } from './helpers/topic-embedder.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());

const TEXT = fixtureJson('openai/chat-completions.text.json');

let app: TestApp | undefined;
let seen: CacheScratch[] = [];
afterEach(async () => {
  await app?.close();
  app = undefined;
});
beforeEach(() => {
  upstream.reset();
});

async function start(options: AppOptions): Promise<OpenAI> {
  app = await appFactories.express5!(options);
  seen = [];
  app.gateway.internals.stages.push({ name: 'spy', after: (state) => void seen.push({ ...(state.scratch.cache as CacheScratch) }) });
  return new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${app!.gatewayURL}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('semantic cache', () => {
  it('azure-openai default embedder calls the standard embedding model, not the chat deployment', async () => {
    // docs/caching.md "Semantic mode": `embedding` default is "the first target's provider and its standard
    // model"; "openai and azure-openai `text-embedding-3-small`". DESIGN.md: default "the first target's
    // provider's standard embedding model". Azure puts the deployment (model) in the URL, so keeping the
    // chat target's `deployment_id` sends the embedding call to the chat deployment.
    upstream.route('*', (req: RecordedRequest) =>
      req.path.includes('/embeddings') ? topicEmbeddings(req) : { json: TEXT },
    );
    const client = await start({
      config: {
        cache: { mode: 'semantic' },
        targets: [{ provider: 'azure-openai', api_key: 'az-key', custom_host: upstream.url, deployment_id: 'my-gpt4o-chat', api_version: '2024-10-21' }],
      } as GatewayConfig,
    });
    await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'What is Python?' }] });
    const embedCalls = upstream.requests.filter((r) => r.path.includes('/embeddings'));
    expect(embedCalls.length).toBe(1);
    expect(embedCalls[0]!.path).toContain('/openai/deployments/text-embedding-3-small/embeddings');
  });

  it('a prompt identical in meaning (same vector) matches at threshold 1 (cosine >= threshold)', async () => {
    // docs/caching.md: "The most similar entry of the partition at or above `threshold` is served".
    // "What is Python?" and "what is python" embed to the very same vector (cosine 1).
    expect(topicVector('What is Python?')).toEqual(topicVector('what is python'));
    upstream.route('/v1/embeddings', topicEmbeddings);
    upstream.route('/v1/chat/completions', { json: TEXT });
    const client = await start({
      config: { cache: { mode: 'semantic', threshold: 1 }, targets: [{ provider: 'openai', api_key: 'sk', custom_host: `${upstream.url}/v1` }] } as GatewayConfig,
    });
    await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'What is Python?' }] });
    const second = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'what is python' }] }).withResponse();
    expect(second.response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
  });
});

describe('/v1/embeddings across providers', () => {
  it('google (gemini) applies a target\'s override_params (dimensions) like every other provider', async () => {
    // override_params apply to every request of a target (openai-compatible, cohere and bedrock merge them
    // into embeddings bodies); google's embeddings translator reads only the client body.
    upstream.route('*', { json: { embeddings: [{ values: [0.1, 0.2] }] } });
    await start({
      config: { targets: [{ provider: 'google', api_key: 'g', custom_host: upstream.url, override_params: { dimensions: 256 } }] } as GatewayConfig,
    });
    const res = await post('/v1/embeddings', { model: 'gemini-embedding-001', input: 'hello' });
    expect(res.status).toBe(200);
    const sent = upstream.requests[0]!.json;
    expect(sent.requests[0].outputDimensionality).toBe(256);
  });

  it('mistral: `dimensions` goes out as Mistral\'s `output_dimension` (Mistral refuses unknown fields)', async () => {
    // README: `POST /v1/embeddings` "OpenAI embeddings (OpenAI-compatible, …)" to any provider; Mistral names the
    // parameter `output_dimension` and (presets.ts, adaptForMistral) "validates bodies strictly (422
    // extra_forbidden for unknown fields)". The chat path renames such fields; the embeddings path sends OpenAI's name.
    upstream.route('/v1/embeddings', topicEmbeddings);
    await start({ config: { targets: [{ provider: 'mistral', api_key: 'm', custom_host: `${upstream.url}/v1` }] } as GatewayConfig });
    const res = await post('/v1/embeddings', { model: 'codestral-embed', input: 'hello', dimensions: 256 });
    expect(res.status).toBe(200);
    const sent = upstream.requests[0]!.json;
    expect(sent.output_dimension).toBe(256);
    expect(sent).not.toHaveProperty('dimensions');
  });
});
