/** Streaming translation for non-OpenAI providers under adversarial chunking, grammar variants and cuts, from a review; the regressions are marked. */
/**
 * Adversarial review: streaming translation on /v1/chat/completions for Gemini/Vertex, Bedrock
 * ConverseStream, Cohere v2, Anthropic, Mistral and Azure, replaying every recorded stream in
 * shared/fixtures through the gateway with adversarial framing.
 *
 * Failing tests (real bugs, each with its diagnosis) are in `describe('regressions (fixed)')`. The rest pass and are
 * kept because nothing else covers them: every recording split at (a dense sample of) every byte
 * position with a pause between the halves (inside UTF-8 characters, inside event-stream preludes and
 * CRCs, inside CRLF pairs); every recording closed cleanly at every such position (never a [DONE] on
 * a partial answer, never a non-JSON data event); CR / CRLF / comment / keep-alive / extra blank
 * line / missing final blank line / multi-`data:` variants; `finalChatCompletion()` with include_usage
 * on every recording; and `runTools` on the streamed tool-call recordings.
 */
import { createGateway, type Gateway } from '@llmux/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixtureBytes, fixtureText } from './helpers/fixtures.js';
import { sseFromJsonl, startMockUpstream, type MockReply, type MockUpstream } from './helpers/mock-upstream.js';
import { bodyText } from './helpers/observe.js';
import { appFactories, type TestApp } from './helpers/apps.js';
import OpenAI from 'openai';

let upstream: MockUpstream;
const gateways = new Map<string, Gateway>();

const BEDROCK_MODEL = 'us.amazon.nova-micro-v1:0';

function targetFor(name: string, url: string): Record<string, unknown> {
  switch (name) {
    case 'google':
      return { provider: 'google', api_key: 'AIza-review', custom_host: `${url}/v1beta` };
    case 'vertex':
      return { provider: 'vertex-ai', api_key: 'ya29.review', custom_host: `${url}/v1`, vertex_project_id: 'proj', vertex_region: 'europe-west4' };
    case 'bedrock':
      return { provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: url };
    case 'cohere':
      return { provider: 'cohere', api_key: 'co-review', custom_host: `${url}/v2` };
    case 'anthropic':
      return { provider: 'anthropic', api_key: 'sk-ant-review', custom_host: `${url}/v1` };
    case 'mistral':
      return { provider: 'mistral', api_key: 'mistral-review', custom_host: `${url}/v1` };
    case 'azure':
      return { provider: 'azure-openai', api_key: 'az-review', custom_host: url, api_version: '2024-10-21' };
    default:
      throw new Error(name);
  }
}

function gw(name: string): Gateway {
  let g = gateways.get(name);
  if (!g) {
    g = createGateway({ config: { targets: [targetFor(name, upstream.url)] } });
    gateways.set(name, g);
  }
  return g;
}

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  for (const g of gateways.values()) await g.close();
  await upstream?.close();
});
beforeEach(() => upstream.reset());

interface Assembled {
  status: number;
  text: string;
  done: boolean;
  error?: any;
  content: string[];
  reasoning: string[];
  tools: Array<{ id?: string; name?: string; args: string; type?: string }>;
  finish: Array<string | null>;
  usage?: any;
  chunks: any[];
  /** data: events that are not JSON. */
  corrupt?: number;
}

