import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { zodFunction, zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, appPerTarget, type TestApp } from './helpers/apps.js';
import { eventStream, framesOf } from './helpers/bedrock-frames.js';
import { cassette, fixtureJson, fixtureText } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockReply, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';

/**
 * Structured outputs and JSON mode across providers: `response_format` json_object / json_schema
 * through `/v1/chat/completions` with the official `openai` SDK (`chat.completions.parse`,
 * `zodResponseFormat`, `.stream()`), routed to OpenAI, Mistral, Anthropic, Gemini, Bedrock and Cohere;
 * refusals; tools beside a response format; the cache. Upstreams are one recording mock on loopback
 * answering with recorded provider bodies (shared/fixtures).
 */

let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  await upstream?.close();
});

type Target = 'openai' | 'mistral' | 'anthropic' | 'google' | 'bedrock' | 'cohere';
const targets = (url: string): Record<Target, Record<string, unknown>> => ({
  openai: { provider: 'openai', api_key: 'sk-oa-structured', custom_host: `${url}/oa/v1` },
  mistral: { provider: 'mistral', api_key: 'mi-structured', custom_host: `${url}/mi/v1` },
  anthropic: { provider: 'anthropic', api_key: 'sk-ant-structured', custom_host: `${url}/v1` },
  google: { provider: 'google', api_key: 'AIza-structured', custom_host: `${url}/v1beta` },
  bedrock: { provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: url },
  cohere: { provider: 'cohere', api_key: 'co-structured', custom_host: `${url}/v2` },
});
const { clients } = appPerTarget(targets, () => upstream) as { clients: Record<Target, OpenAI> };

// Recorded answers.
const OPENAI_JSON = cassette('openai/chat-completions.json-schema.cassette.yaml')[1]!.response.parsed_body;
const GEMINI_JSON = cassette('gemini/generateContent.json-schema.cassette.yaml')[0]!.response.parsed_body;
const ANTHROPIC_JSON = fixtureJson('anthropic/messages.json-output-format.json');
const ANTHROPIC_JSON_CHUNKS = sseFromJsonl(fixtureText('anthropic/messages.json-output-format.chunks.jsonl'), { eventFromType: true });
const BEDROCK_STRUCTURED = framesOf('bedrock/converse-stream.structured-output.eventstream.bin');
const COHERE_TEXT = fixtureJson('cohere/chat-v2.text.json');
const MISTRAL_TEXT = fixtureJson('mistral/chat-completions.text.json');

/** Each provider's recorded structured (or plain) answer, by the path the request went to. */
function answer(req: RecordedRequest): MockReply {
  const p = req.path;
  if (p.startsWith('/oa/v1/chat/completions')) return { json: OPENAI_JSON };
  if (p.startsWith('/mi/v1/chat/completions')) {
    const json = structuredClone(MISTRAL_TEXT);
    json.choices[0].message.content = '{"city":"Paris"}';
    return { json };
  }
  if (p.startsWith('/v1/messages')) return req.json?.stream ? { chunks: ANTHROPIC_JSON_CHUNKS } : { json: ANTHROPIC_JSON };
  if (p.startsWith('/v1beta/')) return { json: GEMINI_JSON };
  if (p.startsWith('/model/')) {
    if (p.includes('converse-stream')) return eventStream(BEDROCK_STRUCTURED);
    const json = structuredClone(fixtureJson('bedrock/converse.text.json'));
    json.output.message.content = [{ text: '{"city":"Paris","country":"France","population":2161000}' }];
    return { json };
  }
  if (p.startsWith('/v2/chat')) {
    const json = structuredClone(COHERE_TEXT);
    json.message.content = [{ type: 'text', text: '{"city":"Paris"}' }];
    return { json };
  }
  return { status: 404, json: { error: { message: `no route for ${p}` } } };
}

beforeEach(() => {
  upstream.reset();
  upstream.route('*', answer);
});

const lastSent = (): any => upstream.requests.at(-1)?.json;
const hi = [{ role: 'user' as const, content: 'What is the largest city in Mexico?' }];
/** The wire form of a parseable response format (its `$parseRaw` is not enumerable). */
const wire = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));

const City = z.object({ city: z.string(), country: z.string() });

