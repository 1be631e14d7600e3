import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { endpointFor, GEMINI_BASE_URL, VERTEX_BASE_URL } from '../../src/providers/google/endpoints.js';
import type { CallContext } from '../../src/providers/types.js';
import { appFactories, type TestApp } from '../../../../test/helpers/apps.js';
import { cassette, fixtureJson, fixtureText, splitSse } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';
import { googleGateway, recording, replayHeaders, sseFromSegments, VERTEX_TOKEN } from './google-setup.js';

const user = [{ role: 'user' as const, content: 'Hi' }];

function ctx(provider: string, baseURL: string, extra: Record<string, unknown>, model = 'gemini-2.5-flash'): CallContext {
  return {
    target: { path: 'config.targets[0]', index: 0, provider, baseURL, overrideParams: {}, forwardHeaders: [], weight: 1, extra },
    model,
    stream: false,
    headers: {},
  };
}

describe('google and vertex-ai URLs', () => {
  it('builds the default Gemini and Vertex URLs, regional and global', () => {
    expect(endpointFor('gemini', 'generateContent', ctx('google', GEMINI_BASE_URL, {}))).toBe(
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent',
    );
    expect(endpointFor('gemini', 'streamGenerateContent', ctx('google', GEMINI_BASE_URL, {}, 'tunedModels/my-tune'))).toBe(
      'https://generativelanguage.googleapis.com/v1beta/tunedModels/my-tune:streamGenerateContent?alt=sse',
    );
    const project = { vertex_project_id: 'acme-prod' };
    expect(endpointFor('vertex', 'generateContent', ctx('vertex-ai', VERTEX_BASE_URL, { ...project, vertex_region: 'europe-west4' }))).toBe(
      'https://europe-west4-aiplatform.googleapis.com/v1/projects/acme-prod/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent',
    );
    expect(endpointFor('vertex', 'streamGenerateContent', ctx('vertex-ai', VERTEX_BASE_URL, { ...project, vertex_region: 'global' }))).toBe(
      'https://aiplatform.googleapis.com/v1/projects/acme-prod/locations/global/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
    );
    expect(endpointFor('vertex', 'predict', ctx('vertex-ai', VERTEX_BASE_URL, project, 'text-embedding-005'))).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/acme-prod/locations/us-central1/publishers/google/models/text-embedding-005:predict',
    );
    expect(endpointFor('vertex', 'generateContent', ctx('vertex-ai', VERTEX_BASE_URL, project, 'endpoints/1234'))).toBe(
      'https://us-central1-aiplatform.googleapis.com/v1/projects/acme-prod/locations/us-central1/endpoints/1234:generateContent',
    );
  });

  it('names vertex_project_id when it is missing, and refuses a region that is no location', () => {
    const missing = () => endpointFor('vertex', 'generateContent', ctx('vertex-ai', VERTEX_BASE_URL, {}));
    expect(missing).toThrow(GatewayError);
    expect(missing).toThrow(/config\.targets\[0\]\.vertex_project_id is required/);
    expect(() => endpointFor('vertex', 'generateContent', ctx('vertex-ai', VERTEX_BASE_URL, { vertex_project_id: 'p', vertex_region: 'evil.com/x' }))).toThrow(/vertex_region/);
  });
});

