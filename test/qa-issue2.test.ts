import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { gatewayMiddleware } from '@llmux/express';
import type { Gateway } from '@llmux/core';
import { appFactories, closeServer, type TestApp } from './helpers/apps.js';
import { fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * QA of issue 2 from a user's side: the mount forms the README and the issue promise for Express 4
 * and 5, a client leaving a non-stream call behind every adapter, every OpenAI-compatible preset's
 * real URL, auth header and untouched unknown parameters (Azure's deployment URL included), and
 * `GET /v1/models`.
 */
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const hi = [{ role: 'user' as const, content: 'Hi' }];
const COMPLETION = fixtureJson('openai/chat-completions.text.json');
const STREAM = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));

const post = (url: string, body: unknown, signal?: AbortSignal) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });

async function listen(app: any): Promise<{ url: string; server: Server }> {
  const server = app.listen(0, '127.0.0.1') as Server;
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

// ---- Express mount forms ----

const EXPRESSES = { express5: () => express(), express4: () => (express4 as any)() } as const;

for (const [name, make] of Object.entries(EXPRESSES)) {
  describe(`${name}: the gateway where the app mounts it`, () => {
    const target = () => ({ provider: 'openai', api_key: 'sk-qa', custom_host: `${upstream.url}/v1` });
    const opened: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const close of opened) await close();
    });

    async function mount(how: (app: any, mw: ReturnType<typeof gatewayMiddleware>) => void, basePath?: string) {
      const app = make();
      const mw = gatewayMiddleware({ ...(basePath ? { basePath } : {}), config: { targets: [target()] } });
      how(app, mw);
      app.get('/health', (_req: unknown, res: any) => res.json({ ok: true }));
      app.use((_req: unknown, res: any) => res.status(404).send('host 404'));
      const { url, server } = await listen(app);
      opened.push(async () => {
        await closeServer(server);
        await mw.close(500);
      });
      return url;
    }

    /** Chat, stream, models and a JSON 404 under `prefix`; the host's own routes and 404 outside it. */
    async function expectServedAt(url: string, prefix: string) {
      const client = new OpenAI({ baseURL: `${url}${prefix}/v1`, apiKey: 'unused', maxRetries: 0 });
      upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM });
      const chat = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: hi });
      expect(chat.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
      let text = '';
      for await (const c of await client.chat.completions.create({ model: 'gpt-4o-mini', messages: hi, stream: true })) text += c.choices[0]?.delta.content ?? '';
      expect(text.length).toBeGreaterThan(0);
      expect(upstream.requests.map((r) => r.path)).toEqual(['/v1/chat/completions', '/v1/chat/completions']);
      expect((await client.models.list()).object).toBe('list');
      const missing = await fetch(`${url}${prefix}/v1/nope`);
      expect(missing.status).toBe(404);
      expect((await missing.json()).error.code).toBe('not_found');
      expect(await (await fetch(`${url}/health`)).json()).toEqual({ ok: true });
      expect(await (await fetch(`${url}/elsewhere/v1/chat/completions`)).text()).toBe('host 404');
    }

    it("app.use(gatewayMiddleware()) serves /llm", async () => {
      await expectServedAt(await mount((app, mw) => app.use(mw)), '/llm');
    });

    it("app.use('/llm', gatewayMiddleware()) serves /llm, not /llm/llm", async () => {
      const url = await mount((app, mw) => app.use('/llm', mw));
      await expectServedAt(url, '/llm');
      // Express took `/llm` off already: a second one is a path under the gateway, not its /v1/models.
      const doubled = await fetch(`${url}/llm/llm/v1/models`);
      expect(doubled.status).toBe(404);
      expect((await doubled.json()).error.code).toBe('not_found');
    });

    it("app.use('/ai', gatewayMiddleware({ basePath: '/ai' })) serves /ai (the README's form)", async () => {
      const url = await mount((app, mw) => app.use('/ai', mw), '/ai');
      await expectServedAt(url, '/ai');
      expect((await fetch(`${url}/llm/v1/models`)).status).toBe(404);
    });

    it('inside a router mounted at /api, the gateway answers at /api/llm', async () => {
      const url = await mount((app, mw) => {
        const router = (name === 'express5' ? express : (express4 as any)).Router();
        router.use(mw);
        app.use('/api', router);
      });
      await expectServedAt(url, '/api/llm');
    });
  });
}

