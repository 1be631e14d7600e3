/**
 * Adversarial review: complete multi-turn tool loops (user → assistant tool_calls → tool results →
 * final answer) with the official `openai` SDK against the gateway's /v1/chat/completions, routed to
 * Anthropic, Gemini, Bedrock Converse, Cohere v2 and Mistral. The mock upstream validates every
 * request against the rules of the provider's documented API (tool_result pairing and ids, Gemini
 * functionResponse names and schema subset, Bedrock toolUse/toolResult ids and toolConfig, Cohere
 * tool_call_id, Mistral 9-char ids and its strict per-message fields) and answers with the recorded
 * fixtures' shapes; a violation answers the provider's own 400/422, so the SDK raises it.
 *
 * Tests under `describe('bugs')` assert the correct behaviour and fail today; each carries a
 * `// BUG:` line. The rest pin behaviour that was checked and is right.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { eventStream, framesOf } from './helpers/bedrock-frames.js';
import { cassette, fixtureBytes, fixtureJson, fixtureText } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockReply, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';

type Provider = 'anthropic' | 'google' | 'bedrock' | 'cohere' | 'mistral';
const PROVIDERS: Provider[] = ['anthropic', 'google', 'bedrock', 'cohere', 'mistral'];
const MODEL: Record<Provider, string> = {
  anthropic: 'claude-sonnet-4-5',
  google: 'gemini-3-pro-preview',
  bedrock: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
  cohere: 'command-a-03-2025',
  mistral: 'mistral-large-latest',
};

let upstream: MockUpstream;
const apps: TestApp[] = [];
const clients = {} as Record<Provider | 'fallback', OpenAI>;
/** Replies per provider, consumed in order (validated first: an invalid request never reaches them). */
const script: Record<Provider, Array<MockReply | ((r: RecordedRequest) => MockReply)>> = { anthropic: [], google: [], bedrock: [], cohere: [], mistral: [] };
/** Every problem a validator found, per provider, for assertions and failure messages. */
const problems: Record<Provider, string[]> = { anthropic: [], google: [], bedrock: [], cohere: [], mistral: [] };

const target = (p: Provider, url: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...{
    anthropic: { provider: 'anthropic', api_key: 'sk-ant-up', custom_host: `${url}/v1` },
    google: { provider: 'google', api_key: 'AIza-up', custom_host: `${url}/v1beta` },
    bedrock: { provider: 'bedrock', api_key: 'bedrock-key', aws_region: 'us-east-1', custom_host: url },
    cohere: { provider: 'cohere', api_key: 'co-up', custom_host: `${url}/v2` },
    mistral: { provider: 'mistral', api_key: 'mi-up', custom_host: `${url}/v1` },
  }[p],
  ...extra,
});

function providerOf(path: string): Provider {
  if (path.startsWith('/v1/messages')) return 'anthropic';
  if (path.startsWith('/v1beta/')) return 'google';
  if (path.startsWith('/model/')) return 'bedrock';
  if (path.startsWith('/v2/chat')) return 'cohere';
  return 'mistral';
}

// ------------------------------------------------------------------------------------------------
// What each provider's API requires of a request (documented rules; see the fixtures README).
// ------------------------------------------------------------------------------------------------
const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkAnthropic(b: any): string[] {
  const out: string[] = [];
  const msgs: any[] = b.messages ?? [];
  msgs.forEach((m, i) => {
    if (i > 0 && msgs[i - 1].role === m.role) out.push(`messages.${i}: roles must alternate`);
    const blocks: any[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (!blocks?.length) out.push(`messages.${i}: all messages must have non-empty content`);
    for (const bl of blocks ?? []) if (bl.type === 'text' && !bl.text) out.push(`messages.${i}: text content blocks must be non-empty`);
    const uses = (blocks ?? []).filter((x) => x.type === 'tool_use');
    for (const u of uses) {
      if (!isObj(u.input)) out.push(`messages.${i}.tool_use.input: Input should be a valid dictionary`);
      if (!/^[a-zA-Z0-9_-]+$/.test(u.id)) out.push(`messages.${i}.tool_use.id: bad id ${u.id}`);
    }
    if (m.role === 'assistant' && uses.length) {
      const next = msgs[i + 1];
      const nb: any[] = Array.isArray(next?.content) ? next.content : [];
      const results = nb.filter((x) => x.type === 'tool_result').map((x) => x.tool_use_id);
      const missing = uses.map((u) => u.id).filter((id) => !results.includes(id));
      if (missing.length) out.push(`messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}`);
      const firstOther = nb.findIndex((x) => x.type !== 'tool_result');
      if (firstOther !== -1 && nb.slice(firstOther).some((x) => x.type === 'tool_result')) out.push(`messages.${i + 1}: tool_result blocks must come first`);
    }
    const results = (blocks ?? []).filter((x) => x.type === 'tool_result');
    if (results.length) {
      const prev = msgs[i - 1];
      const ids = (Array.isArray(prev?.content) ? prev.content : []).filter((x: any) => x.type === 'tool_use').map((x: any) => x.id);
      for (const r of results) if (!ids.includes(r.tool_use_id)) out.push(`messages.${i}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${r.tool_use_id}`);
    }
  });
  const names = (b.tools ?? []).map((t: any) => t.name);
  (b.tools ?? []).forEach((t: any, i: number) => {
    if (!isObj(t.input_schema) || t.input_schema.type !== 'object') out.push(`tools.${i}.custom.input_schema.type: Field required`);
  });
  if (b.tool_choice) {
    if (!['auto', 'any', 'tool', 'none'].includes(b.tool_choice.type)) out.push(`tool_choice.type: ${b.tool_choice.type}`);
    if (b.tool_choice.type === 'tool' && !names.includes(b.tool_choice.name)) out.push('tool_choice.name: not a tool');
  }
  return out;
}

const GEMINI_SCHEMA_KEYS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required', 'minProperties', 'maxProperties',
  'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering', 'default', 'items', 'minimum', 'maximum',
]);

