import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from '../../../../test/helpers/apps.js';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';

export const GEMINI_KEY = 'AIzaSy-test-gemini-upstream-key';
export const VERTEX_TOKEN = 'ya29.test-vertex-access-token';

export interface GoogleGateway {
  upstream: MockUpstream;
  app: TestApp;
  client: OpenAI;
}

/**
 * A host app whose gateway sends every request to one Google target (`provider: google` by default)
 * at the mock upstream, and an official OpenAI client for it. `target` adds or overrides target keys.
 */
export function googleGateway(target: Record<string, unknown> = {}, options: AppOptions = {}): GoogleGateway {
  const ctx = {} as GoogleGateway;
  beforeAll(async () => {
    ctx.upstream = await startMockUpstream();
    const provider = target.provider ?? 'google';
    const defaults =
      provider === 'vertex-ai'
        ? { api_key: VERTEX_TOKEN, custom_host: `${ctx.upstream.url}/v1`, vertex_project_id: 'my-project', vertex_region: 'europe-west4' }
        : { api_key: GEMINI_KEY, custom_host: `${ctx.upstream.url}/v1beta` };
    ctx.app = await appFactories.express5!({ config: { targets: [{ provider, ...defaults, ...target }] }, ...options });
    ctx.client = new OpenAI({ baseURL: `${ctx.app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await ctx.app?.close();
    await ctx.upstream?.close();
  });
  beforeEach(() => ctx.upstream?.reset());
  return ctx;
}

/** js-genai replay files: one interaction with the request body and the response's status, headers and SSE events. */
export interface Recording {
  request: { url: string; headers: Record<string, string>; body: any; serverAddress: string };
  response: { status: number; headers: Record<string, string>; segments: any[] };
}

export function recording(path: string): Recording {
  const doc = fixtureJson(path) as { interactions: any[] };
  const it = doc.interactions[0]!;
  return {
    request: { url: it.request.url, headers: it.request.headers, body: it.request.bodySegments[0], serverAddress: it.request.serverAddress },
    response: { status: it.response.statusCode, headers: it.response.headers, segments: it.response.bodySegments },
  };
}

/** Replays `bodySegments` the way Gemini sends them: one `data:` event per segment, CRLF separators. */
export const sseFromSegments = (segments: unknown[]) => segments.map((s) => `data: ${JSON.stringify(s)}\r\n\r\n`);

/** The response headers worth replaying (content-type; not lengths or encodings of the original bytes). */
export const replayHeaders = (headers: Record<string, string>) => ({ 'content-type': headers['Content-Type'] ?? 'application/json' });

export type ReasoningMessage = OpenAI.ChatCompletionMessage & {
  reasoning_content?: string;
  extra_content?: { google: { thought_signature: string } };
};