describe('vertex-ai chat through the gateway', () => {
  const v = googleGateway({ provider: 'vertex-ai' });

  it('sends generateContent to the project path with the Bearer token, never an API key', async () => {
    const path = '/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent';
    v.upstream.enqueue(path, { json: fixtureJson('gemini/generateContent.text.json') });
    const res = await v.client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user, temperature: 0.5 }).withResponse();
    const sent = v.upstream.requests[0]!;
    expect(sent.path).toBe(path);
    expect(sent.headers.authorization).toBe(`Bearer ${VERTEX_TOKEN}`);
    expect(sent.headers['x-goog-api-key']).toBeUndefined();
    expect(sent.json).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }], generationConfig: { temperature: 0.5 } });
    expect(res.response.headers.get('x-llmux-provider')).toBe('vertex-ai');
    expect(res.data.choices[0]!.message.content).toMatch(/^There are \*\*3\*\* r's/);
  });

  it('streams the recorded Vertex SSE (vertex.streamGenerateContent.sse + cassette) at the recorded URL', async () => {
    const [rec] = cassette('gemini/vertex.streamGenerateContent.cassette.yaml');
    const uri = new URL(rec!.request.uri);
    // The recording's host and version (`https://aiplatform.googleapis.com/v1beta1`) become custom_host.
    const upstream = await startMockUpstream();
    const app = await appFactories.express5!({
      config: { targets: [{ provider: 'vertex-ai', api_key: VERTEX_TOKEN, custom_host: `${upstream.url}/v1beta1`, vertex_project_id: 'pydantic-ai', vertex_region: 'global' }] },
    });
    try {
      upstream.enqueue(uri.pathname, { chunks: splitSse(fixtureText('gemini/vertex.streamGenerateContent.sse')) });
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'gemini-3-flash-preview',
        messages: [{ role: 'user', content: 'Reply with exactly: OK' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: OpenAI.CompletionUsage | undefined;
      const finish: string[] = [];
      for await (const c of stream) {
        text += c.choices[0]?.delta.content ?? '';
        if (c.choices[0]?.finish_reason) finish.push(c.choices[0].finish_reason);
        usage = c.usage ?? usage;
      }
      const sent = upstream.requests[0]!;
      expect(sent.path).toBe(uri.pathname + uri.search);
      expect(sent.headers.authorization).toBe(`Bearer ${VERTEX_TOKEN}`);
      expect(sent.json.contents).toEqual(rec!.request.parsed_body.contents);
      expect(text).toBe('OK');
      expect(finish).toEqual(['stop']);
      expect(usage).toMatchObject({
        prompt_tokens: 5,
        completion_tokens: 101,
        total_tokens: 106,
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 100 },
      });
    } finally {
      await app.close();
      await upstream.close();
    }
  });

  it('streams the js-genai Vertex recording: usage only on the last event (vertex.streamGenerateContent.recording.json)', async () => {
    const rec = recording('gemini/vertex.streamGenerateContent.recording.json');
    const path = '/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:streamGenerateContent';
    v.upstream.enqueue(path, { headers: replayHeaders(rec.response.headers), chunks: sseFromSegments(rec.response.segments) });
    const runner = v.client.chat.completions.stream({
      model: 'gemini-2.5-flash',
      messages: [{ role: 'user', content: 'why is the sky blue?' }],
      max_tokens: 200,
      n: 1,
      stream_options: { include_usage: true },
    });
    const done = await runner.finalChatCompletion();
    expect(rec.request.url).toMatch(/^\/v1beta1\/projects\/REDACTED\/locations\/REDACTED\/publishers\/google\/models\/gemini-2.5-flash:streamGenerateContent\?alt=sse$/);
    expect(v.upstream.requests[0]!.path).toBe(`${path}?alt=sse`);
    expect(v.upstream.requests[0]!.json.generationConfig).toEqual({ candidateCount: 1, maxOutputTokens: 200 });
    expect(done.choices[0]!.message.content).toBe(rec.response.segments.map((s) => s.candidates[0].content.parts[0].text).join(''));
    expect(done.choices[0]!.finish_reason).toBe('length');
    expect(done.created).toBe(Math.floor(Date.parse('2025-10-24T07:45:43.133318Z') / 1000));
    expect(done.usage).toMatchObject({ prompt_tokens: 6, completion_tokens: 156 + 41, total_tokens: 203 });
  });

  it('reports a missing vertex_project_id as a 400 naming the config path', async () => {
    const app = await appFactories.express5!({ config: { targets: [{ provider: 'vertex-ai', api_key: VERTEX_TOKEN, custom_host: `${v.upstream.url}/v1` }] } });
    try {
      const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const err = await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user }).catch((e) => e);
      expect(err.status).toBe(400);
      expect(err.error.message).toContain('config.targets[0].vertex_project_id');
      expect(v.upstream.requests).toHaveLength(0);
    } finally {
      await app.close();
    }
  });
});

describe('google without a config: the model name picks the provider, the key comes from the environment', () => {
  let upstream: MockUpstream;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    upstream = await startMockUpstream();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await upstream.close();
  });

  async function clientFor(env: Record<string, string>) {
    const app = await appFactories.express5!({ env, providers: { google: { baseURL: `${upstream.url}/v1beta` } } });
    apps.push(app);
    return new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  }

  it('routes gemini-… and google/… models to Gemini with GEMINI_API_KEY, falling back to GOOGLE_API_KEY', async () => {
    upstream.route('*', { json: fixtureJson('gemini/generateContent.text.json') });
    const both = await clientFor({ GEMINI_API_KEY: 'AIza-from-gemini-env', GOOGLE_API_KEY: 'AIza-from-google-env' });
    const res = await both.chat.completions.create({ model: 'gemini-2.5-flash', messages: user }).withResponse();
    expect(res.response.headers.get('x-llmux-provider')).toBe('google');
    await both.chat.completions.create({ model: 'google/gemini-2.0-flash', messages: user });
    await both.chat.completions.create({ model: 'gemini/gemini-2.0-flash-lite', messages: user });
    const onlyGoogle = await clientFor({ GOOGLE_API_KEY: 'AIza-from-google-env' });
    await onlyGoogle.chat.completions.create({ model: 'gemini-2.5-pro', messages: user });
    expect(upstream.requests.map((r) => [r.path, r.headers['x-goog-api-key']])).toEqual([
      ['/v1beta/models/gemini-2.5-flash:generateContent', 'AIza-from-gemini-env'],
      ['/v1beta/models/gemini-2.0-flash:generateContent', 'AIza-from-gemini-env'],
      ['/v1beta/models/gemini-2.0-flash-lite:generateContent', 'AIza-from-gemini-env'],
      ['/v1beta/models/gemini-2.5-pro:generateContent', 'AIza-from-google-env'],
    ]);
  });
});