function assemble(status: number, text: string): Assembled {
  const out: Assembled = { status, text, done: false, content: [], reasoning: [], tools: [], finish: [], chunks: [] };
  if (status !== 200) {
    out.error = JSON.parse(text).error;
    return out;
  }
  const events = text.split('\n\n').filter((e) => e.length);
  for (const [i, ev] of events.entries()) {
    const data = ev
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => l.slice(6))
      .join('\n');
    if (data === '[DONE]') {
      if (i !== events.length - 1) throw new Error('[DONE] not last');
      out.done = true;
      continue;
    }
    let c: any;
    try {
      c = JSON.parse(data);
    } catch {
      out.corrupt = (out.corrupt ?? 0) + 1;
      continue;
    }
    if (c.error) {
      out.error = c.error;
      continue;
    }
    out.chunks.push(c);
    if (c.usage) out.usage = c.usage;
    for (const ch of c.choices ?? []) {
      const k = ch.index ?? 0;
      const d = ch.delta ?? {};
      out.content[k] = (out.content[k] ?? '') + (d.content ?? '');
      out.reasoning[k] = (out.reasoning[k] ?? '') + (d.reasoning_content ?? '');
      for (const t of d.tool_calls ?? []) {
        const acc = (out.tools[t.index] ??= { args: '' });
        if (t.id) acc.id = t.id;
        if (t.type) acc.type = t.type;
        if (t.function?.name) acc.name = t.function.name;
        acc.args += t.function?.arguments ?? '';
      }
      if (ch.finish_reason) out.finish[k] = ch.finish_reason;
    }
  }
  return out;
}

/** Whole upstream body bytes per fixture. */
const concat = (parts: Array<string | Uint8Array>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));

interface Case {
  name: string;
  provider: string;
  bytes: Buffer;
  headers: Record<string, string>;
}

const sseHeaders = { 'content-type': 'text/event-stream' };
const cases: Case[] = [
  ...['text', 'tool-call', 'thinking', 'after-function-response'].map((f) => ({ name: `gemini ${f}`, provider: 'google', bytes: fixtureBytes(`gemini/streamGenerateContent.${f}.sse`), headers: sseHeaders })),
  { name: 'vertex', provider: 'vertex', bytes: fixtureBytes('gemini/vertex.streamGenerateContent.sse'), headers: sseHeaders },
  ...['text', 'tool-use', 'after-tool-result', 'reasoning', 'structured-output'].map((f) => ({
    name: `bedrock ${f}`,
    provider: 'bedrock',
    bytes: fixtureBytes(`bedrock/converse-stream.${f}.eventstream.bin`),
    headers: { 'content-type': 'application/vnd.amazon.eventstream' },
  })),
  ...['text', 'tool-call', 'empty-tool-call', 'reasoning'].map((f) => ({
    name: `cohere ${f}`,
    provider: 'cohere',
    bytes: concat(sseFromJsonl(fixtureText(`cohere/chat-v2.${f}.chunks.jsonl`), { eventFromType: true })),
    headers: sseHeaders,
  })),
  ...['text', 'parallel-tool-use', 'thinking', 'redacted-thinking', 'tool-use-after-tool-search', 'server-tool-code-execution'].map((f) => ({
    name: `anthropic ${f}`,
    provider: 'anthropic',
    bytes: fixtureBytes(`anthropic/messages.${f}.stream.sse`),
    headers: sseHeaders,
  })),
  ...['text', 'tool-call', 'reasoning'].map((f) => ({
    name: `mistral ${f}`,
    provider: 'mistral',
    bytes: concat(sseFromJsonl(fixtureText(`mistral/chat-completions.${f}.chunks.jsonl`), { done: true })),
    headers: sseHeaders,
  })),
  { name: 'mistral thinking', provider: 'mistral', bytes: fixtureBytes('mistral/chat-completions.thinking.stream.sse'), headers: sseHeaders },
  { name: 'azure model-router', provider: 'azure', bytes: concat(sseFromJsonl(fixtureText('azure/chat-completions.model-router.chunks.jsonl'), { done: true })), headers: sseHeaders },
];

const summary = (a: Assembled) => ({ status: a.status, done: a.done, error: a.error?.message, content: a.content, reasoning: a.reasoning, tools: a.tools, finish: a.finish, usage: a.usage });


