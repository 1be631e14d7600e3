/**
 * Adversarial review: multimodal content across providers — image_url parts (https and data: URLs,
 * `detail`), input_audio, file/PDF parts, in user messages and tool results, through
 * /v1/chat/completions (official `openai` SDK) and /v1/messages (official `@anthropic-ai/sdk`),
 * translated for Anthropic, Gemini, Bedrock (Converse and InvokeModel), Cohere v2 and Mistral.
 * Mock upstreams on 127.0.0.1 answer with recorded fixtures; what each provider receives is read
 * from the mock. The tests pin behaviour checked against the providers' docs.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { cassette, fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
/** A host no request may ever reach: the gateway must not fetch media URLs on a client's behalf. */
let victim: MockUpstream;
const apps: TestApp[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
  victim = await startMockUpstream();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await upstream?.close();
  await victim?.close();
});

const BEDROCK_CLAUDE = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const CONVERSE = `/model/${encodeURIComponent(BEDROCK_CLAUDE)}/converse`;
const INVOKE = `/model/${encodeURIComponent(BEDROCK_CLAUDE)}/invoke`;
const GEMINI = '/v1beta/models/gemini-2.5-flash:generateContent';

const targets = {
  anthropic: () => ({ provider: 'anthropic', api_key: 'sk-ant-mm', custom_host: `${upstream.url}/v1` }),
  google: () => ({ provider: 'google', api_key: 'AIza-mm', custom_host: `${upstream.url}/v1beta` }),
  bedrock: () => ({ provider: 'bedrock', api_key: 'bedrock-mm', aws_region: 'us-east-1', custom_host: upstream.url }),
  bedrockInvoke: () => ({ provider: 'bedrock', api_key: 'bedrock-mm', aws_region: 'us-east-1', custom_host: upstream.url, bedrock_api: 'invoke' }),
  cohere: () => ({ provider: 'cohere', api_key: 'co-mm', custom_host: `${upstream.url}/v2` }),
  mistral: () => ({ provider: 'mistral', api_key: 'mistral-mm', custom_host: `${upstream.url}/v1` }),
  openai: () => ({ provider: 'openai', api_key: 'sk-mm', custom_host: `${upstream.url}/v1` }),
};
type TargetName = keyof typeof targets;

const models: Record<TargetName, string> = {
  anthropic: 'claude-sonnet-4-5',
  google: 'gemini-2.5-flash',
  bedrock: BEDROCK_CLAUDE,
  bedrockInvoke: BEDROCK_CLAUDE,
  cohere: 'command-a-vision-07-2025',
  mistral: 'mistral-small-latest',
  openai: 'gpt-4o',
};

const openaiClients = new Map<TargetName, OpenAI>();
const anthropicClients = new Map<TargetName, Anthropic>();

async function appFor(name: TargetName): Promise<TestApp> {
  const app = await appFactories.express5!({ env: {}, config: { targets: [targets[name]()] } as never });
  apps.push(app);
  return app;
}

async function openaiFor(name: TargetName): Promise<OpenAI> {
  let c = openaiClients.get(name);
  if (!c) {
    const app = await appFor(name);
    c = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client', maxRetries: 0 });
    openaiClients.set(name, c);
  }
  return c;
}

async function anthropicFor(name: TargetName): Promise<Anthropic> {
  let c = anthropicClients.get(name);
  if (!c) {
    const app = await appFor(name);
    c = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client', maxRetries: 0 });
    anthropicClients.set(name, c);
  }
  return c;
}

const invokeAnswer = () => cassette('bedrock/invoke.anthropic-messages.cassette.yaml')[0]!.response.parsed_body;

beforeEach(() => {
  upstream.reset();
  victim.reset();
  victim.route('*', { body: 'GIF89a', headers: { 'content-type': 'image/gif' } });
  upstream.route('/v1/messages', { json: fixtureJson('anthropic/messages.text.json') });
  upstream.route(GEMINI, { json: fixtureJson('gemini/generateContent.text.json') });
  upstream.route(CONVERSE, { json: fixtureJson('bedrock/converse.text.json') });
  upstream.route(INVOKE, { json: invokeAnswer() });
  upstream.route('/v2/chat', { json: fixtureJson('cohere/chat-v2.text.json') });
  upstream.route('/v1/chat/completions', { json: fixtureJson('mistral/chat-completions.text.json') });
});