describe('vertex-ai with a service account key file (vertex_service_account_json)', () => {
  let upstream: MockUpstream;
  let app: TestApp;
  let client: OpenAI;
  let publicKey: CryptoKey;
  let keyFile: Record<string, string>;
  const chatPath = '/v1/projects/sa-project/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent';

  beforeAll(async () => {
    upstream = await startMockUpstream();
    const pair = (await crypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    )) as CryptoKeyPair;
    publicKey = pair.publicKey;
    const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', pair.privateKey)).toString('base64');
    const pem = `-----BEGIN PRIVATE KEY-----\n${der.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
    keyFile = { type: 'service_account', project_id: 'sa-project', client_email: 'llmux@sa-project.iam.gserviceaccount.com', private_key: pem, token_uri: `${upstream.url}/token` };
    app = await appFactories.express5!({
      config: {
        targets: [{ provider: 'vertex-ai', custom_host: `${upstream.url}/v1`, vertex_region: 'us-east5', vertex_service_account_json: JSON.stringify(keyFile) }],
      },
    });
    client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await app.close();
    await upstream.close();
  });

  it('signs a JWT, trades it for a token once, and sends that token on every call', async () => {
    upstream.route('/token', { json: { access_token: 'ya29.minted-token', expires_in: 3599, token_type: 'Bearer' } });
    upstream.route(chatPath, { json: fixtureJson('gemini/generateContent.text.json') });
    await Promise.all([client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user }), client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user })]);
    await client.chat.completions.create({ model: 'gemini-2.5-flash', messages: user });
    const tokenCalls = upstream.requests.filter((r) => r.path === '/token');
    const chats = upstream.requests.filter((r) => r.path === chatPath);
    expect(tokenCalls).toHaveLength(1);
    expect(chats.map((r) => r.headers.authorization)).toEqual(Array(3).fill('Bearer ya29.minted-token'));

    const form = new URLSearchParams(tokenCalls[0]!.text);
    expect(tokenCalls[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [header, claims, signature] = form.get('assertion')!.split('.');
    const decode = (s: string) => Buffer.from(s, 'base64url');
    expect(JSON.parse(decode(header!).toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
    const payload = JSON.parse(decode(claims!).toString());
    expect(payload).toMatchObject({ iss: keyFile.client_email, aud: keyFile.token_uri, scope: 'https://www.googleapis.com/auth/cloud-platform' });
    expect(payload.exp - payload.iat).toBe(3600);
    const valid = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', publicKey, decode(signature!), new TextEncoder().encode(`${header}.${claims}`));
    expect(valid).toBe(true);
  });

  it('refuses a token endpoint outside Google and the target host, naming the setting', async () => {
    const other = await appFactories.express5!({
      config: { targets: [{ provider: 'vertex-ai', custom_host: `${upstream.url}/v1`, vertex_service_account_json: { ...keyFile, token_uri: 'http://169.254.169.254/token' } }] },
    });
    try {
      const c = new OpenAI({ baseURL: `${other.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const before = upstream.requests.length;
      const err = await c.chat.completions.create({ model: 'gemini-2.5-flash', messages: user }).catch((e) => e);
      expect(err.status).toBe(400);
      expect(err.error.param).toBe('config.targets[0].vertex_service_account_json');
      expect(upstream.requests.length).toBe(before);
    } finally {
      await other.close();
    }
  });

  it('answers 401 when Google refuses the key file', async () => {
    const refused = await appFactories.express5!({
      config: {
        targets: [
          {
            provider: 'vertex-ai',
            custom_host: `${upstream.url}/v1`,
            vertex_service_account_json: { ...keyFile, client_email: 'revoked@sa-project.iam.gserviceaccount.com', token_uri: `${upstream.url}/token-refused` },
          },
        ],
      },
    });
    try {
      upstream.route('/token-refused', { status: 400, json: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } });
      const c = new OpenAI({ baseURL: `${refused.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
      const err = await c.chat.completions.create({ model: 'gemini-2.5-flash', messages: user }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(err.error).toMatchObject({ type: 'authentication_error', code: 'invalid_grant' });
      expect(err.error.message).toContain('Invalid JWT Signature.');
      expect(err.error.message).not.toContain('PRIVATE KEY');
    } finally {
      await refused.close();
    }
  });
});