function checkGeminiSchema(s: any, at: string, out: string[]): void {
  if (!isObj(s)) return void out.push(`${at}: not an object`);
  for (const k of Object.keys(s)) if (!GEMINI_SCHEMA_KEYS.has(k)) out.push(`Invalid JSON payload received. Unknown name "${k}" at '${at}': Cannot find field.`);
  const type = typeof s.type === 'string' ? s.type.toUpperCase() : undefined;
  if (s.type !== undefined && !['STRING', 'NUMBER', 'INTEGER', 'BOOLEAN', 'ARRAY', 'OBJECT'].includes(type!)) out.push(`${at}.type: bad type ${s.type}`);
  if (type === 'OBJECT' && (!isObj(s.properties) || !Object.keys(s.properties).length)) out.push(`${at}.properties: should be non-empty for OBJECT type`);
  if (s.properties !== undefined && type !== 'OBJECT') out.push(`${at}.properties: only allowed for OBJECT type`);
  if (type === 'ARRAY' && !isObj(s.items)) out.push(`${at}.items: missing field`);
  if (s.items !== undefined && type !== 'ARRAY') out.push(`${at}.items: only allowed for ARRAY type`);
  if (s.enum !== undefined && type !== 'STRING') out.push(`${at}.enum: only allowed for STRING type`);
  if (Array.isArray(s.required)) for (const r of s.required) if (!isObj(s.properties) || !(r in s.properties)) out.push(`${at}.required[${r}]: property is not defined`);
  if (isObj(s.properties)) for (const [k, v] of Object.entries(s.properties)) checkGeminiSchema(v, `${at}.properties[${k}]`, out);
  if (isObj(s.items)) checkGeminiSchema(s.items, `${at}.items`, out);
  if (Array.isArray(s.anyOf)) s.anyOf.forEach((v: unknown, i: number) => checkGeminiSchema(v, `${at}.any_of[${i}]`, out));
}