const sent = () => upstream.requests[upstream.requests.length - 1]!.json;

/** A 1×1 PNG, a tiny PDF, a few bytes of "audio". */
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF').toString('base64');
const WAV = Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt ').toString('base64');

/** Outcome of a call through an SDK: the status, and the error message if it failed. */
async function outcome(p: Promise<unknown>): Promise<{ status: number; message?: string }> {
  try {
    await p;
    return { status: 200 };
  } catch (e) {
    const err = e as { status?: number; message?: string; error?: any };
    const message = err.error?.error?.message ?? err.error?.message ?? err.message;
    return { status: err.status ?? -1, message: String(message) };
  }
}

// ---------------------------------------------------------------------------------------------
// Pinned: what each translator sends for images, audio and files
// ---------------------------------------------------------------------------------------------
describe('image_url parts reach each provider in its own documented form', () => {
  const userTurn = (url: string, detail?: 'low' | 'high' | 'auto') => [
    {
      role: 'user' as const,
      content: [
        { type: 'text' as const, text: 'What is this?' },
        { type: 'image_url' as const, image_url: detail ? { url, detail } : { url } },
      ],
    },
  ];

  it('anthropic: data URL → base64 source (image/jpg normalised to image/jpeg), https URL → url source', async () => {
    const client = await openaiFor('anthropic');
    await client.chat.completions.create({ model: models.anthropic, messages: userTurn(`data:image/png;base64,${PNG}`, 'high') });
    expect(sent().messages[0].content[1]).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } });
    await client.chat.completions.create({ model: models.anthropic, messages: userTurn(`data:image/jpg;base64,${PNG}`) });
    expect(sent().messages[0].content[1].source.media_type).toBe('image/jpeg');
    await client.chat.completions.create({ model: models.anthropic, messages: userTurn('https://example.com/cat.png') });
    expect(sent().messages[0].content[1]).toEqual({ type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } });
  });

  it('gemini: data URL → inlineData with its mimeType, https URL → fileData with a mimeType from the extension', async () => {
    const client = await openaiFor('google');
    await client.chat.completions.create({ model: models.google, messages: userTurn(`data:image/png;base64,${PNG}`) });
    expect(sent().contents[0].parts).toEqual([{ text: 'What is this?' }, { inlineData: { mimeType: 'image/png', data: PNG } }]);
    await client.chat.completions.create({ model: models.google, messages: userTurn('https://example.com/scan.webp?v=2') });
    expect(sent().contents[0].parts[1]).toEqual({ fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/scan.webp?v=2' } });
  });

  it('bedrock converse: data URL → image block with format enum and the base64 bytes', async () => {
    const client = await openaiFor('bedrock');
    await client.chat.completions.create({ model: models.bedrock, messages: userTurn(`data:image/jpeg;base64,${PNG}`) });
    expect(sent().messages[0].content).toEqual([{ text: 'What is this?' }, { image: { format: 'jpeg', source: { bytes: PNG } } }]);
  });

  it('bedrock converse: an https image URL is refused with a 400 naming the part (Bedrock takes bytes only); nothing is fetched', async () => {
    const client = await openaiFor('bedrock');
    const r = await outcome(client.chat.completions.create({ model: models.bedrock, messages: userTurn(`${victim.url}/cat.png`) }));
    expect(r.status).toBe(400);
    expect(r.message).toContain('messages[0].content[1].image_url.url');
    expect(upstream.requests).toHaveLength(0);
    expect(victim.requests).toHaveLength(0);
  });

  it('bedrock converse: an image type outside png|jpeg|gif|webp is refused with a 400 naming the part', async () => {
    const client = await openaiFor('bedrock');
    const r = await outcome(client.chat.completions.create({ model: models.bedrock, messages: userTurn(`data:image/svg+xml;base64,${PNG}`) }));
    expect(r.status).toBe(400);
    expect(r.message).toContain('messages[0].content[1].image_url.url');
    expect(upstream.requests).toHaveLength(0);
  });

  it('bedrock invoke (Claude Messages body): a data URL → base64 image source', async () => {
    const client = await openaiFor('bedrockInvoke');
    await client.chat.completions.create({ model: BEDROCK_CLAUDE, messages: userTurn(`data:image/png;base64,${PNG}`) });
    expect(upstream.requests[0]!.path).toBe(INVOKE);
    expect(sent().messages[0].content[1]).toEqual({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } });
  });

  it('cohere: image_url keeps url and detail (Cohere v2 image_url content)', async () => {
    const client = await openaiFor('cohere');
    await client.chat.completions.create({ model: models.cohere, messages: userTurn(`data:image/png;base64,${PNG}`, 'low') });
    expect(sent().messages[0].content[1]).toEqual({ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'low' } });
  });

  it('mistral: image_url passes in the OpenAI shape Mistral also takes', async () => {
    const client = await openaiFor('mistral');
    await client.chat.completions.create({ model: 'pixtral-12b-latest', messages: userTurn('https://example.com/cat.png', 'auto') });
    expect(sent().messages[0].content[1]).toEqual({ type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'auto' } });
  });

  it('no provider path makes the gateway itself fetch an image URL (SSRF): the URL is handed to the provider or refused', async () => {
    const url = `${victim.url}/internal/admin.png`;
    for (const name of ['anthropic', 'google', 'cohere', 'mistral'] as const) {
      const client = await openaiFor(name);
      await client.chat.completions.create({ model: models[name], messages: userTurn(url) });
    }
    const anthropic = await anthropicFor('google');
    await anthropic.messages.create({
      model: models.google,
      max_tokens: 50,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url } }, { type: 'text', text: 'What is this?' }] }],
    });
    expect(victim.requests).toHaveLength(0);
  });

  // Claude on Bedrock InvokeModel gets no url image source (Bedrock takes bytes only): a remote URL is a 400 naming the part
  it('bedrock invoke: an https image URL is refused with a 400 naming the part, not sent as a url source Bedrock rejects', async () => {
    const client = await openaiFor('bedrockInvoke');
    const r = await outcome(
      client.chat.completions.create({
        model: BEDROCK_CLAUDE,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
      }),
    );
    const urlSources = upstream.requests.flatMap((q) => (q.json?.messages ?? []).flatMap((m: any) => (Array.isArray(m.content) ? m.content : []))).filter((b: any) => b?.source?.type === 'url');
    expect({ status: r.status, names: r.message?.includes('messages[0].content[1].image_url.url'), urlSourcesSent: urlSources.length }).toEqual({
      status: 400,
      names: true,
      urlSourcesSent: 0,
    });
  });

  // data:image/jpg reaches Gemini as image/jpeg (Gemini refuses image/jpg)
  it('gemini: a data:image/jpg URL is sent as image/jpeg (the anthropic and bedrock translators already normalise it)', async () => {
    const client = await openaiFor('google');
    await client.chat.completions.create({
      model: models.google,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/jpg;base64,${PNG}` } }] }],
    });
    expect(sent().contents[0].parts[1]).toEqual({ inlineData: { mimeType: 'image/jpeg', data: PNG } });
  });
});

describe('input_audio and file parts', () => {
  const audioTurn = [
    {
      role: 'user' as const,
      content: [
        { type: 'text' as const, text: 'Transcribe.' },
        { type: 'input_audio' as const, input_audio: { data: WAV, format: 'wav' as const } },
      ],
    },
  ];
  const fileTurn = (filename = 'report.pdf', data = `data:application/pdf;base64,${PDF}`) => [
    {
      role: 'user' as const,
      content: [
        { type: 'text' as const, text: 'Summarize.' },
        { type: 'file' as const, file: { filename, file_data: data } },
      ],
    },
  ];

  it('gemini: input_audio → inlineData audio/wav', async () => {
    const client = await openaiFor('google');
    await client.chat.completions.create({ model: models.google, messages: audioTurn });
    expect(sent().contents[0].parts[1]).toEqual({ inlineData: { mimeType: 'audio/wav', data: WAV } });
  });

  it('providers without audio input refuse input_audio with a 400 naming the part (anthropic, bedrock, cohere)', async () => {
    for (const name of ['anthropic', 'bedrock', 'cohere'] as const) {
      const client = await openaiFor(name);
      const r = await outcome(client.chat.completions.create({ model: models[name], messages: audioTurn }));
      expect({ name, status: r.status, names: r.message?.includes('messages[0].content[1]') }).toEqual({ name, status: 400, names: true });
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it('anthropic: a PDF file part → document block with base64 source and its filename as title', async () => {
    const client = await openaiFor('anthropic');
    await client.chat.completions.create({ model: models.anthropic, messages: fileTurn() });
    expect(sent().messages[0].content[1]).toEqual({ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'report.pdf' });
  });

  it('gemini: a PDF file part → inlineData application/pdf', async () => {
    const client = await openaiFor('google');
    await client.chat.completions.create({ model: models.google, messages: fileTurn() });
    expect(sent().contents[0].parts[1]).toEqual({ inlineData: { mimeType: 'application/pdf', data: PDF } });
  });

  it('bedrock converse: a PDF file part → document block (format pdf, a name Bedrock accepts, bytes)', async () => {
    const client = await openaiFor('bedrock');
    await client.chat.completions.create({ model: models.bedrock, messages: fileTurn('Q3 report_final.v2.pdf') });
    const doc = sent().messages[0].content.find((b: { document?: unknown }) => b.document).document;
    expect(doc).toEqual({ format: 'pdf', name: 'Q3 report-final-v2', source: { bytes: PDF } });
    expect(doc.name).toMatch(/^(?:[A-Za-z0-9\-()[\]]|\s(?!\s))+$/);
  });

  it('cohere refuses a file part with a 400 naming the part (v2 user content is text and image_url)', async () => {
    const client = await openaiFor('cohere');
    const r = await outcome(client.chat.completions.create({ model: models.cohere, messages: fileTurn() }));
    expect(r.status).toBe(400);
    expect(r.message).toContain('messages[0].content[1]');
    expect(upstream.requests).toHaveLength(0);
  });

  it('anthropic: a file part referenced by file_id only is refused with a 400 naming file_data', async () => {
    const client = await openaiFor('anthropic');
    const r = await outcome(
      client.chat.completions.create({ model: models.anthropic, messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc123' } }] }] }),
    );
    expect(r.status).toBe(400);
    expect(r.message).toContain('messages[0].content[0].file.file_data');
    expect(upstream.requests).toHaveLength(0);
  });

  // a document reaches Bedrock Converse with a text block in its turn ("A text block must be included when using documents")
  it('bedrock converse: a user turn holding only a PDF also carries a non-blank text block', async () => {
    const client = await openaiFor('bedrock');
    await client.chat.completions.create({
      model: models.bedrock,
      messages: [{ role: 'user', content: [{ type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${PDF}` } }] }],
    });
    const turn = sent().messages[0];
    expect(turn.content.some((b: { document?: unknown }) => b.document)).toBe(true);
    expect(turn.content.some((b: { text?: string }) => typeof b.text === 'string' && b.text.trim() !== '')).toBe(true);
  });

  // Mistral gets input_audio as its AudioChunk's base64 string, not OpenAI's {data, format}
  it('mistral: input_audio is sent as Mistral defines it (a base64 string) or refused with a 400 naming the part', async () => {
    const client = await openaiFor('mistral');
    const r = await outcome(
      client.chat.completions.create({
        model: 'voxtral-small-latest',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Transcribe.' }, { type: 'input_audio', input_audio: { data: WAV, format: 'wav' } }] }],
      }),
    );
    const part = r.status === 200 ? sent().messages[0].content[1] : undefined;
    const ok = r.status === 200 ? typeof part?.input_audio === 'string' : r.status === 400 && !!r.message?.includes('messages[0].content[1]');
    expect({ status: r.status, sentAs: part, ok }).toMatchObject({ ok: true });
  });

  // OpenAI's inline file part, which Mistral refuses, is a 400 naming the part
  it("mistral: a PDF file part is not forwarded in OpenAI's shape Mistral refuses (translated to document_url, or a 400 naming the part)", async () => {
    const client = await openaiFor('mistral');
    const r = await outcome(
      client.chat.completions.create({
        model: 'mistral-medium-latest',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Summarize.' },
              { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${PDF}` } },
            ],
          },
        ],
      }),
    );
    const part = r.status === 200 ? sent().messages[0].content[1] : undefined;
    const ok = r.status === 200 ? part?.type === 'document_url' : r.status === 400 && !!r.message?.includes('messages[0].content[1]');
    expect({ status: r.status, sentAs: part?.type, ok }).toMatchObject({ ok: true });
  });

  // a malformed percent-encoded data URL to Gemini is a 400 naming the part, not a 500
  it('gemini: a malformed percent-encoded data URL is a 400 naming the part, never a 500', async () => {
    const client = await openaiFor('google');
    const r = await outcome(
      client.chat.completions.create({
        model: models.google,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Read it.' }, { type: 'file', file: { filename: 'n.txt', file_data: 'data:text/plain,100%' } }] }],
      }),
    );
    expect({ status: r.status, names: r.message?.includes('messages[0].content[1]') }).toEqual({ status: 400, names: true });
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('images in tool results', () => {
  const toolTurn = (imagePart: Record<string, unknown>) => [
    { role: 'user' as const, content: 'Take a screenshot.' },
    { role: 'assistant' as const, content: null, tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'screenshot', arguments: '{}' } }] },
    { role: 'tool' as const, tool_call_id: 'call_1', content: [{ type: 'text', text: 'Captured.' }, imagePart] as never },
  ];
  const tools = [{ type: 'function' as const, function: { name: 'screenshot', parameters: { type: 'object', properties: {} } } }];
  const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } };

  it('anthropic keeps the image inside the tool_result (Anthropic tool results take image blocks)', async () => {
    const client = await openaiFor('anthropic');
    await client.chat.completions.create({ model: models.anthropic, tools, messages: toolTurn(image) });
    const result = sent().messages[2].content[0];
    expect(result).toEqual({
      type: 'tool_result',
      tool_use_id: 'call_1',
      content: [
        { type: 'text', text: 'Captured.' },
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
      ],
    });
  });

  it('bedrock and cohere refuse an image in a tool message with a 400 naming the part, rather than dropping it', async () => {
    for (const name of ['bedrock', 'cohere'] as const) {
      const client = await openaiFor(name);
      const r = await outcome(client.chat.completions.create({ model: models[name], tools, messages: toolTurn(image) }));
      expect({ name, status: r.status, names: r.message?.includes('messages[2]') }).toEqual({ name, status: 400, names: true });
    }
    expect(upstream.requests).toHaveLength(0);
  });

  // an image in a tool message reaches Gemini (inlineData after the functionResponse), it is not dropped
  it('gemini: an image in a tool message reaches Gemini (or is refused with a 400), it is not silently dropped', async () => {
    const client = await openaiFor('google');
    const r = await outcome(
      client.chat.completions.create({
        model: models.google,
        tools: [{ type: 'function', function: { name: 'screenshot', parameters: { type: 'object', properties: {} } } }],
        messages: [
          { role: 'user', content: 'Take a screenshot.' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'screenshot', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'call_1', content: [{ type: 'text', text: 'Captured.' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }] as never },
        ],
      }),
    );
    const delivered = r.status === 200 && JSON.stringify(sent().contents).includes(PNG);
    const refused = r.status === 400 && !!r.message?.includes('messages[2].content[1]');
    expect({ status: r.status, deliveredOrRefused: delivered || refused }).toMatchObject({ deliveredOrRefused: true });
  });
});

describe('/v1/messages image and document blocks to translated providers', () => {
  it('gemini gets an Anthropic base64 image and PDF document as inlineData', async () => {
    const client = await anthropicFor('google');
    await client.messages.create({
      model: models.google,
      max_tokens: 50,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'a.pdf' },
            { type: 'text', text: 'Compare.' },
          ],
        },
      ],
    });
    expect(sent().contents[0].parts).toEqual([
      { inlineData: { mimeType: 'image/png', data: PNG } },
      { inlineData: { mimeType: 'application/pdf', data: PDF } },
      { text: 'Compare.' },
    ]);
  });

  it('bedrock converse gets an Anthropic base64 image and PDF as image/document blocks', async () => {
    const client = await anthropicFor('bedrock');
    await client.messages.create({
      model: BEDROCK_CLAUDE,
      max_tokens: 50,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/gif', data: PNG } },
            { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF }, title: 'a.pdf' },
            { type: 'text', text: 'Compare.' },
          ],
        },
      ],
    });
    expect(sent().messages[0].content).toEqual([
      { image: { format: 'gif', source: { bytes: PNG } } },
      { document: { format: 'pdf', name: 'a', source: { bytes: PDF } } },
      { text: 'Compare.' },
    ]);
  });

  // the same for a PDF a tool returns through /v1/messages (Claude Code reading a PDF)
  it('bedrock converse via /v1/messages: a PDF returned by a tool reaches Bedrock with a text block beside it', async () => {
    const client = await anthropicFor('bedrock');
    await client.messages.create({
      model: BEDROCK_CLAUDE,
      max_tokens: 50,
      tools: [{ name: 'read', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'Read report.pdf' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'read', input: {} }] },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: PDF } }] }],
        },
      ],
    });
    const turns = sent().messages as Array<{ role: string; content: Array<Record<string, any>> }>;
    const withDoc = turns.filter((t) => t.content.some((b) => b.document));
    expect(withDoc).toHaveLength(1);
    expect(withDoc[0]!.content.some((b) => typeof b.text === 'string' && b.text.trim() !== '')).toBe(true);
  });

  // a translator's 400 on /v1/messages names the field of the client's Anthropic body, not of the gateway's OpenAI body
  it('/v1/messages to Bedrock: the 400 for a url image source names the field of the Anthropic request the client sent', async () => {
    const client = await anthropicFor('bedrock');
    const r = await outcome(
      client.messages.create({
        model: BEDROCK_CLAUDE,
        max_tokens: 50,
        system: 'Be brief.',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] }],
      }),
    );
    expect(r.status).toBe(400);
    expect(upstream.requests).toHaveLength(0);
    expect(r.message).toContain('messages[0].content[1].source');
  });
});

describe('token budgets with files', () => {
  // a PDF reserves what its pages may bill, so concurrent PDF requests stay within a token budget
  it('a token budget holds when concurrent requests each carry a multi-page PDF (the reservation bounds what the PDF bills)', async () => {
    // Anthropic bills a PDF page as its text (1 500–3 000 tokens) plus the page as an image; a
    // 5-page PDF is ~15 000 input tokens. Edit of the recording: only usage.input_tokens.
    const billed = { ...fixtureJson('anthropic/messages.text.json') };
    billed.usage = { ...billed.usage, input_tokens: 15_000 };
    upstream.route('/v1/messages', { json: billed });
    const app = await appFactories.express5!({
      env: {},
      adminKey: 'admin',
      config: { targets: [targets.anthropic()], budget: { max_tokens_per_day: 20_000 } },
    } as never);
    apps.push(app);
    const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client', maxRetries: 0 });
    const pdf = Buffer.from(`%PDF-1.7\n${'1 0 obj<</Type/Page>>endobj\n'.repeat(5)}%%EOF`).toString('base64');
    const ask = () =>
      outcome(
        client.chat.completions.create({
          model: models.anthropic,
          max_tokens: 50,
          messages: [
            {
              role: 'user',
              content: [
                { type: 'text', text: 'Summarize.' },
                { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${pdf}` } },
              ],
            },
          ],
        }),
      );
    await Promise.all([ask(), ask(), ask()]);
    const res = await app.gateway.handle({ method: 'GET', path: '/usage', headers: { 'x-llmux-admin-key': 'admin' } });
    const row = (res.body as { budgets: Array<{ spent: number; limit: number }> }).budgets[0]!;
    expect({ spent: row.spent, limit: row.limit, within: row.spent <= row.limit }).toMatchObject({ within: true });
  });
});
