import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createGateway } from '@llmux/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * `allow_storage_uris: false` on a Gemini or Vertex AI target: a client may not name files that Google
 * reads with the gateway's own credentials (Cloud Storage objects through Vertex's service account,
 * Files API uploads under the API key), since the model would read — and could repeat — any object
 * the gateway's account may read. Inline data and public web URLs still go. Default: allowed, as in
 * Google's SDKs and Portkey. Through the real Express adapter with the official SDKs.
 */

let upstream: MockUpstream;
const apps: TestApp[] = [];

beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await upstream?.close();
});
beforeEach(() => {
  upstream.reset();
  upstream.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
});

const vertex = (extra: Record<string, unknown> = {}) => ({
  provider: 'vertex-ai',
  api_key: 'ya29.storage',
  custom_host: `${upstream.url}/v1`,
  vertex_project_id: 'proj',
  vertex_region: 'europe-west4',
  ...extra,
});
const google = (extra: Record<string, unknown> = {}) => ({ provider: 'google', api_key: 'AIza-storage', custom_host: `${upstream.url}/v1beta`, ...extra });

async function clientFor(options: Record<string, unknown>): Promise<{ openai: OpenAI; anthropic: Anthropic; app: TestApp }> {
  const app = await appFactories.express5!({ env: {}, ...options } as never);
  apps.push(app);
  return {
    app,
    openai: new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client', maxRetries: 0 }),
    anthropic: new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client', maxRetries: 0 }),
  };
}

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const withImage = (url: string): OpenAI.ChatCompletionMessageParam[] => [
  { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url } }] },
];

async function failure(p: Promise<unknown>): Promise<{ status: number; message: string; param?: string | null }> {
  try {
    await p;
  } catch (e) {
    const err = e as OpenAI.APIError;
    return { status: err.status ?? 0, message: err.message, param: (err.error as { param?: string } | undefined)?.param ?? null };
  }
  throw new Error('the call succeeded');
}

const sentParts = () => (upstream.requests.at(-1)!.json as { contents: Array<{ parts: Array<Record<string, unknown>> }> }).contents[0]!.parts;

describe('default: storage URIs go to Google as file references', () => {
  it('a gs:// image reaches Vertex as fileData.fileUri', async () => {
    const { openai } = await clientFor({ config: { targets: [vertex()] } });
    await openai.chat.completions.create({ model: 'gemini-2.5-flash', messages: withImage('gs://bucket/cat.png') });
    expect(sentParts()[1]).toEqual({ fileData: { mimeType: 'image/png', fileUri: 'gs://bucket/cat.png' } });
  });
});