function checkGemini(b: any, path: string): string[] {
  const out: string[] = [];
  const contents: any[] = b.contents ?? [];
  const model = /models\/([^:]+):/.exec(path)?.[1] ?? '';
  contents.forEach((c, i) => {
    if (!['user', 'model'].includes(c.role)) out.push(`contents[${i}].role: ${c.role}`);
    if (!c.parts?.length) out.push(`contents[${i}].parts: must not be empty`);
    const calls = (c.parts ?? []).filter((p: any) => p.functionCall);
    if (c.role === 'model' && calls.length) {
      if (/gemini-3/.test(model) && !calls[0].thoughtSignature) out.push(`contents[${i}]: Function call is missing a thought_signature in functionCall parts.`);
      for (const p of calls) if (!isObj(p.functionCall.args)) out.push(`contents[${i}]: functionCall.args must be an object`);
      const next = contents[i + 1];
      const responses = (next?.parts ?? []).filter((p: any) => p.functionResponse);
      if (next?.role !== 'user' || responses.length !== calls.length) {
        out.push(`contents[${i + 1}]: Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.`);
      } else {
        responses.forEach((r: any, k: number) => {
          if (r.functionResponse.name !== calls[k].functionCall.name) out.push(`contents[${i + 1}].parts[${k}]: functionResponse name ${r.functionResponse.name} does not match functionCall ${calls[k].functionCall.name}`);
          if (!isObj(r.functionResponse.response)) out.push(`contents[${i + 1}].parts[${k}].functionResponse.response: must be an object`);
        });
      }
    }
    if (c.role === 'user' && (c.parts ?? []).some((p: any) => p.functionResponse)) {
      const prev = contents[i - 1];
      if (!prev || prev.role !== 'model' || !(prev.parts ?? []).some((p: any) => p.functionCall)) out.push(`contents[${i}]: function response turn must come immediately after a function call turn`);
    }
  });
  const declared: string[] = [];
  (b.tools ?? []).forEach((t: any, i: number) =>
    (t.functionDeclarations ?? []).forEach((d: any, j: number) => {
      declared.push(d.name);
      if (d.parameters !== undefined) {
        checkGeminiSchema(d.parameters, `tools[${i}].function_declarations[${j}].parameters`, out);
        if (String(d.parameters.type).toUpperCase() !== 'OBJECT') out.push(`tools[${i}].function_declarations[${j}].parameters: schema should be of type OBJECT`);
      }
    }),
  );
  const cfg = b.toolConfig?.functionCallingConfig;
  if (cfg) {
    if (!['AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(cfg.mode)) out.push(`toolConfig.functionCallingConfig.mode: ${cfg.mode}`);
    for (const n of cfg.allowedFunctionNames ?? []) if (!declared.includes(n)) out.push(`allowedFunctionNames: ${n} is not declared`);
  }
  return out;
}

function checkBedrock(b: any): string[] {
  const out: string[] = [];
  const msgs: any[] = b.messages ?? [];
  if (msgs[0]?.role !== 'user') out.push('A conversation must start with a user message.');
  let toolBlocks = false;
  msgs.forEach((m, i) => {
    if (i > 0 && msgs[i - 1].role === m.role) out.push('A conversation must alternate between user and assistant roles.');
    for (const blk of m.content ?? []) {
      if ('text' in blk && !String(blk.text).trim()) out.push(`messages.${i}: The text field in the ContentBlock object is blank.`);
      if (blk.toolUse) {
        toolBlocks = true;
        if (!isObj(blk.toolUse.input)) out.push(`messages.${i}: toolUse.input must be an object`);
        if (!/^[a-zA-Z0-9_-]{1,64}$/.test(blk.toolUse.toolUseId)) out.push(`messages.${i}: toolUseId ${blk.toolUse.toolUseId} fails pattern`);
      }
      if (blk.toolResult) {
        toolBlocks = true;
        const prevIds = (msgs[i - 1]?.content ?? []).filter((x: any) => x.toolUse).map((x: any) => x.toolUse.toolUseId);
        if (!prevIds.includes(blk.toolResult.toolUseId)) out.push(`messages.${i}: toolResult ${blk.toolResult.toolUseId} has no toolUse in the previous turn`);
        if (!blk.toolResult.content?.length) out.push(`messages.${i}: toolResult content cannot be empty`);
        for (const c of blk.toolResult.content ?? []) if ('text' in c && !String(c.text).trim()) out.push(`messages.${i}: toolResult text is blank`);
      }
    }
    const uses = (m.content ?? []).filter((x: any) => x.toolUse).map((x: any) => x.toolUse.toolUseId);
    if (m.role === 'assistant' && uses.length) {
      const results = (msgs[i + 1]?.content ?? []).filter((x: any) => x.toolResult).map((x: any) => x.toolResult.toolUseId);
      const missing = uses.filter((id: string) => !results.includes(id));
      if (missing.length) out.push(`messages.${i + 1}: Expected toolResult blocks for ${missing.join(', ')}`);
    }
  });
  const tools: any[] = b.toolConfig?.tools ?? [];
  if (toolBlocks && !b.toolConfig) out.push('The toolConfig field must be defined when using toolUse and toolResult content blocks.');
  tools.forEach((t, i) => {
    if (t.toolSpec?.inputSchema?.json?.type !== 'object') out.push(`The value at toolConfig.tools.${i}.toolSpec.inputSchema.json.type must be one of the following: object.`);
  });
  const choice = b.toolConfig?.toolChoice;
  if (choice?.tool && !tools.some((t) => t.toolSpec.name === choice.tool.name)) out.push('toolChoice.tool.name is not a tool');
  return out;
}

function checkCohere(b: any): string[] {
  const out: string[] = [];
  const msgs: any[] = b.messages ?? [];
  msgs.forEach((m, i) => {
    if (!['system', 'user', 'assistant', 'tool'].includes(m.role)) out.push(`messages[${i}].role: ${m.role}`);
    if (m.role === 'assistant' && m.tool_calls?.length) {
      const ids = m.tool_calls.map((t: any) => t.id);
      for (const t of m.tool_calls) if (t.type !== 'function' || typeof t.function?.arguments !== 'string' || !t.function?.name) out.push(`messages[${i}].tool_calls: bad call`);
      const answered: string[] = [];
      for (let k = i + 1; k < msgs.length && msgs[k].role === 'tool'; k++) answered.push(msgs[k].tool_call_id);
      const missing = ids.filter((id: string) => !answered.includes(id));
      if (missing.length) out.push(`invalid request: An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${missing.join(', ')}`);
    }
    if (m.role === 'tool') {
      let k = i - 1;
      while (k >= 0 && msgs[k].role === 'tool') k--;
      const ids = (msgs[k]?.tool_calls ?? []).map((t: any) => t.id);
      if (!ids.includes(m.tool_call_id)) out.push(`messages[${i}]: tool_call_id ${m.tool_call_id} does not answer the preceding tool calls`);
    }
  });
  if (b.tool_choice !== undefined && !['REQUIRED', 'NONE'].includes(b.tool_choice)) out.push(`tool_choice: ${b.tool_choice}`);
  return out;
}

/** Mistral's per-role message schema (pydantic, extra fields forbidden) and its tool-call id form. */
const MISTRAL_FIELDS: Record<string, string[]> = {
  system: ['role', 'content'],
  user: ['role', 'content'],
  assistant: ['role', 'content', 'tool_calls', 'prefix'],
  tool: ['role', 'content', 'tool_call_id', 'name'],
};

function checkMistral(b: any): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  (b.messages ?? []).forEach((m: any, i: number) => {
    const allowed = MISTRAL_FIELDS[m.role];
    if (!allowed) return void out.push(`messages.${i}.role: ${m.role}`);
    for (const k of Object.keys(m)) if (!allowed.includes(k)) out.push(`extra_forbidden: body.messages.${i}.${m.role}.${k}`);
    (m.tool_calls ?? []).forEach((t: any, j: number) => {
      for (const k of Object.keys(t)) if (!['id', 'type', 'function', 'index'].includes(k)) out.push(`extra_forbidden: body.messages.${i}.assistant.tool_calls.${j}.${k}`);
      for (const k of Object.keys(t.function ?? {})) if (!['name', 'arguments'].includes(k)) out.push(`extra_forbidden: body.messages.${i}.assistant.tool_calls.${j}.function.${k}`);
      if (!/^[a-zA-Z0-9]{9}$/.test(t.id)) out.push(`Tool call id was ${t.id} but must be a-z, A-Z, 0-9, with a length of 9.`);
      seen.add(t.id);
    });
    if (m.role === 'tool' && !seen.has(m.tool_call_id)) out.push(`messages.${i}: tool_call_id ${m.tool_call_id} matches no earlier tool call`);
  });
  for (const k of ['stream_options', 'max_completion_tokens', 'user', 'seed']) if (k in b) out.push(`extra_forbidden: body.${k}`);
  return out;
}

function refusal(p: Provider, found: string[]): MockReply {
  const message = found.join('; ');
  switch (p) {
    case 'anthropic':
      return { status: 400, json: { type: 'error', error: { type: 'invalid_request_error', message }, request_id: 'req_mock' } };
    case 'google':
      return { status: 400, json: { error: { code: 400, message, status: 'INVALID_ARGUMENT' } } };
    case 'bedrock':
      return { status: 400, headers: { 'x-amzn-errortype': 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/' }, json: { message } };
    case 'cohere':
      return { status: 400, json: { id: 'mock', message } };
    case 'mistral':
      return { status: 422, json: { object: 'error', message: { detail: found.map((msg) => ({ type: 'extra_forbidden', msg })) }, type: 'invalid_request_error', param: null, code: null } };
  }
}

function answer(req: RecordedRequest): MockReply {
  const p = providerOf(req.path);
  const found = {
    anthropic: () => checkAnthropic(req.json),
    google: () => checkGemini(req.json, req.path),
    bedrock: () => checkBedrock(req.json),
    cohere: () => checkCohere(req.json),
    mistral: () => checkMistral(req.json),
  }[p]();
  if (found.length) {
    problems[p].push(...found);
    return refusal(p, found);
  }
  const next = script[p].shift();
  if (!next) return { status: 500, json: { error: { message: `mock: no scripted reply for ${p}` } } };
  return typeof next === 'function' ? next(req) : next;
}

beforeAll(async () => {
  upstream = await startMockUpstream();
  for (const p of PROVIDERS) {
    const app = await appFactories.express5!({ env: {}, config: { targets: [target(p, upstream.url)] } } as never);
    apps.push(app);
    clients[p] = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 });
  }
  // A fallback pair, the gateway's reason to exist: Gemini first, Mistral when Gemini fails.
  const fb = await appFactories.express5!({
    env: {},
    config: {
      strategy: { mode: 'fallback' },
      targets: [target('google', upstream.url), target('mistral', upstream.url, { override_params: { model: MODEL.mistral } })],
    },
  } as never);
  apps.push(fb);
  clients.fallback = new OpenAI({ baseURL: `${fb.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 });
});
afterAll(async () => {
  for (const a of apps) await a.close();
  await upstream?.close();
});
beforeEach(() => {
  upstream.reset();
  upstream.route('*', answer);
  for (const p of PROVIDERS) {
    script[p].length = 0;
    problems[p].length = 0;
  }
});

const sent = (p: Provider) => upstream.requests.filter((r) => providerOf(r.path) === p).map((r) => r.json);

// ------------------------------------------------------------------------------------------------
// Recorded answers (fixture shapes; parallel variants add a second call of the same recorded form).
// ------------------------------------------------------------------------------------------------
const sse = { 'content-type': 'text/event-stream' };

function parallelCalls(p: Provider): MockReply {
  switch (p) {
    case 'anthropic': {
      const body = fixtureJson('anthropic/messages.tool-use.json');
      body.content = [
        { type: 'text', text: 'I will check both cities.' },
        { type: 'tool_use', id: 'toolu_01Q9ExVZnzZj7E2QQYHYtNUa', name: 'weather', input: { location: 'San Francisco' } },
        { type: 'tool_use', id: 'toolu_01WN4AuToBnJyXNQXwQBBebj', name: 'cityAttractions', input: { city: 'San Francisco' } },
      ];
      return { json: body };
    }
    case 'google': {
      const body = fixtureJson('gemini/generateContent.tool-call.json');
      const first = body.candidates[0].content.parts[0];
      body.candidates[0].content.parts = [first, { functionCall: { name: 'cityAttractions', args: { city: 'San Francisco' } } }];
      return { json: body };
    }
    case 'bedrock': {
      const body = structuredClone(cassette('bedrock/converse.tool-use.cassette.yaml')[0]!.response.parsed_body);
      body.output.message.content = [
        { toolUse: { input: { location: 'Paris' }, name: 'weather', toolUseId: 'tooluse_XjTErzm6TpyMMpDviNVY3g', type: 'tool_use' } },
        { toolUse: { input: { city: 'Paris' }, name: 'cityAttractions', toolUseId: 'tooluse_lAG_zP8QRHmSYOwZzzaCqA', type: 'tool_use' } },
      ];
      return { json: body };
    }
    case 'cohere':
      return { json: fixtureJson('cohere/chat-v2.tool-call.json') };
    case 'mistral': {
      const body = fixtureJson('mistral/chat-completions.tool-call.json');
      body.choices[0].message.tool_calls.push({ id: 'KikbB849t', function: { name: 'cityAttractions', arguments: '{"city": "San Francisco"}' } });
      return { json: body };
    }
  }
}

function finalAnswer(p: Provider): MockReply {
  switch (p) {
    case 'anthropic':
      return { json: fixtureJson('anthropic/messages.text.json') };
    case 'google':
      return { json: fixtureJson('gemini/generateContent.text.json') };
    case 'bedrock':
      return { json: cassette('bedrock/converse.tool-use.cassette.yaml')[1]!.response.parsed_body };
    case 'cohere':
      return { json: fixtureJson('cohere/chat-v2.text.json') };
    case 'mistral':
      return { json: fixtureJson('mistral/chat-completions.text.json') };
  }
}

function streamedCalls(p: Provider): MockReply {
  switch (p) {
    case 'anthropic':
      return { headers: sse, chunks: [fixtureBytes('anthropic/messages.tool-use-after-tool-search.stream.sse')] };
    case 'google':
      return { headers: sse, chunks: [fixtureBytes('gemini/streamGenerateContent.tool-call.sse')] };
    case 'bedrock':
      return eventStream(framesOf('bedrock/converse-stream.tool-use.eventstream.bin'));
    case 'cohere':
      return { headers: sse, chunks: sseFromJsonl(fixtureText('cohere/chat-v2.tool-call.chunks.jsonl'), { eventFromType: true }) };
    case 'mistral':
      return { headers: sse, chunks: sseFromJsonl(fixtureText('mistral/chat-completions.tool-call.chunks.jsonl'), { done: true }) };
  }
}

function streamedAnswer(p: Provider): MockReply {
  switch (p) {
    case 'anthropic':
      return { headers: sse, chunks: [fixtureBytes('anthropic/messages.text.stream.sse')] };
    case 'google':
      return { headers: sse, chunks: [fixtureBytes('gemini/streamGenerateContent.after-function-response.sse')] };
    case 'bedrock':
      return eventStream(framesOf('bedrock/converse-stream.after-tool-result.eventstream.bin'));
    case 'cohere':
      return { headers: sse, chunks: sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true }) };
    case 'mistral':
      return { headers: sse, chunks: sseFromJsonl(fixtureText('mistral/chat-completions.text.chunks.jsonl'), { done: true }) };
  }
}

/** The functions each recorded tool-call answer names. */
const STREAM_TOOLS: Record<Provider, string[]> = {
  anthropic: ['get_exchange_rate'],
  google: ['get_country'],
  bedrock: ['get_temperature'],
  cohere: ['weather', 'cityAttractions'],
  mistral: ['weather'],
};

const nested = {
  type: 'object',
  properties: {
    location: { type: 'string', description: 'City' },
    city: { type: 'string' },
    options: {
      type: 'object',
      properties: {
        units: { type: 'string', enum: ['c', 'f'] },
        days: { type: 'array', items: { type: 'object', properties: { day: { type: 'integer' }, hourly: { type: 'boolean' } }, required: ['day'], additionalProperties: false } },
        source: { anyOf: [{ $ref: '#/$defs/Source' }, { type: 'null' }] },
      },
      additionalProperties: false,
    },
  },
  $defs: { Source: { type: 'object', properties: { name: { type: 'string' }, priority: { type: 'integer', enum: [1, 2, 3] } }, required: ['name'] } },
  additionalProperties: false,
};

const runnable = (names: string[], calls: Array<[string, unknown]>, result: (name: string) => unknown = (n) => ({ ok: n })) =>
  names.map((name) => ({
    type: 'function' as const,
    function: { name, description: `the ${name} tool`, parameters: nested, parse: JSON.parse, function: (args: unknown) => (calls.push([name, args]), result(name)) },
  }));

const plainTools = (names: string[]) =>
  names.map((name) => ({ type: 'function' as const, function: { name, description: `the ${name} tool`, parameters: nested } }));

// ------------------------------------------------------------------------------------------------
describe('complete tool loops through runTools', () => {
  for (const p of PROVIDERS) {
    it(`${p}: non-stream runTools with two parallel calls, nested-schema tools, results paired as ${p} requires`, async () => {
      script[p].push(parallelCalls(p), finalAnswer(p));
      const calls: Array<[string, unknown]> = [];
      const runner = clients[p].chat.completions.runTools({
        model: MODEL[p],
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Weather and attractions?' }],
        tools: runnable(['weather', 'cityAttractions'], calls),
      });
      const text = await runner.finalContent();
      expect(problems[p]).toEqual([]);
      expect(calls.map(([n]) => n).sort()).toEqual(['cityAttractions', 'weather']);
      expect(text).toBeTruthy();
      expect(sent(p)).toHaveLength(2);
    });

    it(`${p}: streamed runTools: the fixture's tool calls run and the streamed answer follows`, async () => {
      script[p].push(streamedCalls(p), streamedAnswer(p));
      const calls: Array<[string, unknown]> = [];
      const runner = clients[p].chat.completions.runTools({
        model: MODEL[p],
        stream: true,
        messages: [{ role: 'user', content: 'go' }],
        tools: runnable(STREAM_TOOLS[p], calls),
      });
      const text = await runner.finalContent();
      expect(problems[p]).toEqual([]);
      expect(calls.length).toBe(STREAM_TOOLS[p].length);
      for (const [, args] of calls) expect(typeof args).toBe('object');
      expect(text).toBeTruthy();
    });
  }
});

