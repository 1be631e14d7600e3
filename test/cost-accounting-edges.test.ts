/**
 * Cost and usage accounting, replayed from every recorded fixture that carries usage.
 *
 * Each case replays one recorded provider body or stream through the gateway (Express 5 adapter, mock
 * upstream on 127.0.0.1) and checks, against an independent figure computed here with
 * `@pydantic/genai-prices` from the fixture's own usage numbers (its `extractUsage` where the provider has
 * an extractor, then `calcPrice`):
 *   - the `x-llmux-cost` header (non-stream) or trailer (stream), and `usage.cost` when usage was asked for;
 *   - the usage the client sees;
 *   - the log record (`onLog`: `cost_usd`, `usage`), and the spend the budget counted (`GET /usage`).
 */
import { calcPrice, extractUsage, findProvider } from '@pydantic/genai-prices';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from './helpers/apps.js';
import { eventStream, framesOf } from './helpers/bedrock-frames.js';
import { cassette, fixtureJson, fixtureText, splitSse } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockReply, type MockUpstream } from './helpers/mock-upstream.js';
import { until } from './helpers/until.js';

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

const ADMIN = 'admin-key-cost-accounting-0001';

interface Started {
  app: TestApp;
  records: any[];
}

async function start(targets: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}, options: AppOptions = {}): Promise<Started> {
  const records: any[] = [];
  const app = await appFactories.express5!({
    env: {},
    adminKey: ADMIN,
    onLog: (r: unknown) => records.push(r),
    config: { targets, budget: [{ max_cost_per_day: 1000, max_tokens_per_day: 100_000_000 }], ...extra },
    ...options,
  } as never);
  apps.push(app);
  return { app, records };
}

