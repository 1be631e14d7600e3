import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type Gateway } from '@llmux/core';
import { cassette } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from '../../../../test/helpers/mock-upstream.js';

/**
 * A split embeddings request whose attempt fails after some calls answered was billed for those
 * calls: when a retry or fallback then answers, the budget, the record and `x-llmux-cost` count them
 * too, each priced at the model that billed it; the client's body keeps the answer's own usage.
 */

const TITAN_PATH = '/model/amazon.titan-embed-text-v2%3A0/invoke';
const TITAN = cassette('bedrock/invoke.titan-embed-v2.cassette.yaml')[0]!.response.parsed_body as { embedding: number[]; inputTextTokenCount: number };
/** Titan v2 and Cohere embed-v4.0, USD per token. */
const TITAN_PRICE = 0.02e-6;
const COHERE_PRICE = 0.12e-6;

let up: MockUpstream;
const gateways: Gateway[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(() => up.close());
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
  up.reset();
});

const bedrock = () => ({
  provider: 'bedrock',
  aws_access_key_id: 'AKIDEXAMPLE',
  aws_secret_access_key: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  aws_region: 'us-east-1',
  custom_host: up.url,
});
const cohere = () => ({ provider: 'cohere', api_key: 'co-key', custom_host: `${up.url}/v2`, override_params: { model: 'embed-v4.0' } });
const gemini = () => ({ provider: 'google', api_key: 'AIza-test', custom_host: `${up.url}/v1beta` });

/** Cohere answers 2 tokens per text. */
const cohereEcho = (req: RecordedRequest) => ({
  json: {
    id: 'x',
    texts: req.json.texts,
    embeddings: { float: (req.json.texts as string[]).map(() => [0.5, 0.25]) },
    meta: { billed_units: { input_tokens: 2 * req.json.texts.length } },
    response_type: 'embeddings_by_type',
  },
});
/** Titan refuses `t3` after the other calls answered (it waits for them). */
const titanFailsOnT3 = (req: RecordedRequest) =>
  req.json.inputText === 't3'
    ? { delayMs: 80, status: 429, headers: { 'x-amzn-errortype': 'ThrottlingException' }, json: { message: 'Too many requests' } }
    : { json: TITAN };

function start(config: Record<string, unknown>) {
  const records: Array<Record<string, any>> = [];
  const gw = createGateway({ config: config as never, adminKey: 'admin-k', onLog: (r) => void records.push(r as Record<string, any>) } as never);
  gateways.push(gw);
  return { gw, records };
}

const embed = (gw: Gateway, body: Record<string, unknown>) =>
  gw.handle({ method: 'POST', path: '/v1/embeddings', headers: { 'content-type': 'application/json' }, body: { encoding_format: 'float', ...body } });

async function spent(gw: Gateway): Promise<Record<string, number>> {
  const res = await gw.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin-k' } });
  return Object.fromEntries((res.body as { budgets: Array<{ metric: string; spent: number }> }).budgets.map((b) => [b.metric, b.spent]));
}

const input = ['t0', 't1', 't2', 't3'];
const budget = [{ max_tokens_per_day: 10_000 }, { max_cost_per_day: 1 }];

describe('embeddings billed part-way before another attempt answered', () => {
  it('a fallback answers: record, x-llmux-cost and budget add the Titan calls billed, at Titan\'s price; the body keeps Cohere\'s usage', async () => {
    const { gw, records } = start({ strategy: { mode: 'fallback' }, targets: [bedrock(), cohere()], budget });
    up.route(TITAN_PATH, titanFailsOnT3);
    up.route('/v2/embed', cohereEcho);
    const res = await embed(gw, { model: 'amazon.titan-embed-text-v2:0', input });
    expect(res.status).toBe(200);
    expect((res.body as { usage: unknown }).usage).toEqual({ prompt_tokens: 8, total_tokens: 8 });
    const titanTokens = 3 * TITAN.inputTextTokenCount;
    const cost = titanTokens * TITAN_PRICE + 8 * COHERE_PRICE;
    expect(Number(res.headers['x-llmux-cost'])).toBeCloseTo(cost, 12);
    const used = await spent(gw);
    expect(used.tokens).toBe(titanTokens + 8);
    expect(used.cost).toBeCloseTo(cost, 9);
    await gw.close();
    expect(records.at(-1)).toMatchObject({ usage: { input_tokens: titanTokens + 8, total_tokens: titanTokens + 8 } });
    expect(records.at(-1)!.cost_usd).toBeCloseTo(cost, 12);
  });

  it('a retry on the same target answers: each failed attempt\'s billed calls are added', async () => {
    const { gw } = start({ targets: [{ ...bedrock(), retry: { attempts: 2, on_status_codes: [429] } }], budget });
    let refusals = 0;
    up.route(TITAN_PATH, (req) => (req.json.inputText === 't3' && refusals++ < 2 ? titanFailsOnT3(req) : { json: TITAN }));
    const res = await embed(gw, { model: 'amazon.titan-embed-text-v2:0', input });
    expect(res.status).toBe(200);
    const answer = 4 * TITAN.inputTextTokenCount;
    const billed = 2 * 3 * TITAN.inputTextTokenCount;
    expect((res.body as { usage: unknown }).usage).toEqual({ prompt_tokens: answer, total_tokens: answer });
    expect(Number(res.headers['x-llmux-cost'])).toBeCloseTo((answer + billed) * TITAN_PRICE, 12);
    expect((await spent(gw)).tokens).toBe(answer + billed);
  });

  it('billed calls that reported no token count (Gemini) are charged the reservation on top of the answer', async () => {
    const { gw } = start({ strategy: { mode: 'fallback' }, targets: [gemini(), cohere()], budget: { max_tokens_per_day: 10_000 } });
    let n = 0;
    up.route('*', (req) =>
      n++ === 1
        ? { delayMs: 80, status: 429, json: { error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED' } } }
        : { json: { embeddings: (req.json.requests as unknown[]).map(() => ({ values: [0.5] })) } },
    );
    up.route('/v2/embed', cohereEcho);
    const texts = Array.from({ length: 150 }, (_, i) => `t${i}`);
    const res = await embed(gw, { model: 'gemini-embedding-001', input: texts });
    expect(res.status).toBe(200);
    // Cohere's 2 per text, and the reservation (the input's UTF-8 bytes, at least) for Gemini's first call.
    expect((await spent(gw)).tokens).toBeGreaterThanOrEqual(2 * texts.length + texts.join('').length);
  });

  it('with no attempt answering, the reservation is charged as before', async () => {
    const { gw } = start({ targets: [bedrock()], budget: { max_tokens_per_day: 10_000 } });
    up.route(TITAN_PATH, titanFailsOnT3);
    const res = await embed(gw, { model: 'amazon.titan-embed-text-v2:0', input }).catch((e: unknown) => e);
    expect((res as { status: number }).status).toBe(429);
    expect((await spent(gw)).tokens).toBeGreaterThan(0);
  });
});