describe('hand-written loop over a stream: deltas, ids, indices, and every kind of tool result', () => {
  for (const p of PROVIDERS) {
    it(`${p}: deltas assemble to valid JSON under stable ids; results as JSON, parts and empty text go back in ${p}'s form`, async () => {
      script[p].push(streamedCalls(p), finalAnswer(p));
      const stream = clients[p].chat.completions.stream({
        model: MODEL[p],
        messages: [{ role: 'user', content: 'go' }],
        tools: plainTools(STREAM_TOOLS[p]),
        tool_choice: 'auto',
      });
      const idsByIndex = new Map<number, Set<string>>();
      const argsByIndex = new Map<number, string>();
      for await (const chunk of stream) {
        for (const t of chunk.choices[0]?.delta.tool_calls ?? []) {
          expect(typeof t.index).toBe('number');
          if (t.id) (idsByIndex.get(t.index) ?? idsByIndex.set(t.index, new Set()).get(t.index)!).add(t.id);
          argsByIndex.set(t.index, (argsByIndex.get(t.index) ?? '') + (t.function?.arguments ?? ''));
        }
      }
      const final = await stream.finalChatCompletion();
      const message = final.choices[0]!.message;
      expect(final.choices[0]!.finish_reason).toBe('tool_calls');
      const toolCalls = message.tool_calls!.filter((t): t is OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall => t.type === 'function');
      expect(toolCalls.map((t) => t.function.name)).toEqual(STREAM_TOOLS[p]);
      expect([...idsByIndex.keys()].sort()).toEqual(toolCalls.map((_, i) => i));
      toolCalls.forEach((t, i) => {
        expect(idsByIndex.get(i)!.size).toBe(1); // one id per index, never changed
        expect([...idsByIndex.get(i)!][0]).toBe(t.id);
        expect(typeof JSON.parse(argsByIndex.get(i)!)).toBe('object');
        expect(JSON.parse(t.function.arguments)).toEqual(JSON.parse(argsByIndex.get(i)!));
      });
      expect(new Set(toolCalls.map((t) => t.id)).size).toBe(toolCalls.length);

      // Next turn: the assistant message with text beside its calls, then one result of each kind.
      const kinds: Array<OpenAI.Chat.Completions.ChatCompletionToolMessageParam['content']> = [
        '{"temperature":30,"units":"c","days":[{"day":1}]}',
        [{ type: 'text', text: 'Sunny, ' }, { type: 'text', text: '30C' }],
        '',
      ];
      const results = toolCalls.map((t, i) => ({ role: 'tool' as const, tool_call_id: t.id, content: kinds[i % kinds.length]! }));
      const answer = await clients[p].chat.completions.create({
        model: MODEL[p],
        tools: plainTools(STREAM_TOOLS[p]),
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', content: message.content || 'Let me look that up.', tool_calls: toolCalls },
          ...results,
        ],
      });
      expect(problems[p]).toEqual([]);
      expect(answer.choices[0]!.message.content).toBeTruthy();
    });
  }

  it('every result kind (JSON string, JSON array, text parts, empty) reaches each provider in a form it accepts', async () => {
    const history = (): OpenAI.Chat.Completions.ChatCompletionMessageParam[] => [
      { role: 'user', content: 'Weather in Paris and London, and attractions?' },
      {
        role: 'assistant',
        content: 'Checking three things.',
        tool_calls: [
          { id: 'call_PTLP8xhu3uwZk4l3nlnrrJha', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris","options":{"units":"c","days":[{"day":1}]}}' } },
          { id: 'toolu_01Q9ExVZnzZj7E2QQYHYtNUa', type: 'function', function: { name: 'weather', arguments: '{"city":"London"}' } },
          { id: 'weather_dqgshstja6p9', type: 'function', function: { name: 'cityAttractions', arguments: '{}' } },
          { id: 'call_4', type: 'function', function: { name: 'cityAttractions', arguments: '' } },
        ],
      },
      // Out of call order on purpose: OpenAI pairs by id.
      { role: 'tool', tool_call_id: 'toolu_01Q9ExVZnzZj7E2QQYHYtNUa', content: '[{"hour":1,"t":12},{"hour":2,"t":11}]' },
      { role: 'tool', tool_call_id: 'call_PTLP8xhu3uwZk4l3nlnrrJha', content: '{"t":21,"sky":"sunny"}' },
      { role: 'tool', tool_call_id: 'weather_dqgshstja6p9', content: [{ type: 'text', text: 'Louvre' }, { type: 'text', text: ', Orsay' }] },
      { role: 'tool', tool_call_id: 'call_4', content: '' },
    ];
    for (const p of PROVIDERS) {
      script[p].push(finalAnswer(p));
      const res = await clients[p].chat.completions.create({ model: MODEL[p], tools: plainTools(['weather', 'cityAttractions']), messages: history() });
      expect(problems[p], p).toEqual([]);
      expect(res.choices[0]!.message.content, p).toBeTruthy();
    }
    // Gemini pairs results by position: the two `weather` results must follow the calls' order.
    const g = sent('google')[0];
    const responses = g.contents[2].parts.map((x: any) => x.functionResponse);
    expect(responses.map((r: any) => r.name)).toEqual(['weather', 'weather', 'cityAttractions', 'cityAttractions']);
    expect(responses[0].response).toEqual({ t: 21, sky: 'sunny' });
    expect(responses[1].response).toEqual({ output: [{ hour: 1, t: 12 }, { hour: 2, t: 11 }] });
    // Anthropic: every tool_result in the user turn right after the tool_use turn, text kept before the calls.
    const a = sent('anthropic')[0];
    expect(a.messages[1].content[0]).toEqual({ type: 'text', text: 'Checking three things.' });
    expect(a.messages[2].content.map((x: any) => x.tool_use_id).sort()).toEqual(['call_4', 'call_PTLP8xhu3uwZk4l3nlnrrJha', 'toolu_01Q9ExVZnzZj7E2QQYHYtNUa', 'weather_dqgshstja6p9'].sort());
    // Bedrock: an empty result still carries non-blank text; ids unchanged.
    const br = sent('bedrock')[0];
    const empty = br.messages[2].content.find((x: any) => x.toolResult?.toolUseId === 'call_4');
    expect(empty.toolResult.content[0].text.trim()).not.toBe('');
    // Mistral: every id rewritten to its 9-char form, the same on the call and on its result.
    const m = sent('mistral')[0];
    const ids = m.messages[1].tool_calls.map((t: any) => t.id);
    expect(m.messages.slice(2).map((x: any) => x.tool_call_id).sort()).toEqual([ids[1], ids[0], ids[2], ids[3]].sort());
  });
});