async function post(app: TestApp, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(`${app.gatewayURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers as Record<string, string>, trailers: res.trailers as Record<string, string>, text };
}

async function usageView(app: TestApp): Promise<any> {
  const res = await request(`${app.gatewayURL}/usage`, { headers: { 'x-llmux-admin-key': ADMIN } });
  return res.body.json();
}

/** SSE `data:` payloads that are JSON objects. */
function dataEvents(text: string): any[] {
  const out: any[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (!line.startsWith('data: ')) continue;
    const payload = line.slice(6).trim();
    if (!payload.startsWith('{')) continue;
    out.push(JSON.parse(payload));
  }
  return out;
}

/** USD per genai-prices for a raw provider body (its extractor) priced as `model`. */
function dbPrice(providerId: string, raw: unknown, model: string, flavor?: string): { usd: number; usage: Record<string, number | undefined> } {
  const provider = findProvider({ providerId })!;
  const { usage } = extractUsage(provider, raw, flavor);
  const result = calcPrice(usage, model, { providerId });
  if (!result) throw new Error(`genai-prices has no price for ${providerId}/${model}`);
  return { usd: result.total_price, usage };
}

// ---------------------------------------------------------------------------------------------------
// Targets

const T = {
  openai: (u: string) => ({ provider: 'openai', api_key: 'sk-up', custom_host: `${u}/v1` }),
  azure: (u: string) => ({ provider: 'azure-openai', api_key: 'az-up', custom_host: u, resource_name: 'res', deployment_id: 'gpt-4o', api_version: '2024-12-01-preview' }),
  azureRouter: (u: string) => ({ provider: 'azure-openai', api_key: 'az-up', custom_host: u, resource_name: 'res', deployment_id: 'model-router', api_version: '2024-12-01-preview' }),
  anthropic: (u: string) => ({ provider: 'anthropic', api_key: 'sk-ant-up', custom_host: `${u}/v1` }),
  google: (u: string) => ({ provider: 'google', api_key: 'AIza-up', custom_host: `${u}/v1beta` }),
  vertex: (u: string) => ({ provider: 'vertex-ai', api_key: 'ya29.up', custom_host: `${u}/v1`, vertex_project_id: 'p', vertex_region: 'us-central1' }),
  bedrock: (u: string) => ({ provider: 'bedrock', api_key: 'bedrock-key', aws_region: 'us-east-1', custom_host: u }),
  cohere: (u: string) => ({ provider: 'cohere', api_key: 'co-up', custom_host: `${u}/v2` }),
  mistral: (u: string) => ({ provider: 'mistral', api_key: 'mi-up', custom_host: `${u}/v1` }),
  groq: (u: string) => ({ provider: 'groq', api_key: 'gsk-up', custom_host: `${u}/openai/v1` }),
  deepseek: (u: string) => ({ provider: 'deepseek', api_key: 'sk-ds', custom_host: u }),
  xai: (u: string) => ({ provider: 'xai', api_key: 'xai-up', custom_host: `${u}/v1` }),
  openrouter: (u: string) => ({ provider: 'openrouter', api_key: 'sk-or', custom_host: `${u}/api/v1` }),
};
type TargetName = keyof typeof T;

interface Case {
  name: string;
  target: TargetName;
  /** The model the client asks for. */
  model: string;
  reply: () => MockReply;
  /** Independent price and the usage (genai-prices keys) it came from. */
  expected: () => { usd: number; input: number; output: number };
  /** What the client's OpenAI usage must say (prompt and completion tokens), where the provider's own usage is not OpenAI's. */
  clientUsage?: { prompt_tokens: number; completion_tokens: number };
  body?: Record<string, unknown>;
}

const json = (v: unknown): MockReply => ({ json: v });
const parsed = (path: string, i = 0) => cassette(path)[i]!.response.parsed_body;
const sseOf = (raw: string): MockReply => ({ chunks: splitSse(raw) });

function fromDb(providerId: string, raw: unknown, model: string, flavor?: string) {
  return () => {
    const { usd, usage } = dbPrice(providerId, raw, model, flavor);
    return { usd, input: usage.input_tokens ?? 0, output: usage.output_tokens ?? 0 };
  };
}

// ---------------------------------------------------------------------------------------------------
// Non-stream chat fixtures

const NON_STREAM: Case[] = [
  (() => {
    const b = fixtureJson('openai/chat-completions.text.json');
    return { name: 'openai text', target: 'openai', model: 'gpt-4.1-nano', reply: () => json(b), expected: fromDb('openai', b, b.model, 'chat') } as Case;
  })(),
  ...[0, 1].map((i): Case => {
    const b = parsed('openai/chat-completions.tool-call.cassette.yaml', i);
    return { name: `openai tool-call cassette[${i}] (reasoning tokens)`, target: 'openai', model: 'gpt-5-mini', reply: () => json(b), expected: fromDb('openai', b, b.model, 'chat') };
  }),
  (() => {
    const b = parsed('openai/chat-completions.json-schema.cassette.yaml');
    return { name: 'openai json-schema cassette', target: 'openai', model: 'gpt-4o', reply: () => json(b), expected: fromDb('openai', b, b.model, 'chat') } as Case;
  })(),
  (() => {
    const b = parsed('azure/chat-completions.text.cassette.yaml');
    return { name: 'azure deployment gpt-4o → reported gpt-4o-2024-11-20', target: 'azure', model: 'gpt-4o', reply: () => json(b), expected: fromDb('azure', b, b.model, 'chat') } as Case;
  })(),
  ...['messages.text.json', 'messages.thinking.json', 'messages.tool-use.json', 'messages.tool-no-args.json', 'messages.json-output-format.json'].map((f): Case => {
    const b = fixtureJson(`anthropic/${f}`);
    const u = b.usage;
    const prompt = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
    return {
      name: `anthropic ${f}`,
      target: 'anthropic',
      model: b.model,
      reply: () => json(b),
      expected: fromDb('anthropic', b, b.model),
      clientUsage: { prompt_tokens: prompt, completion_tokens: u.output_tokens },
      body: { max_tokens: 4096 },
    };
  }),
  ...[0, 1].map((i): Case => {
    const b = parsed('anthropic/messages.tool-use.cassette.yaml', i);
    return { name: `anthropic tool-use cassette[${i}]`, target: 'anthropic', model: b.model, reply: () => json(b), expected: fromDb('anthropic', b, b.model), body: { max_tokens: 1024 } };
  }),
  ...['generateContent.text.json', 'generateContent.thinking.json', 'generateContent.tool-call.json'].map((f): Case => {
    const b = fixtureJson(`gemini/${f}`);
    const m = b.usageMetadata;
    return {
      name: `gemini ${f} (thoughtsTokenCount)`,
      target: 'google',
      model: b.modelVersion,
      reply: () => json(b),
      expected: fromDb('google', b, b.modelVersion),
      clientUsage: { prompt_tokens: m.promptTokenCount, completion_tokens: (m.candidatesTokenCount ?? 0) + (m.thoughtsTokenCount ?? 0) },
    };
  }),
  ...[0, 1].map((i): Case => {
    const b = parsed('gemini/generateContent.tool-call.cassette.yaml', i);
    return { name: `gemini tool-call cassette[${i}]`, target: 'google', model: b.modelVersion, reply: () => json(b), expected: fromDb('google', b, b.modelVersion) };
  }),
  (() => {
    const b = parsed('gemini/generateContent.json-schema.cassette.yaml');
    return { name: 'gemini json-schema cassette', target: 'google', model: b.modelVersion, reply: () => json(b), expected: fromDb('google', b, b.modelVersion) } as Case;
  })(),
  ...['generateContent.function-call.recording.json', 'generateContent.response-json-schema.recording.json'].map((f): Case => {
    const b = fixtureJson(`gemini/${f}`).interactions[0].response.bodySegments[0];
    return { name: `gemini ${f}`, target: 'google', model: b.modelVersion, reply: () => json(b), expected: fromDb('google', b, b.modelVersion) };
  }),
  ...(['converse.text.json', 'converse.reasoning.json'] as const).map((f): Case => {
    const b = fixtureJson(`bedrock/${f}`);
    const model = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
    return { name: `bedrock ${f} (${model})`, target: 'bedrock', model, reply: () => json(b), expected: fromDb('aws', b, model) };
  }),
  ...[0, 1].map((i): Case => {
    const b = parsed('bedrock/converse.tool-use.cassette.yaml', i);
    const model = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
    return { name: `bedrock converse tool-use cassette[${i}]`, target: 'bedrock', model, reply: () => json(b), expected: fromDb('aws', b, model) };
  }),
  (() => {
    const b = fixtureJson('bedrock/converse.text.json');
    const model = 'us.amazon.nova-micro-v1:0';
    return { name: `bedrock converse.text.json (${model})`, target: 'bedrock', model, reply: () => json(b), expected: fromDb('aws', b, model) } as Case;
  })(),
  ...['chat-completions.text.json', 'chat-completions.tool-call.json'].map((f): Case => {
    const b = fixtureJson(`mistral/${f}`);
    return { name: `mistral ${f}`, target: 'mistral', model: b.model, reply: () => json(b), expected: fromDb('mistral', b, b.model) };
  }),
  ...[0, 1].map((i): Case => {
    const b = parsed('mistral/chat-completions.tool-call.cassette.yaml', i);
    return { name: `mistral tool-call cassette[${i}]`, target: 'mistral', model: b.model, reply: () => json(b), expected: fromDb('mistral', b, b.model) };
  }),
  ...['chat-v2.text.json', 'chat-v2.tool-call.json', 'chat-v2.citations.json', 'chat-v2.max-tokens.json'].map((f): Case => {
    const b = fixtureJson(`cohere/${f}`);
    const model = 'command-a-03-2025';
    return {
      name: `cohere ${f} (billed units)`,
      target: 'cohere',
      model,
      reply: () => json(b),
      expected: fromDb('cohere', b, model),
      clientUsage: { prompt_tokens: b.usage.billed_units.input_tokens, completion_tokens: b.usage.billed_units.output_tokens },
    };
  }),
  ...[0, 1].map((i): Case => {
    const b = parsed('cohere/chat-v2.tool-call.cassette.yaml', i);
    const model = 'command-a-03-2025';
    return { name: `cohere tool-call cassette[${i}]`, target: 'cohere', model, reply: () => json(b), expected: fromDb('cohere', b, model) };
  }),
  ...['chat-completions.text.json', 'chat-completions.tool-call.json'].map((f): Case => {
    const b = fixtureJson(`groq/${f}`);
    return { name: `groq ${f}`, target: 'groq', model: b.model, reply: () => json(b), expected: fromDb('groq', b, b.model) };
  }),
  ...['chat-completions.reasoning.json', 'chat-completions.json-mode.json', 'chat-completions.tool-call.json'].map((f): Case => {
    const b = fixtureJson(`deepseek/${f}`);
    return { name: `deepseek ${f} (cache hits, reasoning)`, target: 'deepseek', model: b.model, reply: () => json(b), expected: fromDb('deepseek', b, b.model, 'chat') };
  }),
  ...['chat-completions.text.json', 'chat-completions.tool-call.json'].map((f): Case => {
    const b = fixtureJson(`xai/${f}`);
    // xAI states its own charge: `cost_in_usd_ticks` (1e-10 USD). The database agrees with it here.
    return {
      name: `xai ${f} (reasoning outside completion_tokens, cached prompt)`,
      target: 'xai',
      model: b.model,
      reply: () => json(b),
      expected: () => {
        const db = fromDb('x-ai', b, b.model, 'chat')();
        expect(db.usd).toBeCloseTo(b.usage.cost_in_usd_ticks * 1e-10, 12);
        return db;
      },
    };
  }),
];

describe('non-stream fixtures: x-llmux-cost, client usage, log record and budget spend', () => {
  it.each(NON_STREAM.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    upstream.route('*', c.reply());
    const { app, records } = await start([T[c.target](upstream.url)]);
    const res = await post(app, '/v1/chat/completions', { model: c.model, messages: [{ role: 'user', content: 'hi' }], ...c.body });
    expect(res.status, res.text).toBe(200);
    const exp = c.expected();
    expect(res.headers['x-llmux-cost-status']).toBeUndefined();
    expect(Number(res.headers['x-llmux-cost'])).toBeCloseTo(exp.usd, 10);
    const body = JSON.parse(res.text);
    if (c.clientUsage) expect(body.usage).toMatchObject(c.clientUsage);
    // The log record.
    expect(await until(() => records.length === 1)).toBe(true);
    expect(records[0].cost_usd).toBeCloseTo(exp.usd, 12);
    expect(records[0].usage.input_tokens).toBe(exp.input);
    expect(records[0].usage.output_tokens).toBe(exp.output);
    // The budget counted the same.
    const view = await usageView(app);
    const cost = view.budgets.find((b: any) => b.metric === 'cost');
    const tokens = view.budgets.find((b: any) => b.metric === 'tokens');
    expect(cost.spent).toBeCloseTo(exp.usd, 9);
    expect(cost.reserved).toBe(0);
    expect(tokens.spent).toBe(exp.input + exp.output);
  });
});

// ---------------------------------------------------------------------------------------------------
// Stream fixtures

/** The last `usage` an OpenAI-shaped stream carries (SSE text or JSON lines). */
function lastUsage(lines: any[]): any {
  let usage: any;
  let model: string | undefined;
  for (const l of lines) {
    if (l.usage) usage = l.usage;
    if (l.model) model = l.model;
  }
  return { usage, model };
}
const jsonl = (path: string) => fixtureText(path).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

/** Anthropic: `message_start` usage, overwritten field by field by `message_delta`'s. */
function anthropicUsage(events: any[]): { usage: any; model: string } {
  let usage: any = {};
  let model = '';
  for (const e of events) {
    if (e.type === 'message_start') {
      usage = { ...e.message.usage };
      model = e.message.model;
    }
    if (e.type === 'message_delta') for (const [k, v] of Object.entries(e.usage ?? {})) if (v != null) usage[k] = v;
  }
  return { usage, model };
}

interface StreamCase {
  name: string;
  target: TargetName;
  model: string;
  reply: () => MockReply;
  expected: () => { usd: number; input: number; output: number };
  body?: Record<string, unknown>;
}

const priced = (providerId: string, raw: unknown, model: string, flavor?: string) => fromDb(providerId, raw, model, flavor);

const STREAMS: StreamCase[] = [
  ...['chat-completions.text.stream-include-usage.sse', 'chat-completions.tool-call.stream-include-usage.sse'].map((f): StreamCase => {
    const raw = fixtureText(`openai/${f}`);
    const { usage, model } = lastUsage(dataEvents(raw));
    return { name: `openai ${f}`, target: 'openai', model: 'gpt-4o-mini', reply: () => sseOf(raw), expected: priced('openai', { usage }, model!, 'chat') };
  }),
  (() => {
    const lines = jsonl('azure/chat-completions.model-router.chunks.jsonl');
    const { usage, model } = lastUsage(lines);
    return {
      name: 'azure model-router chunks (reasoning tokens, reported model)',
      target: 'azureRouter',
      model: 'model-router',
      reply: () => ({ chunks: sseFromJsonl(fixtureText('azure/chat-completions.model-router.chunks.jsonl'), { done: true }) }),
      expected: priced('azure', { usage }, model!, 'chat'),
    } as StreamCase;
  })(),
  ...[
    'messages.text.stream.sse',
    'messages.thinking.stream.sse',
    'messages.redacted-thinking.stream.sse',
    'messages.server-tool-code-execution.stream.sse',
    'messages.tool-use-after-tool-search.stream.sse',
    'messages.parallel-tool-use.stream.sse',
  ].map((f): StreamCase => {
    const raw = fixtureText(`anthropic/${f}`);
    const { usage, model } = anthropicUsage(dataEvents(raw));
    return { name: `anthropic ${f}`, target: 'anthropic', model, reply: () => sseOf(raw), expected: priced('anthropic', { usage }, model), body: { max_tokens: 4096 } };
  }),
  ...['messages.text.chunks.jsonl', 'messages.tool-use.chunks.jsonl', 'messages.tool-no-args.chunks.jsonl', 'messages.json-output-format.chunks.jsonl'].map((f): StreamCase => {
    const text = fixtureText(`anthropic/${f}`);
    const { usage, model } = anthropicUsage(jsonl(`anthropic/${f}`));
    return {
      name: `anthropic ${f}`,
      target: 'anthropic',
      model,
      reply: () => ({ chunks: sseFromJsonl(text, { eventFromType: true }) }),
      expected: priced('anthropic', { usage }, model),
      body: { max_tokens: 4096 },
    };
  }),
  ...[
    'streamGenerateContent.text.sse',
    'streamGenerateContent.tool-call.sse',
    'streamGenerateContent.after-function-response.sse',
    'streamGenerateContent.thinking.sse',
  ].map((f): StreamCase => {
    const raw = fixtureText(`gemini/${f}`);
    const events = dataEvents(raw);
    const last = [...events].reverse().find((e) => e.usageMetadata);
    return { name: `gemini ${f}`, target: 'google', model: last.modelVersion, reply: () => sseOf(raw), expected: priced('google', last, last.modelVersion) };
  }),
  (() => {
    const raw = fixtureText('gemini/vertex.streamGenerateContent.sse');
    const last = [...dataEvents(raw)].reverse().find((e) => e.usageMetadata);
    return { name: 'vertex streamGenerateContent.sse (thoughts, flex)', target: 'vertex', model: last.modelVersion, reply: () => sseOf(raw), expected: priced('google', last, last.modelVersion) } as StreamCase;
  })(),
  ...['streamGenerateContent.text.chunks.jsonl', 'streamGenerateContent.thinking.chunks.jsonl', 'streamGenerateContent.tool-call.chunks.jsonl'].map((f): StreamCase => {
    const lines = jsonl(`gemini/${f}`);
    const last = [...lines].reverse().find((e) => e.usageMetadata);
    return {
      name: `gemini ${f}`,
      target: 'google',
      model: last.modelVersion,
      reply: () => ({ chunks: sseFromJsonl(fixtureText(`gemini/${f}`)) }),
      expected: priced('google', last, last.modelVersion),
    };
  }),
  ...(['streamGenerateContent.recording.json', 'vertex.streamGenerateContent.recording.json'] as const).map((f): StreamCase => {
    const segments = fixtureJson(`gemini/${f}`).interactions[0].response.bodySegments as any[];
    const last = [...segments].reverse().find((e) => e.usageMetadata?.promptTokenCount !== undefined);
    return {
      name: `gemini ${f}`,
      target: f.startsWith('vertex') ? 'vertex' : 'google',
      model: last.modelVersion,
      reply: () => ({ chunks: segments.map((s) => `data: ${JSON.stringify(s)}\r\n\r\n`) }),
      expected: priced('google', last, last.modelVersion),
    };
  }),
  ...(
    [
      ['converse-stream.text.eventstream.bin', 'us.amazon.nova-micro-v1:0'],
      ['converse-stream.tool-use.eventstream.bin', 'us.amazon.nova-micro-v1:0'],
      ['converse-stream.after-tool-result.eventstream.bin', 'us.amazon.nova-micro-v1:0'],
      ['converse-stream.reasoning.eventstream.bin', 'us.anthropic.claude-sonnet-4-20250514-v1:0'],
      ['converse-stream.structured-output.eventstream.bin', 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'],
    ] as const
  ).map(([f, model]): StreamCase => {
    const frames = framesOf(`bedrock/${f}`);
    const usage = frames.find((fr) => fr.event === 'metadata')!.body.usage;
    return { name: `bedrock ${f} (${model})`, target: 'bedrock', model, reply: () => eventStream(framesOf(`bedrock/${f}`)), expected: priced('aws', { usage }, model) };
  }),
  ...['chat-completions.text.chunks.jsonl', 'chat-completions.tool-call.chunks.jsonl', 'chat-completions.reasoning.chunks.jsonl'].map((f): StreamCase => {
    const { usage, model } = lastUsage(jsonl(`mistral/${f}`));
    return { name: `mistral ${f}`, target: 'mistral', model: model!, reply: () => ({ chunks: sseFromJsonl(fixtureText(`mistral/${f}`), { done: true }) }), expected: priced('mistral', { usage }, model!) };
  }),
  (() => {
    const raw = fixtureText('mistral/chat-completions.thinking.stream.sse');
    const { usage, model } = lastUsage(dataEvents(raw));
    return { name: 'mistral thinking.stream.sse', target: 'mistral', model: model!, reply: () => sseOf(raw), expected: priced('mistral', { usage }, model!) } as StreamCase;
  })(),
  ...['chat-v2.text.chunks.jsonl', 'chat-v2.tool-call.chunks.jsonl', 'chat-v2.empty-tool-call.chunks.jsonl', 'chat-v2.reasoning.chunks.jsonl'].map((f): StreamCase => {
    const end = jsonl(`cohere/${f}`).find((e) => e.type === 'message-end');
    const model = 'command-a-03-2025';
    return {
      name: `cohere ${f}`,
      target: 'cohere',
      model,
      reply: () => ({ chunks: sseFromJsonl(fixtureText(`cohere/${f}`), { eventFromType: true }) }),
      expected: priced('cohere', { usage: end.delta.usage }, model),
    };
  }),
  (() => {
    const { usage, model } = lastUsage(jsonl('groq/chat-completions.tool-call.chunks.jsonl'));
    return {
      name: 'groq tool-call chunks',
      target: 'groq',
      model: model!,
      reply: () => ({ chunks: sseFromJsonl(fixtureText('groq/chat-completions.tool-call.chunks.jsonl'), { done: true }) }),
      expected: priced('groq', { usage }, model!),
    } as StreamCase;
  })(),
  (() => {
    const raw = fixtureText('deepseek/chat-completions.reasoning.stream.sse');
    const { usage, model } = lastUsage(dataEvents(raw));
    return { name: 'deepseek reasoning.stream.sse', target: 'deepseek', model: model!, reply: () => sseOf(raw), expected: priced('deepseek', { usage }, model!, 'chat') } as StreamCase;
  })(),
  (() => {
    const { usage, model } = lastUsage(jsonl('deepseek/chat-completions.tool-call.chunks.jsonl'));
    return {
      name: 'deepseek tool-call chunks (cache hits)',
      target: 'deepseek',
      model: model!,
      reply: () => ({ chunks: sseFromJsonl(fixtureText('deepseek/chat-completions.tool-call.chunks.jsonl'), { done: true }) }),
      expected: priced('deepseek', { usage }, model!, 'chat'),
    } as StreamCase;
  })(),
  ...['chat-completions.text.chunks.jsonl', 'chat-completions.tool-call.chunks.jsonl'].map((f): StreamCase => {
    const { usage, model } = lastUsage(jsonl(`xai/${f}`));
    return {
      name: `xai ${f}`,
      target: 'xai',
      model: model!,
      reply: () => ({ chunks: sseFromJsonl(fixtureText(`xai/${f}`), { done: true }) }),
      expected: () => {
        const db = priced('x-ai', { usage }, model!, 'chat')();
        expect(db.usd).toBeCloseTo(usage.cost_in_usd_ticks * 1e-10, 12);
        return db;
      },
    };
  }),
];

describe('stream fixtures: cost trailer, usage.cost, no usage leaked, log record and budget spend', () => {
  it.each(STREAMS.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    upstream.route('*', c.reply());
    const { app, records } = await start([T[c.target](upstream.url)]);
    const exp = c.expected();
    const base = { model: c.model, stream: true, messages: [{ role: 'user', content: 'hi' }], ...c.body };

    // Without include_usage: no usage reaches the client, the cost comes as a trailer.
    const plain = await post(app, '/v1/chat/completions', base);
    expect(plain.status, plain.text).toBe(200);
    expect(plain.text).not.toContain('"error"');
    const plainChunks = dataEvents(plain.text);
    expect(plainChunks.filter((ch) => ch.usage != null)).toEqual([]);
    // No usage-only chunk the client did not ask for (Azure's own first chunk, `prompt_filter_results`, is not one).
    expect(plainChunks.filter((ch) => Array.isArray(ch.choices) && ch.choices.length === 0 && !ch.prompt_filter_results)).toEqual([]);
    expect(plain.trailers['x-llmux-cost-status']).toBeUndefined();
    expect(Number(plain.trailers['x-llmux-cost'])).toBeCloseTo(exp.usd, 10);

    // With include_usage: one usage chunk, last, with the same cost.
    const asked = await post(app, '/v1/chat/completions', { ...base, stream_options: { include_usage: true } });
    expect(asked.status, asked.text).toBe(200);
    const usageChunks = dataEvents(asked.text).filter((ch) => ch.usage != null);
    expect(usageChunks).toHaveLength(1);
    expect(usageChunks[0].usage.cost).toBeCloseTo(exp.usd, 10);
    expect(Number(asked.trailers['x-llmux-cost'])).toBeCloseTo(exp.usd, 10);

    // Records and the budget: two requests, each costed the same.
    expect(await until(() => records.length === 2)).toBe(true);
    for (const r of records) {
      expect(r.cost_usd).toBeCloseTo(exp.usd, 12);
      expect(r.usage.input_tokens).toBe(exp.input);
      expect(r.usage.output_tokens).toBe(exp.output);
    }
    const view = await usageView(app);
    const cost = view.budgets.find((b: any) => b.metric === 'cost');
    const tokens = view.budgets.find((b: any) => b.metric === 'tokens');
    expect(cost.spent).toBeCloseTo(2 * exp.usd, 9);
    expect(cost.reserved).toBe(0);
    expect(tokens.spent).toBe(2 * (exp.input + exp.output));
  });
});

// ---------------------------------------------------------------------------------------------------
// Edges

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const budgetRow = (view: any, metric: 'cost' | 'tokens') => view.budgets.find((b: any) => b.metric === metric);

describe('edges (exploration 2)', () => {
  it('openrouter error chunk carrying usage', async () => {
    const raw = fixtureText('openrouter/chat-completions.stream-comments-and-error.sse').replaceAll('minimax/minimax-m2:free', 'minimax/minimax-m2');
    upstream.route('*', sseOf(raw));
    const { app, records } = await start([T.openrouter(upstream.url)]);
    const s = await post(app, '/v1/chat/completions', chat('minimax/minimax-m2', { stream: true, max_tokens: 100 }));
    console.log('or', s.status, s.trailers, s.text.slice(-300));
    await until(() => records.length === 1);
    console.log(records[0].usage, records[0].cost_usd, records[0].cost_status, records[0].outcome);
    console.log(JSON.stringify((await usageView(app)).budgets.map((b: any) => [b.metric, b.spent])));
    console.log(calcPrice({ input_tokens: 43, output_tokens: 10 }, 'minimax/minimax-m2', { providerId: 'openrouter' })!.total_price);
  });

  it('azure model-router under a budget', async () => {
    const chunks = sseFromJsonl(fixtureText('azure/chat-completions.model-router.chunks.jsonl'), { done: true });
    upstream.route('*', { chunks });
    const { app } = await start([T.azureRouter(upstream.url)], { budget: { max_cost_per_day: 0.00004 } });
    for (let i = 0; i < 4; i++) {
      const s = await post(app, '/v1/chat/completions', chat('model-router', { stream: true, max_tokens: 100 }));
      console.log('router', i, s.status, s.trailers);
    }
    console.log(JSON.stringify((await usageView(app)).budgets));
  });

  it('unpriced model under a cost budget', async () => {
    const b = { ...fixtureJson('openai/chat-completions.text.json'), model: 'gpt-7-preview', usage: { prompt_tokens: 1_000_000, completion_tokens: 1_000_000, total_tokens: 2_000_000 } };
    upstream.route('*', json(b));
    const { app } = await start([T.openai(upstream.url)], { budget: { max_cost_per_day: 1 } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(app, '/v1/chat/completions', chat('gpt-7-preview'))).status);
    console.log('unpriced budget', statuses);
  });

  it('/v1/messages passthrough anthropic with cache', async () => {
    const b = { ...fixtureJson('anthropic/messages.text.json'), usage: { input_tokens: 50, cache_creation_input_tokens: 3000, cache_read_input_tokens: 20000, cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 }, output_tokens: 500 } };
    upstream.route('*', json(b));
    const { app, records } = await start([T.anthropic(upstream.url)]);
    const m = await post(app, '/v1/messages', { model: b.model, max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] }, { 'anthropic-version': '2023-06-01' });
    console.log('passthrough', m.status, m.headers['x-llmux-cost'], dbPrice('anthropic', b, b.model).usd, JSON.parse(m.text).usage);
    await until(() => records.length === 1);
    console.log(records[0].usage, records[0].cost_usd);
  });

  it('402 refusal carries x-llmux-cost 0', async () => {
    upstream.route('*', json(fixtureJson('openai/chat-completions.text.json')));
    const { app } = await start([T.openai(upstream.url)], { budget: { max_cost_per_day: 0.0000001 } });
    const r = await post(app, '/v1/chat/completions', chat('gpt-4.1-nano', { max_tokens: 1000 }));
    console.log('402', r.status, r.headers['x-llmux-cost']);
  });

  it('koa and nest trailers', async () => {
    for (const name of ['koa3', 'koa2', 'nestjs', 'express4']) {
      upstream.reset();
      upstream.route('*', sseOf(fixtureText('openai/chat-completions.text.stream-include-usage.sse')));
      const app = await appFactories[name]!({ env: {}, config: { targets: [T.openai(upstream.url)] } } as never);
      apps.push(app);
      const s = await post(app, '/v1/chat/completions', chat('gpt-4o-mini', { stream: true }));
      console.log(name, s.status, s.trailers, s.headers['trailer']);
    }
  });
});
