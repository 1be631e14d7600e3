import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway, type CacheScratch, type GatewayConfig } from '@llmux/core';
import { fixtureJson } from './helpers/fixtures.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';
import { topicEmbeddings } from './helpers/topic-embedder.js';

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => {
  upstream.reset();
  upstream.route('/v1/embeddings', topicEmbeddings);
  upstream.route('/v1/chat/completions', { json: TEXT });
});

const TEXT = fixtureJson('openai/chat-completions.text.json');
const calls = (path: string) => upstream.requests.filter((r) => r.path.startsWith(path)).length;

function config(cache: Record<string, unknown>): GatewayConfig {
  return {
    cache: { mode: 'semantic', ...cache },
    targets: [{ provider: 'openai', api_key: 'sk-test-upstream', custom_host: `${upstream.url}/v1` }],
  } as GatewayConfig;
}

describe('semantic cache through the OpenAI SDK (express5)', () => {
  let app: TestApp | undefined;
  let client: OpenAI;
  let seen: CacheScratch[];
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(options: AppOptions): Promise<void> {
    app = await appFactories.express5!(options);
    seen = [];
    app.gateway.internals.stages.push({ name: 'spy', after: (state) => void seen.push({ ...(state.scratch.cache as CacheScratch) }) });
    client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  }

  const ask = (messages: OpenAI.ChatCompletionMessageParam[], extra: Record<string, unknown> = {}) =>
    client.chat.completions.create({ model: 'gpt-4.1-nano', messages, ...extra }).withResponse();
  const user = (content: string): OpenAI.ChatCompletionMessageParam[] => [{ role: 'user', content }];

  it('answers "Tell me about Python" from the entry of "What is Python?", and not an unrelated question', async () => {
    await start({ config: config({}) });
    const first = await ask(user('What is Python?'));
    expect(first.response.headers.get('x-llmux-cache')).toBe('MISS');
    const similar = await ask(user('Tell me about Python'));
    expect(similar.response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
    expect(similar.response.headers.get('x-portkey-cache-status')).toBe('SEMANTIC HIT');
    expect(similar.response.headers.get('x-llmux-cost')).toBe('0');
    const similarity = Number(similar.response.headers.get('x-llmux-cache-similarity'));
    expect(similarity).toBeGreaterThanOrEqual(0.95);
    expect(similarity).toBeLessThan(1);
    expect(similar.data.choices[0]!.message.content).toBe(first.data.choices[0]!.message.content);
    const unrelated = await ask(user('How is the weather today?'));
    expect(unrelated.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(calls('/v1/chat/completions')).toBe(2);
    // The default embedder is the first target's provider's standard model, at the target's own host.
    const embedded = upstream.requests.filter((r) => r.path.startsWith('/v1/embeddings'));
    expect(embedded.map((r) => r.json.input)).toEqual(['What is Python?', 'Tell me about Python', 'How is the weather today?']);
    expect(embedded[0]!.json.model).toBe('text-embedding-3-small');
    expect(embedded[0]!.headers.authorization).toBe('Bearer sk-test-upstream');
    expect(seen[1]).toMatchObject({ status: 'SEMANTIC_HIT', mode: 'semantic', embeddingTokens: 5 });
    expect(seen[1]!.similarity).toBeCloseTo(similarity, 4);
  });

  it('never matches across conversations: another system prompt or other earlier turns miss', async () => {
    await start({ config: config({}) });
    await ask([{ role: 'system', content: 'You are a snake expert.' }, ...user('What is Python?')]);
    const otherSystem = await ask([{ role: 'system', content: 'You are a programming tutor.' }, ...user('Tell me about Python')]);
    expect(otherSystem.response.headers.get('x-llmux-cache')).toBe('MISS');
    const sameSystem = await ask([{ role: 'system', content: 'You are a snake expert.' }, ...user('Tell me about Python')]);
    expect(sameSystem.response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
    const otherTurns = await ask([
      { role: 'system', content: 'You are a snake expert.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi! Ask me anything.' },
      ...user('Tell me about Python'),
    ]);
    expect(otherTurns.response.headers.get('x-llmux-cache')).toBe('MISS');
    // Other parameters are a different partition too.
    expect((await ask(user('What is Python?'), { temperature: 0 })).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await ask(user('Tell me about Python'), { temperature: 1 })).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect((await ask(user('Tell me about Python'), { temperature: 0 })).response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
  });

  it('tries the exact key first and embeds only on an exact miss', async () => {
    await start({ config: config({}) });
    await ask(user('What is Python?'));
    const again = await ask(user('What is Python?'));
    expect(again.response.headers.get('x-llmux-cache')).toBe('HIT');
    expect(calls('/v1/embeddings')).toBe(1);
  });

  it('respects the threshold', async () => {
    await start({ config: config({ threshold: 0.99 }) });
    await ask(user('What is Python?'));
    expect((await ask(user('Tell me about Python'))).response.headers.get('x-llmux-cache')).toBe('MISS');
  });

  it('skips the semantic step for requests with tools unless semantic_tools is set', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'search', parameters: { type: 'object', properties: {} } } }];
    await start({ config: config({}) });
    await ask(user('What is Python?'), { tools });
    expect((await ask(user('Tell me about Python'), { tools })).response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(calls('/v1/embeddings')).toBe(0);
    expect(seen[1]?.semantic).toBe('tools');
    await app!.close();
    await start({ config: config({ semantic_tools: true }) });
    await ask(user('What is Python?'), { tools });
    expect((await ask(user('Tell me about Python'), { tools })).response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
  });

  it('uses the configured embedding target', async () => {
    await start({ config: config({ embedding: { provider: 'openai', model: 'my-embedder', custom_host: `${upstream.url}/v1`, api_key: 'sk-embed' } }) });
    await ask(user('What is Python?'));
    expect((await ask(user('Tell me about Python'))).response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
    const embedded = upstream.requests.filter((r) => r.path.startsWith('/v1/embeddings'));
    expect(embedded.map((r) => r.json.model)).toEqual(['my-embedder', 'my-embedder']);
    expect(embedded[0]!.headers.authorization).toBe('Bearer sk-embed');
  });

  it('treats an embedder failure as a miss, never as an error', async () => {
    await start({ config: config({}) });
    upstream.route('/v1/embeddings', { status: 500, json: { error: { message: 'embedder down', type: 'server_error' } } });
    const first = await ask(user('What is Python?'));
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get('x-llmux-cache')).toBe('MISS');
    expect(seen[0]?.semantic).toBe('embedding_failed');
    // The exact entry is still stored.
    expect((await ask(user('What is Python?'))).response.headers.get('x-llmux-cache')).toBe('HIT');
    upstream.route('/v1/embeddings', { hang: true });
    await app!.close();
    await start({ config: config({}), cache: { embeddingTimeoutMs: 100 } });
    const hung = await ask(user('Tell me about Python'));
    expect(hung.response.status).toBe(200);
    expect(hung.response.headers.get('x-llmux-cache')).toBe('MISS');
  });

  it('streams a semantic hit as SSE', async () => {
    await start({ config: config({}) });
    await ask(user('What is Python?'));
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4.1-nano', messages: user('Tell me about Python'), stream: true }).withResponse();
    expect(response.headers.get('x-llmux-cache')).toBe('SEMANTIC_HIT');
    let text = '';
    for await (const c of data) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe(TEXT.choices[0].message.content);
  });

  it('refuses at start-up a semantic cache whose embedder cannot be found, naming the field', () => {
    expect(() => createGateway({ config: { cache: { mode: 'semantic' }, targets: [{ provider: 'groq', api_key: 'x' }] } })).toThrow(/config\.cache\.embedding/);
    expect(() =>
      createGateway({ config: { cache: { mode: 'semantic', embedding: { provider: 'nope' } }, targets: [{ provider: 'openai', api_key: 'x' }] } }),
    ).toThrow(/config\.cache\.embedding\.provider/);
  });
});