describe('tool_choice variants', () => {
  const choices = ['auto', 'none', 'required', { type: 'function', function: { name: 'cityAttractions' } }] as const;
  const expected: Record<Provider, (b: any) => unknown[]> = {
    anthropic: (b) => [b.tool_choice],
    google: (b) => [b.toolConfig?.functionCallingConfig],
    bedrock: (b) => [b.toolConfig?.toolChoice ?? (b.toolConfig ? 'tools-without-choice' : 'no-tools')],
    cohere: (b) => [b.tool_choice ?? 'absent', (b.tools ?? []).map((t: any) => t.function.name)],
    mistral: (b) => [b.tool_choice],
  };
  const want: Record<Provider, unknown[][]> = {
    anthropic: [[{ type: 'auto' }], [{ type: 'none' }], [{ type: 'any' }], [{ type: 'tool', name: 'cityAttractions' }]],
    google: [[{ mode: 'AUTO' }], [{ mode: 'NONE' }], [{ mode: 'ANY' }], [{ mode: 'ANY', allowedFunctionNames: ['cityAttractions'] }]],
    bedrock: [[{ auto: {} }], ['no-tools'], [{ any: {} }], [{ tool: { name: 'cityAttractions' } }]],
    cohere: [['absent', ['weather', 'cityAttractions']], ['NONE', ['weather', 'cityAttractions']], ['REQUIRED', ['weather', 'cityAttractions']], ['REQUIRED', ['cityAttractions']]],
    mistral: [['auto'], ['none'], ['required'], [{ type: 'function', function: { name: 'cityAttractions' } }]],
  };
  for (const p of PROVIDERS) {
    it(`${p}: auto / none / required / a named function map to ${p}'s own tool choice`, async () => {
      for (const choice of choices) {
        script[p].push(finalAnswer(p));
        await clients[p].chat.completions.create({ model: MODEL[p], tools: plainTools(['weather', 'cityAttractions']), tool_choice: choice as never, messages: [{ role: 'user', content: 'hi' }] });
      }
      expect(problems[p]).toEqual([]);
      expect(sent(p).map(expected[p])).toEqual(want[p]);
    });
  }

  it('runTools with a named function: the forced call runs once and the loop ends (anthropic, google)', async () => {
    for (const p of ['anthropic', 'google'] as const) {
      script[p].push(parallelCalls(p));
      const calls: Array<[string, unknown]> = [];
      const runner = clients[p].chat.completions.runTools({
        model: MODEL[p],
        tool_choice: { type: 'function', function: { name: 'weather' } },
        messages: [{ role: 'user', content: 'weather?' }],
        tools: runnable(['weather', 'cityAttractions'], calls),
      });
      await runner.done();
      expect(problems[p], p).toEqual([]);
      expect(calls[0]![0]).toBe('weather');
    }
  });
});