// ---- a client leaving a non-stream call, behind every adapter ----

for (const [name, start] of Object.entries(appFactories)) {
  describe(`${name}: a client that leaves a non-stream call`, () => {
    let app: TestApp;
    let raw: TestApp;
    beforeAll(async () => {
      const options = { config: { targets: [{ provider: 'openai', api_key: 'sk-qa', custom_host: `${upstream.url}/v1` }] } };
      [app, raw] = await Promise.all([start(options), start({ ...options, bodyParser: false })]);
    });
    afterAll(() => Promise.all([app?.close(), raw?.close()]));

    it('closes the upstream connection, with or without a body parser (chat and embeddings)', async () => {
      for (const [a, path, body] of [
        [app, '/v1/chat/completions', { model: 'gpt-4o-mini', messages: hi }],
        [raw, '/v1/chat/completions', { model: 'gpt-4o-mini', messages: hi }],
        [app, '/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }],
      ] as const) {
        upstream.reset();
        upstream.enqueue(path, { hang: true });
        const client = new AbortController();
        const pending = post(`${a.gatewayURL}${path}`, body, client.signal);
        await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
        client.abort();
        await expect(pending).rejects.toThrow();
        await vi.waitFor(() => expect(upstream.aborted).toBe(1));
      }
    });
  });
}

// ---- OpenAI-compatible presets: real URLs, auth headers, unknown parameters untouched ----

/**
 * Sends every upstream call of a gateway to the mock instead, remembering the URL the provider
 * would have been called at: presets are checked against their real hosts without a network.
 */
function redirectUpstream(gateway: Gateway): string[] {
  const urls: string[] = [];
  const client = gateway.internals.client;
  const send = client.send.bind(client);
  client.send = (req, signal) => {
    urls.push(req.url);
    const u = new URL(req.url);
    return send({ ...req, url: `${upstream.url}${u.pathname}${u.search}` }, signal);
  };
  return urls;
}

const PRESETS: Array<{ provider: string; url: string; auth: (key: string) => Record<string, string>; extra?: Record<string, unknown> }> = [
  { provider: 'openai', url: 'https://api.openai.com/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'groq', url: 'https://api.groq.com/openai/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'together', url: 'https://api.together.xyz/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'fireworks', url: 'https://api.fireworks.ai/inference/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'deepseek', url: 'https://api.deepseek.com/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'xai', url: 'https://api.x.ai/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'openrouter', url: 'https://openrouter.ai/api/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'perplexity', url: 'https://api.perplexity.ai/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'mistral', url: 'https://api.mistral.ai/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'ollama', url: 'http://localhost:11434/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'vllm', url: 'http://localhost:8000/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  { provider: 'lmstudio', url: 'http://localhost:1234/v1/chat/completions', auth: (k) => ({ authorization: `Bearer ${k}` }) },
  {
    provider: 'azure-openai',
    url: 'https://my-res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21',
    auth: (k) => ({ 'api-key': k }),
    extra: { resource_name: 'my-res', deployment_id: 'gpt4o', api_version: '2024-10-21' },
  },
];

/** Parameters no version of the gateway knows, beside known ones it must not rename. */
const UNKNOWN = { some_future_param: { nested: [1, 'ü', null] }, logit_bias: { '50256': -100 }, parallel_tool_calls: false, prediction: { type: 'content', content: 'x' }, top_k: 40 };

describe('OpenAI-compatible presets call their real endpoint with their auth header and pass unknown parameters through', () => {
  for (const p of PRESETS) {
    it(`${p.provider}`, async () => {
      const key = `key-for-${p.provider}`;
      const app = await appFactories.express5!({ env: {}, config: { targets: [{ provider: p.provider, api_key: key, ...p.extra }] } });
      try {
        const urls = redirectUpstream(app.gateway);
        upstream.route('*', (req) => (req.json?.stream ? { chunks: STREAM } : { json: COMPLETION }));
        const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-side-key', maxRetries: 0 });
        const body = { model: 'some-model', messages: hi, temperature: 0.3, ...UNKNOWN };
        const chat = await client.chat.completions.create(body as never);
        expect(chat.choices[0]!.message.content).toBe(COMPLETION.choices[0].message.content);
        let text = '';
        for await (const c of await client.chat.completions.create({ ...body, stream: true } as never) as any) text += c.choices[0]?.delta.content ?? '';
        expect(text.length).toBeGreaterThan(0);

        expect(urls).toEqual([p.url, p.url]);
        for (const [i, sent] of upstream.requests.entries()) {
          for (const [h, v] of Object.entries(p.auth(key))) expect(sent.headers[h]).toBe(v);
          if (!('authorization' in p.auth(key))) expect(sent.headers.authorization).toBeUndefined();
          expect(JSON.stringify(sent.headers)).not.toContain('client-side-key');
          for (const [k, v] of Object.entries(UNKNOWN)) expect(sent.json[k], `${k} (request ${i})`).toEqual(v);
          expect(sent.json.messages).toEqual(hi);
          expect(sent.json.temperature).toBe(0.3);
        }
        expect(upstream.requests[1]!.json.stream).toBe(true);
      } finally {
        await app.close();
      }
    });
  }

  it('azure-openai: embeddings go to the deployment too, and a target without resource_name or custom_host is refused, not sent to a made-up host', async () => {
    const app = await appFactories.express5!({
      env: {},
      config: { targets: [{ provider: 'azure-openai', api_key: 'az-key', resource_name: 'my-res', deployment_id: 'embed-dep', api_version: '2024-10-21' }] },
    });
    try {
      const urls = redirectUpstream(app.gateway);
      upstream.enqueue('*', { json: fixtureJson('openai/embeddings.float.json') });
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hi', encoding_format: 'float' });
      expect(res.data[0]!.embedding.length).toBeGreaterThan(0);
      expect(urls).toEqual(['https://my-res.openai.azure.com/openai/deployments/embed-dep/embeddings?api-version=2024-10-21']);
      expect(upstream.requests[0]!.headers['api-key']).toBe('az-key');
    } finally {
      await app.close();
    }

    const bare = await appFactories.express5!({ env: {}, config: { targets: [{ provider: 'azure-openai', api_key: 'az-key', deployment_id: 'gpt4o' }] } });
    try {
      const urls = redirectUpstream(bare.gateway);
      const res = await post(`${bare.gatewayURL}/v1/chat/completions`, { model: 'gpt-4o', messages: hi });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatchObject({ code: 'invalid_config', param: 'config.targets[0].resource_name' });
      expect(urls).toEqual([]);
    } finally {
      await bare.close();
    }
  });
});

// ---- GET /v1/models ----

describe('GET /v1/models lists the models the config names and its aliases', () => {
  it('answers the openai SDK with every target model once, nested strategies included', async () => {
    const app = await appFactories.express5!({
      env: {},
      config: {
        strategy: { mode: 'fallback' },
        model_aliases: { fast: 'gpt-4o-mini' },
        targets: [
          { provider: 'openai', api_key: 'k', override_params: { model: 'gpt-4o' } },
          { strategy: { mode: 'loadbalance' }, targets: [{ provider: 'groq', api_key: 'k', override_params: { model: 'llama-3.3-70b' } }, { provider: 'openai', api_key: 'k', override_params: { model: 'gpt-4o' } }] },
        ],
      } as never,
    });
    try {
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const ids = [];
      for await (const m of client.models.list()) ids.push(m.id);
      expect(ids.sort()).toEqual(['fast', 'gpt-4o', 'llama-3.3-70b']);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await app.close();
    }
  });
});

// ---- createGateway names the bad field ----

describe('createGateway refuses bad options and config with an error naming the field', () => {
  it.each([
    [{ config: { strategy: { mode: 'fallbak' }, targets: [{ provider: 'openai' }] } }, 'options.config.strategy.mode'],
    [{ config: { targets: [{ provider: 'openai', weight: 'heavy' }] } }, 'options.config.targets[0].weight'],
    [{ config: { targets: [{ provider: 'openai', request_timeout: -5 }] } }, 'options.config.targets[0].request_timeout'],
    [{ config: { targets: [{ provider: 'nope' }] } }, 'config.targets[0].provider'],
    [{ basePath: 3 }, 'options.basePath'],
    [{ providers: { openai: { baseURL: 'not a url' } } }, 'options.providers.openai.baseURL'],
    [{ config: '{"targets": [{"provider": "openai", "weight": "heavy"}]}' }, 'config.targets[0].weight'],
  ])('%j → %s', async (options, field) => {
    const { createGateway } = await import('@llmux/core');
    expect(() => createGateway({ env: {}, ...(options as object) })).toThrow(field);
  });
});

describe('bad embeddings bodies get a 400 that says what is wrong with input', () => {
  it('a missing input is "missing required parameter", a wrong one says what input may be', async () => {
    const app = await appFactories.express5!({ env: {}, config: { targets: [{ provider: 'openai', api_key: 'k', custom_host: `${upstream.url}/v1` }] } });
    try {
      const missing = await post(`${app.gatewayURL}/v1/embeddings`, { model: 'text-embedding-3-small' });
      expect(missing.status).toBe(400);
      expect((await missing.json()).error).toMatchObject({ param: 'input', message: "missing required parameter 'input'" });
      const wrong = await post(`${app.gatewayURL}/v1/embeddings`, { model: 'text-embedding-3-small', input: 42 });
      expect(wrong.status).toBe(400);
      const { error } = await wrong.json();
      expect(error.param).toBe('input');
      expect(error.message).toMatch(/^input: .*string/);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await app.close();
    }
  });
});

describe('a route used with the wrong method', () => {
  it('answers 405 in the OpenAI shape with the Allow header (RFC 9110)', async () => {
    const app = await appFactories.express5!({ env: {}, config: { targets: [{ provider: 'mock' }] } });
    try {
      const chat = await fetch(`${app.gatewayURL}/v1/chat/completions`);
      expect(chat.status).toBe(405);
      expect(chat.headers.get('allow')).toBe('POST');
      expect((await chat.json()).error.code).toBe('method_not_allowed');
      const models = await fetch(`${app.gatewayURL}/v1/models`, { method: 'POST' });
      expect(models.status).toBe(405);
      expect(models.headers.get('allow')).toMatch(/GET/);
    } finally {
      await app.close();
    }
  });
});

// ---- pre-parsed and raw bodies, on the routes the adapters suite does not compare ----

for (const [name, start] of Object.entries(appFactories)) {
  it(`${name}: /v1/messages and /v1/embeddings give identical results behind the host's body parser and without one`, async () => {
    const options = { env: {}, config: { targets: [{ provider: 'openai', api_key: 'sk-qa', custom_host: `${upstream.url}/v1` }] } };
    const [parsed, raw] = await Promise.all([start(options), start({ ...options, bodyParser: false })]);
    try {
      const results = [];
      for (const app of [parsed, raw]) {
        upstream.enqueue('/v1/chat/completions', { json: COMPLETION }, { chunks: STREAM });
        upstream.enqueue('/v1/embeddings', { json: fixtureJson('openai/embeddings.float.json') });
        const message = { model: 'gpt-4o', max_tokens: 50, system: 'Be brief. ü', messages: [{ role: 'user', content: [{ type: 'text', text: 'héllo' }] }], metadata: { user_id: 'u1' } };
        const one = await post(`${app.gatewayURL}/v1/messages`, message);
        const streamed = await post(`${app.gatewayURL}/v1/messages`, { ...message, stream: true });
        const emb = await post(`${app.gatewayURL}/v1/embeddings`, { model: 'text-embedding-3-small', input: ['a', 'ü'], dimensions: 8, future_flag: true });
        const bad = await post(`${app.gatewayURL}/v1/messages`, { model: 'gpt-4o', messages: [] });
        results.push({
          one: [one.status, await one.json()],
          streamed: [streamed.status, (await streamed.text()).replace(/"id":"[^"]*"/g, '"id":"…"')],
          emb: [emb.status, await emb.json()],
          // Each Anthropic-shaped error carries its own request_id (the trace id).
          bad: [bad.status, { ...(await bad.json()), request_id: '…' }],
        });
      }
      expect(results[0]).toEqual(results[1]);
      expect(results[0]!.one[0]).toBe(200);
      expect(results[0]!.bad[0]).toBe(400);
      const texts = upstream.requests.map((r) => r.text);
      expect(texts.slice(0, 3)).toEqual(texts.slice(3, 6));
      expect(upstream.requests[2]!.json.future_flag).toBe(true);
    } finally {
      await Promise.all([parsed.close(), raw.close()]);
    }
  });
}
