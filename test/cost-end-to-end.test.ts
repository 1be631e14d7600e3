/**
 * Usage, cost and budgets end to end (packages/core/src/cost/**, provider usage translators, budgets),
 * each test pins a behaviour that was once wrong, or covers a gap no other suite covered.
 *
 * Every expected USD figure is computed from the `@pydantic/genai-prices` database (the contract's price
 * source: DESIGN.md "`x-llmux-cost` (USD)", README "Every answer is costed from its usage
 * (`@pydantic/genai-prices`, overridden by the `pricing` option)"), using the database's own usage
 * extractors where the provider has one, and the per-MTok rates are written out by hand in comments.
 */
import { calcPrice, extractUsage, findProvider } from '@pydantic/genai-prices';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cassette, fixtureJson, fixtureText } from './helpers/fixtures.js';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { sseFromJsonl, startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  upstream.reset();
});

async function gateway(target: Record<string, unknown>, options: AppOptions = {}): Promise<TestApp> {
  const started = await appFactories.express5!({ env: {}, config: { targets: [target] }, ...options } as never);
  apps.push(started);
  return started;
}

async function post(app: TestApp, path: string, body: unknown): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${app.gatewayURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

async function stream(app: TestApp, body: unknown): Promise<{ text: string; trailers: Record<string, unknown> }> {
  const res = await request(`${app.gatewayURL}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { text, trailers: res.trailers };
}

/** USD per genai-prices for a provider's raw response body, extracted with the database's own extractor. */
function dbPrice(providerId: string, response: unknown, model: string, flavor?: string): number {
  const provider = findProvider({ providerId })!;
  const { usage } = extractUsage(provider, response, flavor);
  return calcPrice(usage, model, { providerId })!.total_price;
}

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('provider usage → cost', () => {
  // Cohere bills `usage.billed_units`; `usage.tokens` also counts Cohere's own preamble and the cached
  // prompt (pricing it charged ~14x the bill: $0.0013675 = 507 × 2.5 + 10 × 10 µUSD).
  // genai-prices' Cohere extractor (flavor "default") reads `usage.billed_units`; command-a is
  // $2.50 / $10 per MTok: 12 × 2.5 + 7 × 10 = 100 µUSD = $0.0001.
  it('cohere: prices the billed units, not the processed tokens', async () => {
    const recorded = fixtureJson('cohere/chat-v2.text.json');
    upstream.enqueue('/v2/chat', { json: recorded });
    const app = await gateway({ provider: 'cohere', api_key: 'co-key', custom_host: `${upstream.url}/v2` });
    const res = await post(app, '/v1/chat/completions', chat('command-a-03-2025'));
    expect(res.status).toBe(200);
    const expected = dbPrice('cohere', { model: 'command-a-03-2025', usage: recorded.usage }, 'command-a-03-2025');
    expect(expected).toBeCloseTo(0.0001, 12);
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
  });

  // Anthropic prices 1-hour cache writes at 2× input (`cache_write_1h_mtok`), 5-minute ones at
  // 1.25× (`cache_write_mtok`); the response says which in `usage.cache_creation.ephemeral_1h_input_tokens`,
  // which toOpenAIUsage carries as `prompt_tokens_details.cache_creation_1h_tokens`.
  // claude-sonnet-4-5: input $3, 5m write $3.75, 1h write $6, read $0.30, output $15 per MTok:
  // 100 × 3 + 2000 × 6 + 3000 × 0.3 + 50 × 15 = 13 950 µUSD = $0.01395 (at the 5-minute rate: $0.00945).
  it('anthropic: prices 1-hour cache writes at the 1-hour rate', async () => {
    const recorded = fixtureJson('anthropic/messages.text.json');
    const usage = {
      input_tokens: 100,
      cache_creation_input_tokens: 2000,
      cache_read_input_tokens: 3000,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 2000 },
      output_tokens: 50,
    };
    upstream.enqueue('/v1/messages', { json: { ...recorded, usage } });
    const app = await gateway({ provider: 'anthropic', api_key: 'sk-ant', custom_host: `${upstream.url}/v1` });
    const res = await post(app, '/v1/chat/completions', chat('claude-sonnet-4-5', { max_tokens: 100 }));
    expect(res.status).toBe(200);
    const expected = dbPrice('anthropic', { model: recorded.model, usage }, recorded.model);
    expect(expected).toBeCloseTo(0.01395, 12);
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
  });

  // Anthropic server-side web search is billed per search ($10 per 1000, `web_searches_kcount`
  // in genai-prices; reported as `usage.server_tool_use.web_search_requests`).
  // claude-sonnet-4-5: 500 × 3 + 80 × 15 = 2700 µUSD, + 3 searches × $0.01 = $0.0327 (tokens alone: $0.0027).
  it('anthropic: counts server-side web searches', async () => {
    const recorded = fixtureJson('anthropic/messages.text.json');
    const usage = { input_tokens: 500, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 80, server_tool_use: { web_search_requests: 3 } };
    upstream.enqueue('/v1/messages', { json: { ...recorded, usage } });
    const app = await gateway({ provider: 'anthropic', api_key: 'sk-ant', custom_host: `${upstream.url}/v1` });
    const res = await post(app, '/v1/chat/completions', chat('claude-sonnet-4-5', { max_tokens: 100 }));
    const expected = dbPrice('anthropic', { model: recorded.model, usage }, recorded.model);
    expect(expected).toBeCloseTo(0.0327, 12);
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
  });

  // Perplexity charges a per-request fee on top of tokens (`requests_kcount: 12` for sonar in
  // genai-prices = $0.012 per request).
  // sonar: $1 / $1 per MTok; 16 in + 363 out = 379 µUSD, + $0.012 = $0.012379 (tokens alone: $0.000379).
  it('perplexity: includes the per-request fee', async () => {
    const recorded = { ...fixtureJson('openai/chat-completions.text.json'), model: 'sonar' };
    upstream.enqueue('/chat/completions', { json: recorded });
    const app = await gateway({ provider: 'perplexity', api_key: 'pplx', custom_host: upstream.url });
    const res = await post(app, '/v1/chat/completions', chat('sonar'));
    expect(res.status).toBe(200);
    const expected = calcPrice({ input_tokens: 16, output_tokens: 363 }, 'sonar', { providerId: 'perplexity' })!.total_price;
    expect(expected).toBeCloseTo(0.012379, 12);
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
  });

  // Gemini prices audio input apart (`input_audio_mtok`, gemini-2.5-flash: $1 vs $0.30 text);
  // the modality split is in `usageMetadata.promptTokensDetails`, carried as `prompt_tokens_details.audio_tokens`.
  // 1000 audio + 200 text in, 100 out: 1000 × 1 + 200 × 0.3 + 100 × 2.5 = 1310 µUSD (all at the text rate: 610).
  it('gemini: prices audio input tokens at the audio rate', async () => {
    const recorded = fixtureJson('gemini/generateContent.text.json');
    const usageMetadata = {
      promptTokenCount: 1200,
      candidatesTokenCount: 100,
      totalTokenCount: 1300,
      promptTokensDetails: [
        { modality: 'TEXT', tokenCount: 200 },
        { modality: 'AUDIO', tokenCount: 1000 },
      ],
    };
    upstream.enqueue('*', { json: { ...recorded, usageMetadata, modelVersion: 'gemini-2.5-flash' } });
    const app = await gateway({ provider: 'google', api_key: 'AIza', custom_host: `${upstream.url}/v1beta` });
    const res = await post(app, '/v1/chat/completions', chat('gemini-2.5-flash'));
    expect(res.status).toBe(200);
    const expected = dbPrice('google', { modelVersion: 'gemini-2.5-flash', usageMetadata }, 'gemini-2.5-flash');
    expect(expected).toBeCloseTo(0.00131, 12);
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
  });

  // Gemini's batchEmbedContents reports no usage. Inventing `prompt_tokens: 0` would answer a priced
  // model (gemini-embedding-001, $0.15 / MTok) with `x-llmux-cost: 0` — the silent $0 the docs rule out
  // ("`no_usage` (the provider reported no tokens)") — and settle a budget at $0 instead of the
  // reservation ("an answer whose usage never arrives … is charged the reservation").
  it('gemini embeddings without usage are flagged no_usage, not costed $0', async () => {
    const body = cassette('gemini/batchEmbedContents.cassette.yaml')[0]!.response.parsed_body;
    upstream.enqueue('*', { json: body });
    const app = await gateway({ provider: 'google', api_key: 'AIza', custom_host: `${upstream.url}/v1beta` });
    const res = await post(app, '/v1/embeddings', { model: 'gemini-embedding-001', input: 'Hello, world!' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-llmux-cost')).toBeNull();
    expect(res.headers.get('x-llmux-cost-status')).toBe('no_usage');
  });

  // OpenAI with cached prompt and reasoning tokens, hand-computed. o3-mini: input $1.10,
  // cached $0.55, output $4.40 per MTok (reasoning is output). 1000 prompt of which 600 cached,
  // 500 completion of which 300 reasoning: 400 × 1.1 + 600 × 0.55 + 500 × 4.4 = 2970 µUSD.
  it('openai: cached prompt tokens at the cache rate, reasoning at the output rate', async () => {
    const recorded = fixtureJson('openai/chat-completions.text.json');
    const usage = {
      prompt_tokens: 1000,
      completion_tokens: 500,
      total_tokens: 1500,
      prompt_tokens_details: { cached_tokens: 600, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 300, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    upstream.enqueue('/v1/chat/completions', { json: { ...recorded, model: 'o3-mini-2025-01-31', usage } });
    const app = await gateway({ provider: 'openai', api_key: 'sk', custom_host: `${upstream.url}/v1` });
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    const { response } = await client.chat.completions.create(chat('o3-mini') as never).withResponse();
    expect(Number(response.headers.get('x-llmux-cost'))).toBeCloseTo(0.00297, 10);
    expect(dbPrice('openai', { model: 'o3-mini', usage }, 'o3-mini', 'chat')).toBeCloseTo(0.00297, 12);
  });

  // xAI reports reasoning outside completion_tokens; its own `cost_in_usd_ticks` (1e-10 USD)
  // is the ground truth: 1 466 250 ticks = $0.000146625 (grok-3-mini $0.30 in, $0.075 cached, $0.50 out).
  it('xai: matches the cost xAI itself reports for the recorded stream', async () => {
    const text = fixtureText('xai/chat-completions.text.chunks.jsonl');
    upstream.enqueue('/v1/chat/completions', { chunks: sseFromJsonl(text, { done: true }) });
    const app = await gateway({ provider: 'xai', api_key: 'xai', custom_host: `${upstream.url}/v1` });
    const { trailers } = await stream(app, chat('grok-3-mini', { stream: true }));
    expect(Number(trailers['x-llmux-cost'])).toBeCloseTo(1466250e-10, 12);
  });
});

describe('stream usage', () => {
  // docs/budgets-and-limits.md: "llmux always asks OpenAI-compatible upstreams for usage and hides it
  // from clients that did not". Groq (recorded) puts the usage llmux asked for on the finish chunk,
  // which still has a choice (and again under `x_groq.usage`): the chunk must arrive without them.
  it('groq: a client that did not ask for usage gets no usage in the stream', async () => {
    const text = fixtureText('groq/chat-completions.tool-call.chunks.jsonl');
    upstream.enqueue('/openai/v1/chat/completions', { chunks: sseFromJsonl(text, { done: true }) });
    const app = await gateway({ provider: 'groq', api_key: 'gsk', custom_host: `${upstream.url}/openai/v1` });
    const { text: out, trailers } = await stream(app, chat('llama-3.3-70b-versatile', { stream: true }));
    expect(upstream.requests[0]!.json.stream_options).toEqual({ include_usage: true });
    // llama-3.3-70b-versatile: $0.59 / $0.79 per MTok; 210 × 0.59 + 15 × 0.79 = 135.75 µUSD.
    expect(Number(trailers['x-llmux-cost'])).toBeCloseTo(0.00013575, 10);
    const leaked = out
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)))
      .filter((c) => c.usage != null);
    expect(leaked).toEqual([]);
    // The finish chunk itself still arrives, with the rest of Groq's own `x_groq` block.
    const finish = out.split('\n').filter((l) => l.includes('"finish_reason":"tool_calls"')).map((l) => JSON.parse(l.slice(6)));
    expect(finish).toHaveLength(1);
    expect(finish[0].x_groq).toEqual({ id: 'req_01kh52nj5yfcat8hrmvrk2j2hj' });
  });
});

describe('which model is priced', () => {
  // The price must be of the model actually called. With override_params.model = gpt-4o-mini, a
  // `pricing` entry for the *requested* name gpt-4o must not price the call (it once did:
  // (78 + 9) × 100 µUSD = $0.0087). gpt-4o-mini: $0.15 / $0.60 per MTok; 78 × 0.15 + 9 × 0.6 = 17.1 µUSD.
  it('override_params.model: a pricing entry for the requested name does not price the called model', async () => {
    const recorded = { ...fixtureJson('openai/chat-completions.text.json'), model: 'gpt-4o-mini-2024-07-18' };
    recorded.usage = { prompt_tokens: 78, completion_tokens: 9, total_tokens: 87 };
    upstream.enqueue('/v1/chat/completions', { json: recorded });
    const app = await gateway(
      { provider: 'openai', api_key: 'sk', custom_host: `${upstream.url}/v1`, override_params: { model: 'gpt-4o-mini' } },
      { pricing: { 'gpt-4o': { input: 100, output: 100 } } },
    );
    const res = await post(app, '/v1/chat/completions', chat('gpt-4o'));
    expect(upstream.requests[0]!.json.model).toBe('gpt-4o-mini');
    const expected = calcPrice({ input_tokens: 78, output_tokens: 9 }, 'gpt-4o-mini', { providerId: 'openai' })!.total_price;
    expect(expected).toBeCloseTo(0.0000171, 12);
    expect(Number(res.headers.get('x-llmux-cost'))).toBeCloseTo(expected, 10);
  });

  // A model without a price must be flagged unpriced, never given a made-up cost (docs: "A model
  // without a price is never counted as a silent $0"). With override_params.model naming an unpriced
  // model, the name the client sent (gpt-4o, $2.50 / $10) names a model that was never called.
  it('override_params.model to an unpriced model is unpriced, not priced as the requested model', async () => {
    const recorded = { ...fixtureJson('openai/chat-completions.text.json'), model: 'acme-private-7b' };
    upstream.enqueue('/v1/chat/completions', { json: recorded });
    const app = await gateway({ provider: 'openai', api_key: 'sk', custom_host: `${upstream.url}/v1`, override_params: { model: 'acme-private-7b' } });
    const res = await post(app, '/v1/chat/completions', chat('gpt-4o'));
    expect(res.status).toBe(200);
    expect(upstream.requests[0]!.json.model).toBe('acme-private-7b');
    expect(res.headers.get('x-llmux-cost')).toBeNull();
    expect(res.headers.get('x-llmux-cost-status')).toBe('unpriced');
  });

  // Same with model_aliases whose key is a real, priced model name: the alias target is what is called.
  it('a model alias to an unpriced model is unpriced, not priced as the alias name', async () => {
    const recorded = { ...fixtureJson('openai/chat-completions.text.json'), model: 'acme-private-7b' };
    upstream.enqueue('/v1/chat/completions', { json: recorded });
    const started = await appFactories.express5!({
      env: {},
      config: { targets: [{ provider: 'openai', api_key: 'sk', custom_host: `${upstream.url}/v1` }], model_aliases: { 'gpt-4o': 'acme-private-7b' } },
    } as never);
    apps.push(started);
    const res = await post(started, '/v1/chat/completions', chat('gpt-4o'));
    expect(upstream.requests[0]!.json.model).toBe('acme-private-7b');
    expect(res.headers.get('x-llmux-cost')).toBeNull();
    expect(res.headers.get('x-llmux-cost-status')).toBe('unpriced');
  });

  // docs/budgets-and-limits.md: "With `unpricedPolicy: 'reject'`, any request some target could serve with
  // an unpriced model is refused with 403 before an upstream call" — the model called, not the one named.
  it("unpricedPolicy 'reject' refuses a request overridden to an unpriced model, before any upstream call", async () => {
    const app = await gateway(
      { provider: 'openai', api_key: 'sk', custom_host: `${upstream.url}/v1`, override_params: { model: 'acme-private-7b' } },
      { unpricedPolicy: 'reject' },
    );
    const res = await post(app, '/v1/chat/completions', chat('gpt-4o'));
    expect(res.status).toBe(403);
    expect(res.json.error.message).toContain('acme-private-7b');
    expect(upstream.requests).toHaveLength(0);
  });

  // The reservation is priced at the model called too. gpt-4o-mini: $0.15 / $0.60 per MTok; 'hi' reserves
  // 8 + 2 = 10 input and 100 output tokens: 10 × 0.15 + 100 × 0.6 = 61.5 µUSD, under a $0.001 day budget.
  // Priced at the `pricing` entry for the requested gpt-4o ($100 / $100), it would be 110 × 100 = $0.011: refused.
  it('a budget reservation is priced at the overridden model, not a pricing entry for the requested name', async () => {
    upstream.enqueue('/v1/chat/completions', { json: { ...fixtureJson('openai/chat-completions.text.json'), model: 'gpt-4o-mini-2024-07-18' } });
    const started = await appFactories.express5!({
      env: {},
      config: {
        targets: [{ provider: 'openai', api_key: 'sk', custom_host: `${upstream.url}/v1`, override_params: { model: 'gpt-4o-mini' } }],
        budget: { max_cost_per_day: 0.001 },
      },
      pricing: { 'gpt-4o': { input: 100, output: 100 } },
    } as never);
    apps.push(started);
    const res = await post(started, '/v1/chat/completions', chat('gpt-4o', { max_tokens: 100 }));
    expect(res.status).toBe(200);
  });

  // A stream's cost must not depend on whether the client asked for usage: the model the usage chunk
  // reports is what is priced either way (without include_usage the deployment name was priced, and
  // found unpriced). Azure model-router (recorded): deployment "model-router" answers with
  // gpt-5-nano-2025-08-07 ($0.05 / $0.40 per MTok): 15 × 0.05 + 78 × 0.4 = 31.95 µUSD.
  it('azure model-router stream: the cost trailer prices the reported model without include_usage too', async () => {
    const chunks = sseFromJsonl(fixtureText('azure/chat-completions.model-router.chunks.jsonl'), { done: true });
    upstream.route('/openai/deployments/model-router/chat/completions', { chunks });
    const app = await gateway({ provider: 'azure-openai', api_key: 'az', custom_host: upstream.url, api_version: '2024-10-21' });
    const expected = calcPrice({ input_tokens: 15, output_tokens: 78 }, 'gpt-5-nano-2025-08-07', { providerId: 'azure' })!.total_price;
    expect(expected).toBeCloseTo(0.00003195, 12);

    const withUsage = await stream(app, chat('model-router', { stream: true, stream_options: { include_usage: true } }));
    expect(Number(withUsage.trailers['x-llmux-cost'])).toBeCloseTo(expected, 10);

    const without = await stream(app, chat('model-router', { stream: true }));
    expect(without.trailers['x-llmux-cost-status']).toBeUndefined();
    expect(Number(without.trailers['x-llmux-cost'])).toBeCloseTo(expected, 10);
  });
});

describe('budgets', () => {
  // The Gemini embeddings case seen through a budget: the answer's usage never arrived, so the docs say
  // it is charged the reservation — not $0, which would let the next request into a $0.000003 day
  // budget whose only request was never counted.
  it('an embeddings answer without usage is charged its reservation, not $0', async () => {
    const body = cassette('gemini/batchEmbedContents.cassette.yaml')[0]!.response.parsed_body;
    upstream.route('*', { json: body });
    const app = await appFactories.express5!({
      env: {},
      config: { targets: [{ provider: 'google', api_key: 'AIza', custom_host: `${upstream.url}/v1beta` }], budget: { max_cost_per_day: 0.000003 } },
    } as never);
    apps.push(app);
    // 'Hello, world!' = 13 bytes → reserved 13 × $0.15 / MTok = $0.00000195, under the $0.000003 limit.
    const first = await post(app, '/v1/embeddings', { model: 'gemini-embedding-001', input: 'Hello, world!' });
    expect(first.status).toBe(200);
    // Charged its reservation, $0.00000195 spent: a second such request (another $0.00000195) exceeds $0.000003.
    const second = await post(app, '/v1/embeddings', { model: 'gemini-embedding-001', input: 'Hello, world!' });
    expect(second.status).toBe(402);
  });

  // A budget reservation covers the web searches a request's search tool allows ($10 per 1000 for
  // claude-sonnet-4-5 in genai-prices): 'hi' with the tool reserves 8 + 2 + 65 (the tool's JSON) = 75 input
  // tokens at the 1-hour cache-write rate ($6 / MTok) and 100 output ($15 / MTok): 75 × 6 + 100 × 15 =
  // 1950 µUSD, under a $0.01 day budget; with `max_uses: 3` another 3 × $0.01 = $0.03 is reserved, over it.
  it('a budget reservation covers the web searches a search tool allows', async () => {
    const recorded = fixtureJson('anthropic/messages.text.json');
    upstream.route('/v1/messages', { json: recorded });
    const started = await appFactories.express5!({
      env: {},
      config: { targets: [{ provider: 'anthropic', api_key: 'sk-ant', custom_host: `${upstream.url}/v1` }], budget: { max_cost_per_day: 0.01 } },
    } as never);
    apps.push(started);
    const search = (maxUses: number) => chat('claude-sonnet-4-5', { max_tokens: 100, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: maxUses }] });
    const refused = await post(started, '/v1/chat/completions', search(3));
    expect(refused.status).toBe(402);
    expect(refused.json.error.requested).toBeGreaterThan(0.03);
    expect(upstream.requests).toHaveLength(0);
    const admitted = await post(started, '/v1/chat/completions', search(0));
    expect(admitted.status).toBe(200);
    expect(upstream.requests[0]!.json.tools).toEqual([{ type: 'web_search_20250305', name: 'web_search', max_uses: 0 }]);
  });

  // max_tokens_per_day for Cohere counts the 19 tokens Cohere billed for the recorded answer, not
  // `usage.tokens` (517, most of them Cohere's preamble and cache), as the Cohere cost test. Counting
  // 517 once refused the second request of a 200-token day budget.
  it('cohere: a token budget counts the billed tokens', async () => {
    const recorded = fixtureJson('cohere/chat-v2.text.json');
    upstream.route('/v2/chat', { json: recorded });
    const app = await appFactories.express5!({
      env: {},
      config: { targets: [{ provider: 'cohere', api_key: 'co', custom_host: `${upstream.url}/v2` }], budget: { max_tokens_per_day: 200 } },
    } as never);
    apps.push(app);
    // Each request reserves at most 8 + 2 + 20 = 30 tokens (input bound + max_tokens 20) and bills 19.
    for (let i = 0; i < 3; i++) {
      const res = await post(app, '/v1/chat/completions', chat('command-a-03-2025', { max_tokens: 20 }));
      expect(res.status).toBe(200);
    }
  });
});