// ------------------------------------------------------------------------------------------------
describe('bugs', () => {
  const looseSchema = { properties: { city: { type: 'string' } }, required: ['city'] };

  // BUG: a tool whose `parameters` has no top-level "type" (accepted by OpenAI, sent by MCP/Codex tools) goes to Anthropic verbatim as input_schema, which Anthropic refuses with 400 "tools.0.custom.input_schema.type: Field required".
  it('anthropic: a tool schema without a root "type" still reaches Claude as an object schema', async () => {
    script.anthropic.push(finalAnswer('anthropic'));
    const res = await clients.anthropic.chat.completions
      .create({ model: MODEL.anthropic, tools: [{ type: 'function', function: { name: 'weather', parameters: looseSchema } }], messages: [{ role: 'user', content: 'Paris?' }] })
      .then((r) => r, (e: Error) => e);
    expect(problems.anthropic).toEqual([]);
    expect(res).not.toBeInstanceOf(Error);
    expect(sent('anthropic')[0].tools[0].input_schema).toMatchObject({ type: 'object', properties: { city: { type: 'string' } } });
  });

  // BUG: the same schema (or `parameters: {}`) goes to Bedrock verbatim as inputSchema.json; Bedrock answers 400 "The value at toolConfig.tools.0.toolSpec.inputSchema.json.type must be one of the following: object."
  it('bedrock: tool schemas without a root "type" (and an empty one) reach Converse as object schemas', async () => {
    script.bedrock.push(finalAnswer('bedrock'));
    const res = await clients.bedrock.chat.completions
      .create({
        model: MODEL.bedrock,
        tools: [
          { type: 'function', function: { name: 'weather', parameters: looseSchema } },
          { type: 'function', function: { name: 'now', parameters: {} } },
        ],
        messages: [{ role: 'user', content: 'Paris?' }],
      })
      .then((r) => r, (e: Error) => e);
    expect(problems.bedrock).toEqual([]);
    expect(res).not.toBeInstanceOf(Error);
    const specs = sent('bedrock')[0].toolConfig.tools.map((t: any) => t.toolSpec.inputSchema.json);
    for (const s of specs) expect(s.type).toBe('object');
  });

  // BUG: a nested free-form object (`{"type":"object"}` or a record with additionalProperties — common in MCP tools) becomes an OBJECT without properties, which Gemini refuses with 400 "parameters.properties[headers].properties: should be non-empty for OBJECT type".
  it('google: a tool with a nested free-form object is declared in a form Gemini accepts', async () => {
    script.google.push(finalAnswer('google'));
    const parameters = {
      type: 'object',
      properties: {
        url: { type: 'string' },
        headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'HTTP headers' },
        body: { type: 'object', description: 'JSON body' },
      },
      required: ['url'],
    };
    const res = await clients.google.chat.completions
      .create({ model: MODEL.google, tools: [{ type: 'function', function: { name: 'http_request', parameters } }], messages: [{ role: 'user', content: 'GET example.org' }] })
      .then((r) => r, (e: Error) => e);
    expect(problems.google).toEqual([]);
    expect(res).not.toBeInstanceOf(Error);
  });

  // BUG: Mistral refuses fields it does not define inside tool calls (422 extra_forbidden at messages.N.assistant.tool_calls.0.<field>), and the gateway passes through the `extra_content` (Gemini thought signature) it added itself — so a fallback from Gemini to Mistral mid-loop fails.
  it('fallback google → mistral mid-loop: the Gemini tool call the gateway handed out is accepted by Mistral', async () => {
    script.google.push({ json: fixtureJson('gemini/generateContent.tool-call.json') });
    const tools = plainTools(['weather']);
    const first = await clients.fallback.chat.completions.create({ model: 'gemini-3-pro-preview', tools, messages: [{ role: 'user', content: 'Weather in SF?' }] });
    const message = first.choices[0]!.message;
    expect((message.tool_calls![0] as unknown as { extra_content?: unknown }).extra_content).toBeDefined(); // the gateway's own field
    // Gemini is down on the next turn; Mistral takes over with the same history.
    script.google.push({ status: 503, json: { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } } });
    script.mistral.push(finalAnswer('mistral'));
    const res = await clients.fallback.chat.completions
      .create({ model: 'gemini-3-pro-preview', tools, messages: [{ role: 'user', content: 'Weather in SF?' }, message, { role: 'tool', tool_call_id: message.tool_calls![0]!.id, content: '{"t":18}' }] })
      .then((r) => r, (e: Error) => e);
    expect(problems.mistral).toEqual([]);
    expect(res).not.toBeInstanceOf(Error);
    expect(sent('mistral')).toHaveLength(1);
  });

  // BUG: OpenAI's `name` on user/assistant messages (multi-agent frameworks such as AutoGen set it on every turn, tool-calling ones included) reaches Mistral, which only allows `name` on tool messages: 422 extra_forbidden at messages.N.user.name.
  it('mistral: `name` on user and assistant tool-call turns is not sent where Mistral forbids it', async () => {
    script.mistral.push(finalAnswer('mistral'));
    const res = await clients.mistral.chat.completions
      .create({
        model: MODEL.mistral,
        tools: plainTools(['weather']),
        messages: [
          { role: 'user', name: 'user_proxy', content: 'Weather in Paris?' },
          { role: 'assistant', name: 'weather_agent', content: null, tool_calls: [{ id: 'gSIMJiOkT', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
          { role: 'tool', tool_call_id: 'gSIMJiOkT', content: 'Sunny' },
        ],
      })
      .then((r) => r, (e: Error) => e);
    expect(problems.mistral).toEqual([]);
    expect(res).not.toBeInstanceOf(Error);
  });
});