/** Requests carry a marker in their prompt so concurrent ones get their own scripted reply. */
const replies = new Map<string, MockReply>();
let seq = 0;
function routeByMarker() {
  upstream.route('*', (req) => {
    const m = /case-\d+/.exec(req.text);
    const r = m ? replies.get(m[0]) : undefined;
    if (!r) return { status: 500, json: { error: { message: 'no marker' } } };
    replies.delete(m![0]);
    return r;
  });
}

async function streamCase(c: Case, reply: Omit<MockReply, 'headers'>, body: Record<string, unknown> = {}): Promise<Assembled> {
  const marker = `case-${seq++}`;
  replies.set(marker, { headers: c.headers, ...reply });
  const model = c.provider === 'bedrock' ? BEDROCK_MODEL : c.provider === 'anthropic' ? 'claude-sonnet-4-5' : c.provider === 'cohere' ? 'command-a-03-2025' : c.provider === 'mistral' ? 'mistral-small-latest' : c.provider === 'azure' ? 'gpt-4o-mini' : 'gemini-2.5-flash';
  const res = await gw(c.provider).handle({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json' },
    body: { model, messages: [{ role: 'user', content: marker }], stream: true, stream_options: { include_usage: true }, ...body },
  });
  return assemble(res.status, await bodyText(res));
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Every position for small bodies; else a stride plus every position within 4 bytes of an event or frame boundary. */
function positions(c: Case, max = 1200): number[] {
  const n = c.bytes.length;
  const set = new Set<number>();
  const stride = Math.max(1, Math.ceil(n / max));
  for (let k = 1; k < n; k += stride) set.add(k);
  if (c.provider === 'bedrock') {
    for (let at = 0; at < n; at += c.bytes.readUInt32BE(at)) for (let d = -4; d <= 16; d++) set.add(at + d);
  } else {
    const t = c.bytes.toString('latin1');
    for (let at = t.indexOf('\n'); at !== -1; at = t.indexOf('\n', at + 1)) for (let d = -3; d <= 3; d++) set.add(at + d);
  }
  return [...set].filter((k) => k > 0 && k < n).sort((a, b) => a - b);
}

const same = (a: Assembled) => ({ corrupt: a.corrupt, content: a.content, reasoning: a.reasoning, tools: a.tools, finish: a.finish, usage: a.usage });

const passthrough = (c: Case) => c.provider === 'mistral' || c.provider === 'azure';

describe('adversarial chunking of every recording', () => {
  beforeEach(() => routeByMarker());
  for (const c of cases) {
    it(`split at byte positions: ${c.name}`, async () => {
      const whole = await streamCase(c, { chunks: [c.bytes] });
      expect(whole.done).toBe(true);
      const bad: string[] = [];
      await pool(positions(c, 400), 8, async (k) => {
        const a = await streamCase(c, { chunks: [c.bytes.subarray(0, k), c.bytes.subarray(k)], chunkDelayMs: 2 });
        try {
          expect(a.done).toBe(true);
          expect(same(a)).toEqual(same(whole));
        } catch (e) {
          bad.push(`split ${k}: ${a.error?.message ?? ''} ${JSON.stringify(same(a)).slice(0, 300)}`);
        }
      });
      expect(bad.slice(0, 5)).toEqual([]);
    }, 120_000);
    // The OpenAI-compatible passthrough fails this (see 'bugs'). A close between Bedrock's messageStop
    // and metadata frames ends with [DONE] and no usage chunk (the answer itself is whole), so usage
    // is not compared here.
    if (passthrough(c)) continue;
    it(`clean close at byte positions: ${c.name}`, async () => {
      const whole = await streamCase(c, { chunks: [c.bytes] });
      const bad: string[] = [];
      await pool(positions(c), 8, async (k) => {
        const a = await streamCase(c, { chunks: [c.bytes.subarray(0, k)] });
        if (a.done) {
          try {
            expect({ ...same(a), usage: undefined }).toEqual({ ...same(whole), usage: undefined });
          } catch {
            bad.push(`close at ${k}/${c.bytes.length}: DONE with ${JSON.stringify(same(a)).slice(0, 400)}`);
          }
        } else if (!a.error) bad.push(`close at ${k}: neither DONE nor error`);
        if (a.corrupt) bad.push(`close at ${k}: ${a.corrupt} data event(s) that are not JSON`);
      });
      expect(bad.slice(0, 5)).toEqual([]);
    }, 120_000);
  }
});


/** SSE body transforms: each keeps the events' meaning. */
const sseCases = cases.filter((c) => c.provider !== 'bedrock');
const toLf = (t: string) => t.replace(/\r\n/g, '\n');
/** Splits each data payload over two `data:` lines at its first `,"` (outside any string, in these recordings). */
const multiData = (t: string) => toLf(t).replace(/^data: (\{.*?),"(.*)$/gm, 'data: $1,\ndata: "$2');
const transforms: Record<string, (t: string) => string> = {
  crlf: (t) => toLf(t).replace(/\n/g, '\r\n'),
  cr: (t) => toLf(t).replace(/\n/g, '\r'),
  comments: (t) => ': keep-alive\n\n' + toLf(t).replace(/\n\n/g, '\n\n: ping\n\n\n\n').replace(/^data:/gm, ':comment\ndata:'),
  'no final blank line': (t) => toLf(t).replace(/\n+$/, ''),
  'several data lines': multiData,
};

describe('SSE grammar variants of every recording', () => {
  beforeEach(() => routeByMarker());
  for (const c of sseCases) {
    for (const [tname, tf] of Object.entries(transforms)) {
      // The passthrough relays multi-line data corrupted: see 'bugs'.
      if (tname === 'several data lines' && passthrough(c)) continue;
      it(`${tname}: ${c.name}`, async () => {
        const whole = await streamCase(c, { chunks: [c.bytes] });
        const bytes = Buffer.from(tf(c.bytes.toString('utf8')), 'utf8');
        const a = await streamCase(c, { chunks: [bytes] });
        expect({ done: a.done, error: a.error?.message, ...same(a) }).toEqual({ done: true, error: undefined, ...same(whole) });
      });
    }
  }
});


const apps = new Map<string, TestApp>();
afterAll(async () => {
  for (const a of apps.values()) await a.close();
});
async function sdk(provider: string): Promise<OpenAI> {
  let app = apps.get(provider);
  if (!app) {
    app = await appFactories.express5!({ env: {}, config: { targets: [targetFor(provider, upstream.url)] } } as never);
    apps.set(provider, app);
  }
  return new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
}
const modelOf = (p: string) => (p === 'bedrock' ? BEDROCK_MODEL : p === 'anthropic' ? 'claude-sonnet-4-5' : p === 'cohere' ? 'command-a-03-2025' : p === 'mistral' ? 'mistral-small-latest' : p === 'azure' ? 'gpt-4o-mini' : 'gemini-2.5-flash');

describe('the SDK stream helper on every recording', () => {
  beforeEach(() => routeByMarker());
  for (const c of cases) {
    it(`finalChatCompletion: ${c.name}`, async () => {
      const whole = await streamCase(c, { chunks: [c.bytes] });
      const marker = `case-${seq++}`;
      replies.set(marker, { headers: c.headers, chunks: [c.bytes] });
      const client = await sdk(c.provider);
      const s = client.chat.completions.stream({ model: modelOf(c.provider), messages: [{ role: 'user', content: marker }], stream_options: { include_usage: true } });
      const final = await s.finalChatCompletion();
      const m = final.choices[0]!.message;
      expect({
        content: m.content ?? '',
        finish: final.choices[0]!.finish_reason,
        tools: (m.tool_calls ?? []).map((t: any) => ({ id: t.id, name: t.function.name, args: t.function.arguments })),
        usage: final.usage,
      }).toEqual({
        content: whole.content[0],
        finish: whole.finish[0],
        tools: whole.tools.map((t) => ({ id: t.id, name: t.name, args: t.args })),
        usage: whole.usage,
      });
      for (const t of m.tool_calls ?? []) expect(() => JSON.parse((t as any).function.arguments)).not.toThrow();
    });
  }
});


describe('regressions (fixed)', () => {
  beforeEach(() => routeByMarker());

  /*
   * Regression (fixed) (OpenAI-compatible passthrough, Azure/Mistral/any `n` > 1): expected a stream that the upstream
   * closes after choice 0 finished but while choice 1 is still mid-sentence to end with a
   * `stream_interrupted` error event; was: `data: [DONE]`, so the client takes the truncated
   * choice 1 for a complete answer. Diagnosis: packages/core/src/providers/openai-compatible/translate.ts:99
   * sets one `finished` flag when ANY choice has a finish_reason, and `end()` (translate.ts:103) accepts
   * the stream on it; Gemini's translator tracks finishes per candidate, this one does not.
   */
  it('azure n=2: a stream that closes after choice 0 finished, mid-way through choice 1, ends with an error, not [DONE]', async () => {
    const base = { id: 'chatcmpl-n2', object: 'chat.completion.chunk', created: 1762317021, model: 'gpt-4o-mini-2024-07-18', system_fingerprint: 'fp_x' };
    const ch = (index: number, delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ ...base, choices: [{ index, delta, finish_reason: finish, logprobs: null }], usage: null });
    const events = [
      ch(0, { role: 'assistant', content: '' }),
      ch(1, { role: 'assistant', content: '' }),
      ch(0, { content: 'Paris.' }),
      ch(1, { content: 'The capital' }),
      ch(0, {}, 'stop'),
      ch(1, { content: ' of France is' }),
      // …the upstream closes here: choice 1 never finished, no usage chunk, no [DONE].
    ].map((d) => `data: ${d}\n\n`);
    const c: Case = { name: 'azure n2', provider: 'azure', bytes: Buffer.alloc(0), headers: sseHeaders };
    const a = await streamCase(c, { chunks: events }, { n: 2 });
    expect(a.content).toEqual(['Paris.', 'The capital of France is']);
    expect({ done: a.done, error: a.error?.code }).toEqual({ done: false, error: 'stream_interrupted' });
  });

  /*
   * Regression (fixed) (OpenAI-compatible passthrough; SSE events with several `data:` lines, which the SSE spec
   * joins with "\n"): the recorded Azure stream, with each chunk's JSON spread over two `data:` lines,
   * is a valid SSE stream of valid chunks. Expected the SDK to assemble "Capital of Denmark.";
   * actual: the SDK throws a SyntaxError (JSON.parse of half a chunk). Diagnosis: plain deltas and
   * unchanged chunks are relayed by their raw upstream text (translate.ts:82 `PlainDelta(data)`,
   * translate.ts:100 `raw: data`), and stream/encode.ts:26 writes it as `data: ${raw}\n\n`: the joined
   * "\n" inside `raw` ends the `data:` line, so the client gets half the JSON in `data:` and the other
   * half as an unknown field it ignores.
   */
  it('azure: chunks whose JSON spans several data: lines reach the SDK intact', async () => {
    const c = cases.find((x) => x.name === 'azure model-router')!;
    const marker = `case-${seq++}`;
    replies.set(marker, { headers: c.headers, chunks: [Buffer.from(multiData(c.bytes.toString('utf8')))] });
    const client = await sdk('azure');
    const final = await client.chat.completions
      .stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: marker }] })
      .finalChatCompletion()
      .catch((e: Error) => e);
    expect(final instanceof Error ? `${final.name}: ${final.message}` : final.choices[0]!.message.content).toBe('Capital of Denmark.');
  });

  /*
   * Regression (fixed) (OpenAI-compatible passthrough; upstream body that ends cleanly in the middle of a line, e.g. a
   * close-delimited HTTP/1.0 body or a proxy that finishes the response on its own timeout): expected
   * the client to get only whole JSON chunks and then the gateway's `stream_interrupted` error event, so
   * the SDK raises an APIError naming the cut; was: the half-received chunk
   * (`…"finish_reason":null,"logprobs`) is relayed verbatim as a `data:` line and the SDK dies on it
   * with a SyntaxError before it reaches the error event. Diagnosis: stream/decode.ts:88 dispatches the
   * unfinished tail as a last event (meant for a final event without its blank line), and
   * translate.ts:82 relays any payload containing `"finish_reason":null` as a PlainDelta without
   * parsing it, so a truncated one is never noticed.
   */
  it('mistral: a body that ends inside a chunk gives the SDK the gateway\'s error, not a JSON SyntaxError', async () => {
    const c = cases.find((x) => x.name === 'mistral text')!;
    const t = c.bytes.toString('utf8');
    const cut = t.indexOf('"finish_reason":null', t.indexOf('"Hello')) + '"finish_reason":null,"logprobs'.length;
    const marker = `case-${seq++}`;
    replies.set(marker, { headers: c.headers, chunks: [c.bytes.subarray(0, cut)] });
    const client = await sdk('mistral');
    const err = await client.chat.completions
      .stream({ model: 'mistral-small-latest', messages: [{ role: 'user', content: marker }] })
      .finalChatCompletion()
      .then(() => undefined, (e: Error) => e);
    // Cut inside the first content chunk, it fails before any content went out: a plain 502 the SDK raises
    // (a fallback could still answer); after content it would be the stream's error event (APIError).
    expect(err && `${err.constructor.name}: ${err.message}`).toMatch(/^(APIError|InternalServerError): .*closed the stream/);
  });
});