describe('allow_storage_uris: false', () => {
  const refused: Array<[string, string]> = [
    ['a gs:// object', 'gs://tenant-b-private/payroll.png'],
    ['a Cloud Storage URL', 'https://storage.googleapis.com/tenant-b-private/payroll.png'],
    ['a Files API upload', 'https://generativelanguage.googleapis.com/v1beta/files/abc123'],
    ['a Cloud Storage URL behind userinfo, upper case and a trailing dot', 'https://me@STORAGE.GoogleApis.com./tenant-b-private/payroll.png'],
    ['an authenticated Cloud Storage download URL', 'https://storage.cloud.google.com/tenant-b-private/payroll.png'],
  ];
  for (const [what, url] of refused) {
    it(`Vertex: ${what} is a 400 naming the part; nothing goes upstream`, async () => {
      const { openai } = await clientFor({ config: { targets: [vertex({ allow_storage_uris: false })] } });
      const err = await failure(openai.chat.completions.create({ model: 'gemini-2.5-flash', messages: withImage(url) }));
      expect(err.status).toBe(400);
      expect(err.param).toBe('messages[0].content[1].image_url.url');
      expect(err.message).toContain('allow_storage_uris');
      expect(upstream.requests).toHaveLength(0);
    });
  }

  it('Gemini API: a file_id (an uploaded file) is a 400 naming file.file_id', async () => {
    const { openai } = await clientFor({ config: { targets: [google({ allow_storage_uris: false })] } });
    const err = await failure(
      openai.chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Summarise' }, { type: 'file', file: { file_id: 'files/abc123' } }] }],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages[0].content[1].file.file_id');
    expect(upstream.requests).toHaveLength(0);
  });

  it("a Gemini cached_content (a stored context under the target's project) is a 400 naming it", async () => {
    const { openai } = await clientFor({ config: { targets: [vertex({ allow_storage_uris: false })] } });
    const err = await failure(
      openai.chat.completions.create({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'Go on' }], cached_content: 'projects/proj/locations/europe-west4/cachedContents/42' } as never),
    );
    expect(err.status).toBe(400);
    expect(err.param).toBe('cached_content');
    expect(upstream.requests).toHaveLength(0);
  });

  it('media in a tool answer are held to the same rule', async () => {
    const { openai } = await clientFor({ config: { targets: [vertex({ allow_storage_uris: false })] } });
    const err = await failure(
      openai.chat.completions.create({
        model: 'gemini-2.5-flash',
        messages: [
          { role: 'user', content: 'Show me the chart' },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'chart', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: [{ type: 'image_url', image_url: { url: 'gs://other/chart.png' } }] as never },
        ],
      }),
    );
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages[2].content[0].image_url.url');
  });

  it('inline data and a public web URL still go', async () => {
    const { openai } = await clientFor({ config: { targets: [vertex({ allow_storage_uris: false })] } });
    await openai.chat.completions.create({ model: 'gemini-2.5-flash', messages: withImage(`data:image/png;base64,${PNG}`) });
    expect(sentParts()[1]).toEqual({ inlineData: { mimeType: 'image/png', data: PNG } });
    await openai.chat.completions.create({ model: 'gemini-2.5-flash', messages: withImage('https://example.com/cat.png') });
    expect(sentParts()[1]).toEqual({ fileData: { mimeType: 'image/png', fileUri: 'https://example.com/cat.png' } });
    // A host that only begins like Google's is someone else's public site.
    await openai.chat.completions.create({ model: 'gemini-2.5-flash', messages: withImage('https://googleapis.com.example.org/cat.png') });
    expect(sentParts()[1]).toMatchObject({ fileData: { fileUri: 'https://googleapis.com.example.org/cat.png' } });
  });

  it('/v1/messages: an Anthropic URL image source naming gs:// is an Anthropic-shaped 400 naming the client\'s field', async () => {
    const { anthropic } = await clientFor({ config: { targets: [vertex({ allow_storage_uris: false })] } });
    const err = await anthropic.messages
      .create({
        model: 'gemini-2.5-flash',
        max_tokens: 100,
        messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image', source: { type: 'url', url: 'gs://bucket/cat.png' } }] }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect((err as Anthropic.APIError).error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((err as Anthropic.APIError).message).toContain('messages[0].content[1].source');
    expect(upstream.requests).toHaveLength(0);
  });

  it("the server's false under `providers` holds for a client's config, which cannot lift it", async () => {
    const { app } = await clientFor({ allowRequestConfig: true, providers: { 'vertex-ai': { allow_storage_uris: false } } });
    const clientConfig = {
      targets: [{ provider: 'vertex-ai', vertex_project_id: 'proj', vertex_region: 'europe-west4', api_key: 'ya29.client', allow_storage_uris: true }],
    };
    // The client's config has no custom_host here, so the call would go to Google itself: the refusal
    // must come before any network, which the 400 (not a connection error) shows.
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-portkey-config': JSON.stringify(clientConfig) },
      body: JSON.stringify({ model: 'gemini-2.5-flash', messages: withImage('gs://server-bucket/secret.png') }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('messages[0].content[1].image_url.url');
    expect(body.error.message).toContain('allow_storage_uris');
  });

  it('a value that is not a boolean fails createGateway, naming the field', () => {
    expect(() => createGateway({ config: { targets: [vertex({ allow_storage_uris: 'no' })] } as never })).toThrow(/config\.targets\[0\]\.allow_storage_uris must be true or false/);
  });
});