// ---------------------------------------------------------------------------------------------
// What is right today
// ---------------------------------------------------------------------------------------------
describe('OpenAI-compatible targets: structured output passes through', () => {
  it('openai: chat.completions.parse with zodResponseFormat sends response_format verbatim and parses the recorded answer', async () => {
    const format = zodResponseFormat(City, 'result');
    const res = await clients.openai.chat.completions.parse({ model: 'gpt-4o', messages: hi, response_format: format });
    expect(lastSent().response_format).toEqual(wire(format));
    expect(res.choices[0]!.message.parsed).toEqual({ city: 'Mexico City', country: 'Mexico' });
  });

  it('openai: the recorded request (tools + non-strict json_schema) goes out unchanged', async () => {
    const recorded = cassette('openai/chat-completions.json-schema.cassette.yaml')[1]!.request.parsed_body;
    const { model: _m, n: _n, stream: _s, ...rest } = recorded;
    await clients.openai.chat.completions.create({ model: 'gpt-4o', ...rest });
    const sent = lastSent();
    expect(sent.response_format).toEqual(recorded.response_format);
    expect(sent.tools).toEqual(recorded.tools);
  });

  it('openai: a refusal (non-stream) reaches parse() as message.refusal with nothing parsed', async () => {
    const refusal = "I'm sorry, I can't help with that.";
    upstream.enqueue('/oa/v1/chat/completions', {
      json: { ...OPENAI_JSON, choices: [{ index: 0, finish_reason: 'stop', logprobs: null, message: { role: 'assistant', content: null, refusal, annotations: [] } }] },
    });
    const res = await clients.openai.chat.completions.parse({ model: 'gpt-4o', messages: hi, response_format: zodResponseFormat(City, 'result') });
    expect(res.choices[0]!.message.refusal).toBe(refusal);
    expect(res.choices[0]!.message.parsed).toBeNull();
  });

  it('openai: a streamed refusal reaches the SDK stream helper as message.refusal', async () => {
    const head = { id: 'chatcmpl-refusal', object: 'chat.completion.chunk', created: 1746142582, model: 'gpt-4o-2024-08-06' };
    const chunk = (delta: object, finish: string | null = null) => `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    upstream.enqueue('/oa/v1/chat/completions', {
      chunks: [chunk({ role: 'assistant', content: null, refusal: '' }), chunk({ refusal: "I'm sorry, " }), chunk({ refusal: "I can't help with that." }), chunk({}, 'stop'), 'data: [DONE]\n\n'],
    });
    const stream = clients.openai.chat.completions.stream({ model: 'gpt-4o', messages: hi, response_format: zodResponseFormat(City, 'result') });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]!.message.refusal).toBe("I'm sorry, I can't help with that.");
    expect(final.choices[0]!.message.parsed).toBeNull();
  });

  it('mistral: json_schema (name, schema, strict) goes out as Mistral takes it', async () => {
    const format = { type: 'json_schema' as const, json_schema: { name: 'city', strict: true, schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } };
    const res = await clients.mistral.chat.completions.create({ model: 'mistral-small-latest', messages: hi, response_format: format });
    expect(lastSent().response_format).toEqual(format);
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({ city: 'Paris' });
  });
});

describe('translated targets: the structured-output field each provider documents', () => {
  it('anthropic: parse() → output_config.format, the JSON text block comes back parsed', async () => {
    const Recipe = z.object({ recipe: z.object({ name: z.string(), ingredients: z.array(z.object({ name: z.string(), amount: z.string() })), steps: z.array(z.string()) }) });
    const res = await clients.anthropic.chat.completions.parse({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'A lasagna recipe' }], response_format: zodResponseFormat(Recipe, 'recipe') });
    const sent = lastSent();
    expect(sent.output_config.format.type).toBe('json_schema');
    expect(sent.output_config.format.schema.properties.recipe.type).toBe('object');
    expect(sent.tools).toBeUndefined();
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.choices[0]!.message.parsed?.recipe.name).toBe('Classic Lasagna');
  });

  it('anthropic: the recorded structured-output stream assembles to JSON in the SDK stream helper', async () => {
    // The recording answers a list of RPG characters.
    const Characters = z.object({ characters: z.array(z.object({ name: z.string(), class: z.string(), description: z.string() })) });
    const stream = clients.anthropic.chat.completions.stream({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Three RPG characters' }], response_format: zodResponseFormat(Characters, 'characters') });
    const final = await stream.finalChatCompletion();
    expect(lastSent().stream).toBe(true);
    expect(lastSent().output_config.format.type).toBe('json_schema');
    expect(final.choices[0]!.finish_reason).toBe('stop');
    expect(final.choices[0]!.message.parsed?.characters[0]).toMatchObject({ name: 'Theron Ironheart', class: 'warrior' });
  });

  it('google: json_schema → responseMimeType + a sanitised responseSchema (no $schema / additionalProperties), recorded answer parsed', async () => {
    const res = await clients.google.chat.completions.parse({ model: 'gemini-2.0-flash', messages: hi, response_format: zodResponseFormat(City, 'CityLocation') });
    const cfg = lastSent().generationConfig;
    expect(cfg.responseMimeType).toBe('application/json');
    const schema = cfg.responseSchema ?? cfg.responseJsonSchema;
    expect(schema.properties.city.type).toMatch(/string/i);
    if (cfg.responseSchema) {
      expect(JSON.stringify(cfg.responseSchema)).not.toMatch(/"\$schema"|"additionalProperties"/);
      expect(cfg.responseSchema.propertyOrdering).toEqual(['city', 'country']);
    }
    expect(res.choices[0]!.message.parsed).toEqual({ city: 'Mexico City', country: 'Mexico' });
  });

  it('google: json_object → responseMimeType only', async () => {
    await clients.google.chat.completions.create({ model: 'gemini-2.0-flash', messages: hi, response_format: { type: 'json_object' } });
    const cfg = lastSent().generationConfig;
    expect(cfg.responseMimeType).toBe('application/json');
    expect(cfg.responseSchema).toBeUndefined();
  });

  it('bedrock: json_schema → outputConfig.textFormat as recorded (schema as a JSON string); the recorded stream assembles', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, country: { type: 'string' }, population: { type: 'integer' } }, required: ['city', 'country', 'population'], additionalProperties: false };
    const model = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
    const stream = await clients.bedrock.chat.completions.create({
      model,
      stream: true,
      messages: [{ role: 'user', content: 'What is the capital of France? Give me the city name, country, and population.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'CityInfo', description: 'Information about a city.', schema, strict: true } },
    });
    let content = '';
    for await (const c of stream) content += c.choices[0]?.delta.content ?? '';
    const sent = upstream.requests.at(-1)!;
    expect(sent.path).toBe(`/model/${encodeURIComponent(model)}/converse-stream`);
    const jsonSchema = sent.json.outputConfig.textFormat.structure.jsonSchema;
    expect(sent.json.outputConfig.textFormat.type).toBe('json_schema');
    expect(jsonSchema.name).toBe('CityInfo');
    expect(jsonSchema.description).toBe('Information about a city.');
    expect(JSON.parse(jsonSchema.schema)).toEqual(schema);
    expect(JSON.parse(content)).toEqual({ city: 'Paris', country: 'France', population: 2161000 });
  });

  it('cohere: json_schema → response_format {type:"json_object", json_schema}; json_object stays json_object', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const res = await clients.cohere.chat.completions.create({ model: 'command-a-03-2025', messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'city', schema } } });
    expect(lastSent().response_format).toEqual({ type: 'json_object', json_schema: schema });
    expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({ city: 'Paris' });
    await clients.cohere.chat.completions.create({ model: 'command-a-03-2025', messages: hi, response_format: { type: 'json_object' } });
    expect(lastSent().response_format).toEqual({ type: 'json_object' });
  });
});

describe('cache: a structured request is never answered with an entry made for another format', () => {
  let app: TestApp;
  let client: OpenAI;
  beforeEach(async () => {
    app = await appFactories.express5!({ env: {}, config: { cache: { mode: 'simple' }, targets: [targets(upstream.url).openai] } } as never);
    client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterEach(async () => {
    await app.close();
  });
  const calls = () => upstream.requests.filter((r) => r.path.startsWith('/oa/v1/chat/completions')).length;

  it('a plain-text entry does not answer the same prompt with json_schema; the json_schema entry answers a json_schema stream', async () => {
    upstream.enqueue('/oa/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const plain = await client.chat.completions.create({ model: 'gpt-4o', messages: hi }).withResponse();
    expect(plain.response.headers.get('x-llmux-cache')).toBe('MISS');

    const format = zodResponseFormat(City, 'result');
    const structured = await client.chat.completions.parse({ model: 'gpt-4o', messages: hi, response_format: format });
    expect(calls()).toBe(2);
    expect(structured.choices[0]!.message.parsed).toEqual({ city: 'Mexico City', country: 'Mexico' });

    // json_object is another format again: not the json_schema entry either.
    await client.chat.completions.create({ model: 'gpt-4o', messages: hi, response_format: { type: 'json_object' } });
    expect(calls()).toBe(3);

    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: hi, response_format: wire(format) as never, stream: true }).withResponse();
    expect(response.headers.get('x-llmux-cache')).toBe('HIT');
    let content = '';
    for await (const c of data) content += c.choices[0]?.delta.content ?? '';
    expect(JSON.parse(content)).toEqual({ city: 'Mexico City', country: 'Mexico' });
    expect(calls()).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------
// Bugs
// ---------------------------------------------------------------------------------------------

/** Keywords Anthropic's structured outputs do not support ("If you use an unsupported feature, you'll receive a 400 error"). */
const ANTHROPIC_UNSUPPORTED = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'maxItems'];

function anthropicSchemaProblems(s: unknown, at: string, out: string[] = []): string[] {
  if (typeof s !== 'object' || s === null) return out;
  const node = s as Record<string, unknown>;
  for (const k of ANTHROPIC_UNSUPPORTED) if (k in node) out.push(`${at}.${k}`);
  if (typeof node.minItems === 'number' && node.minItems > 1) out.push(`${at}.minItems=${node.minItems}`);
  for (const [k, v] of Object.entries((node.properties as Record<string, unknown>) ?? {})) anthropicSchemaProblems(v, `${at}.properties.${k}`, out);
  for (const key of ['$defs', 'definitions'] as const) for (const [k, v] of Object.entries((node[key] as Record<string, unknown>) ?? {})) anthropicSchemaProblems(v, `${at}.${key}.${k}`, out);
  if (node.items) anthropicSchemaProblems(node.items, `${at}.items`, out);
  for (const key of ['anyOf', 'allOf'] as const) if (Array.isArray(node[key])) (node[key] as unknown[]).forEach((v, i) => anthropicSchemaProblems(v, `${at}.${key}[${i}]`, out));
  return out;
}

/** Gemini's OpenAPI-subset schema: an OBJECT needs non-empty `properties` (400 "should be non-empty for OBJECT type"). */
function geminiEmptyObjects(s: unknown, at: string, out: string[] = []): string[] {
  if (typeof s !== 'object' || s === null) return out;
  const node = s as Record<string, unknown>;
  const props = node.properties as Record<string, unknown> | undefined;
  if (String(node.type).toLowerCase() === 'object' && (!props || Object.keys(props).length === 0)) out.push(`${at}.properties: should be non-empty for OBJECT type`);
  for (const [k, v] of Object.entries(props ?? {})) geminiEmptyObjects(v, `${at}.properties["${k}"]`, out);
  if (node.items) geminiEmptyObjects(node.items, `${at}.items`, out);
  if (Array.isArray(node.anyOf)) node.anyOf.forEach((v, i) => geminiEmptyObjects(v, `${at}.any_of[${i}]`, out));
  return out;
}

/** OpenAI strict mode: every object lists all its properties in `required` and sets additionalProperties false. */
function openAIStrictProblems(s: unknown, at: string, out: string[] = []): string[] {
  if (typeof s !== 'object' || s === null) return out;
  const node = s as Record<string, unknown>;
  const props = node.properties as Record<string, unknown> | undefined;
  if (props) {
    const required = Array.isArray(node.required) ? (node.required as string[]) : [];
    for (const k of Object.keys(props)) if (!required.includes(k)) out.push(`${at}: 'required' is missing '${k}'`);
    if (node.additionalProperties !== false) out.push(`${at}: additionalProperties must be false`);
    for (const [k, v] of Object.entries(props)) openAIStrictProblems(v, `${at}.properties.${k}`, out);
  }
  if (node.items) openAIStrictProblems(node.items, `${at}.items`, out);
  return out;
}

describe('schemas each provider accepts, strict tools', () => {
  // Guards: constraints outside Anthropic's structured-output subset (zod .min()/.max()) are moved into descriptions, not sent (400).
  it('anthropic: output_config.format carries only schema keywords Anthropic structured outputs accept', async () => {
    const Person = z.object({ name: z.string(), age: z.number().int().min(0).max(150), tags: z.array(z.string()).max(5) });
    await clients.anthropic.chat.completions
      .parse({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Extract: Ann, 34' }], response_format: zodResponseFormat(Person, 'person') })
      .catch(() => undefined);
    const format = lastSent().output_config?.format;
    // Either the schema is reduced to Anthropic's subset (as Anthropic's own SDKs do, constraints moved into
    // descriptions), or the answer goes through the json tool, whose input_schema takes any JSON schema.
    if (format) expect(anthropicSchemaProblems(format.schema, 'output_config.format.schema')).toEqual([]);
  });

  // Guards: a nested record falls back to responseJsonSchema instead of an OBJECT without properties in responseSchema (Gemini 400).
  it('google: a json_schema with a nested record is sent in a form Gemini accepts', async () => {
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'free-form labels' } },
      required: ['name', 'labels'],
    };
    await clients.google.chat.completions.create({ model: 'gemini-2.5-flash', messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'item', schema } } });
    const cfg = lastSent().generationConfig;
    if (cfg.responseSchema) expect(geminiEmptyObjects(cfg.responseSchema, 'response_schema')).toEqual([]);
    else expect(cfg.responseJsonSchema).toMatchObject({ properties: { labels: { additionalProperties: { type: 'string' } } } });
  });

  // Guards: a recursive $defs/$ref schema goes out as responseJsonSchema, not a responseSchema ending in an empty OBJECT.
  it('google: a recursive json_schema is sent in a form Gemini accepts', async () => {
    const schema = {
      $defs: {
        Node: { type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/$defs/Node' } } }, required: ['name', 'children'], additionalProperties: false },
      },
      $ref: '#/$defs/Node',
    };
    await clients.google.chat.completions.create({ model: 'gemini-2.5-flash', messages: hi, response_format: { type: 'json_schema', json_schema: { name: 'tree', schema, strict: true } } });
    const cfg = lastSent().generationConfig;
    if (cfg.responseSchema) expect(geminiEmptyObjects(cfg.responseSchema, 'response_schema')).toEqual([]);
    else expect(cfg.responseJsonSchema).toBeDefined();
  });

  // Guards: Gemini before 3 never gets functionDeclarations beside responseMimeType application/json (refused up front with a 400).
  it('google (gemini-2.5): tools + response_format are not sent as functionDeclarations + responseMimeType application/json', async () => {
    const before = upstream.requests.length;
    const outcome = await clients.google.chat.completions
      .create({
        model: 'gemini-2.5-flash',
        messages: hi,
        tools: [{ type: 'function', function: { name: 'get_user_country', parameters: { type: 'object', properties: { user: { type: 'string' } } } } }],
        response_format: { type: 'json_schema', json_schema: { name: 'result', schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      })
      .then(
        () => 'answered',
        (e: InstanceType<typeof OpenAI.APIError>) => e,
      );
    if (outcome !== 'answered') {
      // Refusing up front with a 400 naming the conflict is acceptable too.
      expect(outcome.status).toBe(400);
      expect(upstream.requests.length).toBe(before);
      return;
    }
    const sent = lastSent();
    const declares = (sent.tools ?? []).some((t: { functionDeclarations?: unknown[] }) => t.functionDeclarations?.length);
    expect(declares && sent.generationConfig?.responseMimeType === 'application/json').toBe(false);
  });

  // Guards: tools[].function.strict reaches Anthropic as strict: true (strict tool use).
  it('anthropic: a strict function tool stays strict', async () => {
    const tool = zodFunction({ name: 'get_weather', parameters: z.object({ city: z.string() }) });
    await clients.anthropic.chat.completions.create({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [tool] });
    expect(lastSent().tools[0]).toMatchObject({ name: 'get_weather', strict: true });
  });

  // Guards: tools[].function.strict reaches Bedrock Converse as toolSpec.strict.
  it('bedrock: a strict function tool stays strict in toolSpec', async () => {
    const tool = zodFunction({ name: 'get_weather', parameters: z.object({ city: z.string() }) });
    await clients.bedrock.chat.completions.create({ model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [tool] });
    expect(lastSent().toolConfig.tools[0].toolSpec).toMatchObject({ name: 'get_weather', strict: true });
  });
});

describe('/v1/messages output_config.format → OpenAI', () => {
  let app: TestApp;
  let anthropic: Anthropic;
  beforeEach(async () => {
    app = await appFactories.express5!({ env: {}, config: { targets: [targets(upstream.url).openai] } } as never);
    anthropic = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'unused', maxRetries: 0 });
  });
  afterEach(async () => {
    await app.close();
  });

  // Guards: a schema with optional properties is not sent strict (OpenAI strict mode would answer 400).
  it('/v1/messages → openai: output_config.format with an optional property is not sent as strict json_schema', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, nickname: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    };
    await anthropic.messages
      .create({ model: 'gpt-4o', max_tokens: 256, messages: [{ role: 'user', content: 'Largest city in Mexico?' }], output_config: { format: { type: 'json_schema', schema } } } as never)
      .catch(() => undefined);
    const format = lastSent().response_format;
    expect(format.type).toBe('json_schema');
    if (format.json_schema.strict === true) expect(openAIStrictProblems(format.json_schema.schema, 'schema')).toEqual([]);
  });
});