describe('runTools', () => {
  beforeEach(() => routeByMarker());
  const rounds: Array<[string, string, Buffer, Buffer, string]> = [
    ['google', 'get_country', fixtureBytes('gemini/streamGenerateContent.tool-call.sse'), fixtureBytes('gemini/streamGenerateContent.after-function-response.sse'), 'Mexico City'],
    ['bedrock', 'get_temperature', fixtureBytes('bedrock/converse-stream.tool-use.eventstream.bin'), fixtureBytes('bedrock/converse-stream.after-tool-result.eventstream.bin'), '30°C'],
    ['cohere', 'weather', concat(sseFromJsonl(fixtureText('cohere/chat-v2.tool-call.chunks.jsonl'), { eventFromType: true })), concat(sseFromJsonl(fixtureText('cohere/chat-v2.text.chunks.jsonl'), { eventFromType: true })), 'Paris'],
    ['anthropic', 'pelican_name_generator', fixtureBytes('anthropic/messages.parallel-tool-use.stream.sse'), fixtureBytes('anthropic/messages.text.stream.sse'), '2'],
  ];
  for (const [provider, fn, first, second, expectText] of rounds) {
    it(`${provider}: runTools runs the streamed tool calls and streams the answer`, async () => {
      const marker = `case-${seq++}`;
      const headers = provider === 'bedrock' ? { 'content-type': 'application/vnd.amazon.eventstream' } : sseHeaders;
      let n = 0;
      upstream.route('*', () => ({ headers, chunks: [n++ === 0 ? first : second] }));
      const client = await sdk(provider);
      const calls: unknown[] = [];
      const names = provider === 'cohere' ? ['weather', 'cityAttractions'] : [fn];
      const runner = client.chat.completions.runTools({
        model: modelOf(provider),
        stream: true,
        messages: [{ role: 'user', content: marker }],
        tools: names.map((name) => ({
          type: 'function' as const,
          function: { name, parameters: { type: 'object', properties: {} }, function: (args: unknown) => (calls.push(args), 'ok'), parse: JSON.parse },
        })),
      });
      const text = await runner.finalContent();
      expect(calls.length).toBeGreaterThan(0);
      expect(text).toContain(expectText);
      expect(upstream.requests.length).toBe(2);
    });
  }
});

