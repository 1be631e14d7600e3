/**
 * Cloud-provider auth and URL building, from an adversarial review: Bedrock SigV4 (the signature is
 * recomputed here with node:crypto from the AWS SigV4 documentation, never taken from the code's own
 * signer), Vertex AI URLs and service-account tokens (the JWT is verified with the key pair's public
 * half), Azure OpenAI deployment URLs, `custom_host` joins, and credentials staying inside the gateway.
 * Real Express apps, the `openai` and `portkey-ai` SDKs, every upstream the mock on 127.0.0.1.
 */
import { createHash, createHmac, createVerify, generateKeyPairSync } from 'node:crypto';
import OpenAI from 'openai';
import { Portkey } from 'portkey-ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Gateway, RequestLogRecord } from '@llmux/core';
import { appFactories, type TestApp } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { eventStream, framesOf } from './helpers/bedrock-frames.js';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from './helpers/mock-upstream.js';

let up: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  up = await startMockUpstream();
});
afterAll(async () => {
  for (const a of apps) await a.close();
  await up.close();
});
beforeEach(() => up.reset());

async function start(options: Record<string, unknown>): Promise<{ app: TestApp; client: OpenAI }> {
  const a = await appFactories.express5!({ env: {}, ...options } as never);
  apps.push(a);
  return { app: a, client: new OpenAI({ baseURL: `${a.gatewayURL}/v1`, apiKey: 'client-key', maxRetries: 0 }) };
}

/** Sends every upstream call of `gateway` to the mock instead, keeping path and query; returns the URLs the gateway built. */
function redirect(gateway: Gateway): string[] {
  const urls: string[] = [];
  const client = (gateway as any).internals.client;
  const send = client.send.bind(client);
  client.send = (req: { url: string }, signal: unknown, clientHost: unknown) => {
    urls.push(req.url);
    const u = new URL(req.url);
    return send({ ...req, url: `${up.url}${u.pathname}${u.search}` }, signal, clientHost);
  };
  return urls;
}

const hi = [{ role: 'user' as const, content: 'Hi' }];
const pathOf = (r: RecordedRequest) => r.path.split('?')[0]!;

// ---------------------------------------------------------------------------------------------------
// SigV4 from the AWS documentation ("Create a signed AWS API request"): canonical request, string to
// sign, HMAC key derivation. For every service but S3 each path segment is URI-encoded twice: the path
// as sent already holds `%3A` for the `:` of a model id, so its canonical form holds `%253A`.
// ---------------------------------------------------------------------------------------------------
const sha256hex = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const hmac = (k: string | Buffer, d: string) => createHmac('sha256', k).update(d, 'utf8').digest();
/** AWS UriEncode: everything but A-Z a-z 0-9 - _ . ~ percent-encoded, upper-case hex. */
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

interface SigV4Check {
  accessKey: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  canonicalUri: string;
  signature: string;
  expected: string;
}

function recomputeSigV4(req: RecordedRequest, secret: string): SigV4Check {
  const auth = String(req.headers.authorization);
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) throw new Error(`not a SigV4 Authorization header: ${auth}`);
  const [, accessKey, date, region, service, signedHeaders, signature] = m as unknown as string[];
  const amzDate = String(req.headers['x-amz-date']);
  const [rawPath, rawQuery = ''] = req.path.split('?') as [string, string?];
  const canonicalUri = rawPath.split('/').map(uriEncode).join('/');
  const canonicalQuery = rawQuery
    ? rawQuery
        .split('&')
        .map((p) => p.split('=').map((x) => uriEncode(decodeURIComponent(x))))
        .sort((a, b) => (a[0]! === b[0]! ? (a[1]! < b[1]! ? -1 : 1) : a[0]! < b[0]! ? -1 : 1))
        .map(([k, v]) => `${k}=${v ?? ''}`)
        .join('&')
    : '';
  const names = signedHeaders!.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  // The body bytes the upstream received, not what the gateway meant to send.
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders, sha256hex(Buffer.from(req.text, 'utf8'))].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const kSigning = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), 'aws4_request');
  const expected = createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
  expect(amzDate.slice(0, 8), 'x-amz-date and the credential scope name the same day').toBe(date);
  return { accessKey: accessKey!, date: date!, region: region!, service: service!, signedHeaders: names, canonicalUri, signature: signature!, expected };
}

const AK = 'AKIAIOSFODNN7EXAMPLE';
const SK = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const ST = 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDcloudAuthEdgesToken';
const bedrock = (extra: Record<string, unknown> = {}) => ({
  provider: 'bedrock',
  aws_access_key_id: AK,
  aws_secret_access_key: SK,
  aws_session_token: ST,
  aws_region: 'eu-west-3',
  custom_host: up.url,
  ...extra,
});

describe('Bedrock SigV4, recomputed with node:crypto', () => {
  it('converse: a model id with ":" is one encoded path label, the session token is sent and signed, the exact (non-ASCII) body bytes are hashed', async () => {
    const { client } = await start({ config: { targets: [bedrock()] } });
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const res = await client.chat.completions.create({ model: 'anthropic.claude-3-haiku-20240307-v1:0', messages: [{ role: 'user', content: 'héllo ☃ 😀 — ünïcode' }] });
    expect(res.choices[0]!.message.content).toBe(fixtureJson('bedrock/converse.text.json').output.message.content[0].text);
    const req = up.requests[0]!;
    expect(req.path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(req.headers['x-amz-security-token']).toBe(ST);
    const v = recomputeSigV4(req, SK);
    expect(v).toMatchObject({ accessKey: AK, region: 'eu-west-3', service: 'bedrock', canonicalUri: '/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse' });
    expect(v.signedHeaders).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token', 'content-type']));
    expect(v.signature).toBe(v.expected);
  });

  it('inference-profile ARNs (":" and "/") stay one path segment and sign as AWS computes it', async () => {
    const { client } = await start({ config: { targets: [bedrock()] } });
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const models = [
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6',
      'us.meta.llama3-2-1b-instruct-v1:0',
    ];
    for (const model of models) await client.chat.completions.create({ model, messages: hi });
    expect(up.requests.map((r) => r.path)).toEqual(models.map((m) => `/model/${encodeURIComponent(m)}/converse`));
    for (const r of up.requests) {
      const v = recomputeSigV4(r, SK);
      expect(v.canonicalUri).not.toContain('%2F');
      expect(v.signature).toBe(v.expected);
    }
  });

  it('converse-stream: its own path, the event-stream Accept header, a valid signature, and the recorded text reaches the client', async () => {
    const { client } = await start({ config: { targets: [bedrock()] } });
    const frames = framesOf('bedrock/converse-stream.text.eventstream.bin');
    up.route('*', eventStream(frames));
    let text = '';
    for await (const c of await client.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi, stream: true })) text += c.choices[0]?.delta.content ?? '';
    const expected = frames.filter((f) => f.event === 'contentBlockDelta').map((f) => (f.body as any).delta.text ?? '').join('');
    expect(text).toBe(expected);
    const req = up.requests[0]!;
    expect(req.path).toBe('/model/amazon.nova-micro-v1%3A0/converse-stream');
    expect(req.headers.accept).toBe('application/vnd.amazon.eventstream');
    const v = recomputeSigV4(req, SK);
    expect(v.signature).toBe(v.expected);
  });

  it('Titan embeddings: one signed InvokeModel per input; bedrock_api "invoke" signs the Messages body it sends', async () => {
    const { client } = await start({ config: { targets: [bedrock()] } });
    up.route('*', { json: { embedding: [0.1, 0.2, 0.3], inputTextTokenCount: 2 } });
    const e = await client.embeddings.create({ model: 'amazon.titan-embed-text-v2:0', input: ['first ü', 'second'], encoding_format: 'float' });
    expect(e.data).toHaveLength(2);
    expect(up.requests.map((r) => r.path)).toEqual(['/model/amazon.titan-embed-text-v2%3A0/invoke', '/model/amazon.titan-embed-text-v2%3A0/invoke']);
    expect(up.requests.map((r) => r.json.inputText).sort()).toEqual(['first ü', 'second']);
    for (const r of up.requests) {
      const v = recomputeSigV4(r, SK);
      expect(v.signature).toBe(v.expected);
    }

    up.reset();
    const { client: invoke } = await start({ config: { targets: [bedrock({ bedrock_api: 'invoke' })] } });
    up.route('*', { json: fixtureJson('anthropic/messages.text.json') });
    await invoke.chat.completions.create({ model: 'anthropic.claude-3-haiku-20240307-v1:0', messages: hi, max_tokens: 50 });
    const req = up.requests[0]!;
    expect(req.path).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke');
    expect(req.json.anthropic_version).toBe('bedrock-2023-05-31');
    const v = recomputeSigV4(req, SK);
    expect(v.signature).toBe(v.expected);
  });

  it('keys and region from the environment, forwarded headers signed as sent (whitespace collapsed)', async () => {
    const { app } = await start({
      env: { AWS_REGION: 'ap-south-1', AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK },
      config: { targets: [{ provider: 'bedrock', custom_host: up.url, forward_headers: ['x-tenant'] }] },
    });
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant': 'acme   corp' },
      body: JSON.stringify({ model: 'amazon.nova-micro-v1:0', messages: hi }),
    });
    expect(res.status).toBe(200);
    const req = up.requests[0]!;
    expect(req.headers['x-tenant']).toBe('acme   corp');
    expect(req.headers['x-amz-security-token']).toBeUndefined();
    const v = recomputeSigV4(req, SK);
    expect(v).toMatchObject({ region: 'ap-south-1', service: 'bedrock' });
    expect(v.signedHeaders).toContain('x-tenant');
    expect(v.signature).toBe(v.expected);
  });

  it('the default host carries the configured region; a Bedrock API key is a Bearer token with no SigV4 headers', async () => {
    const { app, client } = await start({ config: { targets: [{ provider: 'bedrock', api_key: 'ABSKbedrockApiKeyForTests', aws_region: 'us-gov-west-1' }] } });
    const urls = redirect(app.gateway);
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    await client.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi });
    expect(urls).toEqual(['https://bedrock-runtime.us-gov-west-1.amazonaws.com/model/amazon.nova-micro-v1%3A0/converse']);
    expect(up.requests[0]!.headers.authorization).toBe('Bearer ABSKbedrockApiKeyForTests');
    expect(up.requests[0]!.headers['x-amz-date']).toBeUndefined();
  });

  it('a custom_host with a path prefix and trailing slashes: the path is joined once and signed as sent', async () => {
    const { client } = await start({ config: { targets: [bedrock({ custom_host: `${up.url}/proxy/bedrock//` })] } });
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    await client.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi });
    const req = up.requests[0]!;
    expect(req.path).toBe('/proxy/bedrock/model/amazon.nova-micro-v1%3A0/converse');
    const v = recomputeSigV4(req, SK);
    expect(v.signature).toBe(v.expected);
  });
});

// ---------------------------------------------------------------------------------------------------
// Vertex AI
// ---------------------------------------------------------------------------------------------------
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const geminiAnswer = fixtureJson('gemini/generateContent.text.json');

describe('Vertex AI URLs and tokens', () => {
  it('regional, default (us-central1) and global hosts; the api_key goes as a Bearer token', async () => {
    const cases: Array<[string | undefined, string]> = [
      ['global', 'https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers/google/models/gemini-2.0-flash-001:generateContent'],
      ['europe-west4', 'https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash-001:generateContent'],
      [undefined, 'https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.0-flash-001:generateContent'],
    ];
    for (const [region, url] of cases) {
      up.reset();
      up.route('*', { json: geminiAnswer });
      const { app, client } = await start({ config: { targets: [{ provider: 'vertex-ai', api_key: 'ya29.static-token', vertex_project_id: 'my-proj', ...(region ? { vertex_region: region } : {}) }] } });
      const urls = redirect(app.gateway);
      await client.chat.completions.create({ model: 'gemini-2.0-flash-001', messages: hi });
      expect(urls).toEqual([url]);
      expect(up.requests[0]!.headers.authorization).toBe('Bearer ya29.static-token');
    }
  });

  it('a service account: RS256 JWT (iss, scope, aud, one hour) verified with its public key, the minted token used and cached, the project taken from the key file', async () => {
    const sa = { type: 'service_account', project_id: 'sa-proj', client_email: 'bot@sa-proj.iam.gserviceaccount.com', private_key: PEM, token_uri: `${up.url}/token` };
    const { client } = await start({ config: { targets: [{ provider: 'vertex-ai', custom_host: `${up.url}/v1`, vertex_region: 'us-east5', vertex_service_account_json: JSON.stringify(sa) }] } });
    up.route('/token', { json: { access_token: 'ya29.minted-token-for-tests', expires_in: 3599, token_type: 'Bearer' } });
    up.route('*', { json: geminiAnswer });
    await client.chat.completions.create({ model: 'gemini-2.0-flash-001', messages: hi });
    await client.chat.completions.create({ model: 'gemini-2.0-flash-001', messages: hi });
    const tokenCalls = up.requests.filter((r) => r.path === '/token');
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(tokenCalls[0]!.text);
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
    const [h, c, sig] = form.get('assertion')!.split('.') as [string, string, string];
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'RS256', typ: 'JWT' });
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString());
    expect(claims).toMatchObject({ iss: sa.client_email, scope: 'https://www.googleapis.com/auth/cloud-platform', aud: sa.token_uri });
    expect(claims.exp - claims.iat).toBe(3600);
    expect(createVerify('RSA-SHA256').update(`${h}.${c}`).verify(publicKey, Buffer.from(sig, 'base64url'))).toBe(true);
    const calls = up.requests.filter((r) => r.path !== '/token');
    expect(calls.map((r) => r.path)).toEqual(Array(2).fill('/v1/projects/sa-proj/locations/us-east5/publishers/google/models/gemini-2.0-flash-001:generateContent'));
    for (const r of calls) expect(r.headers.authorization).toBe('Bearer ya29.minted-token-for-tests');
  });
  // Guards: an unusable service-account private_key is the config's 400 naming the field, not a 500.
  it("a client's config with an unusable vertex_service_account_json private_key gets a 4xx naming the field, not a 500", async () => {
    const { app } = await start({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'] });
    const sa = { project_id: 'sa-proj', client_email: 'bot@sa-proj.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' };
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-portkey-config': JSON.stringify({ provider: 'vertex-ai', custom_host: `${up.url}/v1`, vertex_service_account_json: sa }) },
      body: JSON.stringify({ model: 'gemini-2.0-flash-001', messages: hi }),
    });
    const err = (await res.json()).error;
    expect(up.requests).toHaveLength(0);
    expect({ status: res.status, code: err.code }).toEqual({ status: 400, code: 'invalid_config' });
    expect(err.param).toContain('vertex_service_account_json');
  });
});

// ---------------------------------------------------------------------------------------------------
// Azure OpenAI
// ---------------------------------------------------------------------------------------------------
describe('Azure OpenAI URLs and key header', () => {
  it('deployment names are one encoded path label, api_version is the query, the key goes in api-key (never Authorization); embeddings use their own deployment', async () => {
    const { client } = await start({
      config: { targets: [{ provider: 'azure-openai', api_key: 'azure-key-0123456789abcdef', custom_host: `${up.url}/`, deployment_id: 'my.dep_1 (eu)', api_version: '2025-01-01-preview' }] },
    });
    up.route('*', { json: fixtureJson('openai/chat-completions.text.json') });
    await client.chat.completions.create({ model: 'gpt-4o', messages: hi });
    const req = up.requests[0]!;
    expect(req.path).toBe('/openai/deployments/my.dep_1%20(eu)/chat/completions?api-version=2025-01-01-preview');
    expect(req.headers['api-key']).toBe('azure-key-0123456789abcdef');
    expect(req.headers.authorization).toBeUndefined();

    up.reset();
    const { client: emb } = await start({ config: { targets: [{ provider: 'azure-openai', api_key: 'k', resource_name: 'my-res' }] } });
    const urls = redirect((apps.at(-1) as TestApp).gateway);
    up.route('*', { json: fixtureJson('openai/embeddings.float.json') });
    await emb.embeddings.create({ model: 'text-embedding-3-small', input: 'x', encoding_format: 'float' });
    expect(urls).toEqual(['https://my-res.openai.azure.com/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21']);
  });
  // Guards: `azure-ai` is Azure AI Inference / Foundry ({custom_host}/chat/completions), not an azure-openai alias.
  it('provider "azure-ai" with custom_host https://…/models calls {custom_host}/chat/completions (or is refused), not an Azure OpenAI deployment path', async () => {
    let made: { client: OpenAI } | undefined;
    try {
      made = await start({ config: { targets: [{ provider: 'azure-ai', api_key: 'foundry-key-0123456789', custom_host: `${up.url}/models`, api_version: '2024-05-01-preview' }] } });
    } catch (e) {
      // Refused at start-up as a provider it does not support: acceptable.
      expect(String(e)).toMatch(/azure-ai/);
      return;
    }
    up.route('*', { json: fixtureJson('openai/chat-completions.text.json') });
    await made.client.chat.completions.create({ model: 'Llama-3.3-70B-Instruct', messages: hi }).catch(() => undefined);
    expect(up.requests.map(pathOf)).toEqual(['/models/chat/completions']);
  });
  // Guards: a custom_host ending in /openai (Portkey's Azure base URL form) is not doubled to /openai/openai/deployments/….
  it('azure-openai custom_host ending in /openai is not doubled to /openai/openai/deployments/…', async () => {
    const { client } = await start({ config: { targets: [{ provider: 'azure-openai', api_key: 'azure-key', custom_host: `${up.url}/openai`, deployment_id: 'gpt4o' }] } });
    up.route('*', { json: fixtureJson('openai/chat-completions.text.json') });
    await client.chat.completions.create({ model: 'gpt-4o', messages: hi }).catch(() => undefined);
    expect(up.requests.map((r) => r.path)).toEqual(['/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21']);
  });
});

// ---------------------------------------------------------------------------------------------------
// Credentials never leave the gateway
// ---------------------------------------------------------------------------------------------------
describe('credentials stay inside the gateway', () => {
  it("an AWS signature-mismatch 403 quoting the environment's session token: not in the client's error, its headers, onLog records or the playground's request list", async () => {
    const records: RequestLogRecord[] = [];
    const ENV_TOKEN = 'IQoJb3JpZ2luX2VjEnvironmentSessionTokenCloudAuth0099';
    const { app } = await start({
      env: { AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK, AWS_SESSION_TOKEN: ENV_TOKEN, AWS_REGION: 'eu-west-1' },
      adminKey: 'admin-secret-cloud',
      onLog: (r: RequestLogRecord) => void records.push(r),
      config: { targets: [{ provider: 'bedrock', custom_host: up.url }] },
    });
    up.route('*', (req) => ({
      status: 403,
      headers: { 'x-amzn-errortype': 'InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/' },
      json: {
        message: `The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'POST\n${req.path}\n\nhost:${req.headers.host}\nx-amz-date:${req.headers['x-amz-date']}\nx-amz-security-token:${req.headers['x-amz-security-token']}\n'\n\n${req.headers.authorization}`,
      },
    }));
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'amazon.nova-micro-v1:0', messages: hi }) });
    const body = await res.text();
    expect(res.status).toBe(403);
    expect(up.requests[0]!.headers['x-amz-security-token']).toBe(ENV_TOKEN);
    const recent = await (await fetch(`${app.gatewayURL}/playground/api/requests`, { headers: { 'x-llmux-admin-key': 'admin-secret-cloud' } })).text();
    // The places checked do hold this request's error (so the checks below are not vacuous).
    expect(JSON.parse(recent).data[0].error).toContain('signature');
    expect(records.at(-1)?.error?.message).toContain('signature');
    expect(body).toContain('Canonical String');
    for (const [where, text] of Object.entries({ body, headers: JSON.stringify([...res.headers]), records: JSON.stringify(records), playground: recent })) {
      expect(text.includes(ENV_TOKEN), `session token in ${where}`).toBe(false);
      expect(text.includes(SK), `secret key in ${where}`).toBe(false);
    }
  });
  // Guards: the portkey-ai SDK's x-portkey-aws-* settings sign the call, never the server's AWS_* keys.
  it("portkey-ai SDK with provider bedrock and the client's own AWS keys and region: the call is signed with those, in that region (or refused), never with the server's", async () => {
    const { app } = await start({
      allowRequestConfig: true,
      env: { AWS_ACCESS_KEY_ID: 'AKIASERVERSIDEKEY000', AWS_SECRET_ACCESS_KEY: 'server-side-secret', AWS_REGION: 'us-west-2' },
    });
    const urls = redirect(app.gateway);
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const pk = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', provider: 'bedrock', awsAccessKeyId: AK, awsSecretAccessKey: SK, awsRegion: 'eu-west-3', maxRetries: 0 } as never);
    const outcome = await pk.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi }).then(
      () => 'answered',
      (e: any) => e.status as number,
    );
    if (outcome !== 'answered') {
      // Refusing the headers it cannot honour is correct too (as x-portkey-virtual-key is refused) — but then nothing went out.
      expect(outcome).toBeGreaterThanOrEqual(400);
      expect(outcome).toBeLessThan(500);
      expect(up.requests).toHaveLength(0);
      return;
    }
    expect(urls).toEqual(['https://bedrock-runtime.eu-west-3.amazonaws.com/model/amazon.nova-micro-v1%3A0/converse']);
    const v = recomputeSigV4(up.requests[0]!, SK);
    expect({ accessKey: v.accessKey, region: v.region }).toEqual({ accessKey: AK, region: 'eu-west-3' });
  });
  // Guards: AWS credential settings that cannot go in a header are refused at compile time, naming the field.
  it('an aws_session_token with a pasted line break is refused when the config is compiled, naming the field', async () => {
    let made: { client: OpenAI } | undefined;
    try {
      made = await start({ config: { targets: [bedrock({ aws_session_token: `${ST}\n` })] } });
    } catch (e) {
      expect(String(e)).toContain('aws_session_token');
      return;
    }
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const err = await made.client.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi }).catch((e: any) => e);
    expect(up.requests).toHaveLength(0);
    expect(err?.error?.code).toBe('invalid_config');
    expect(err?.error?.param).toContain('aws_session_token');
  });
});

// ---------------------------------------------------------------------------------------------------
// custom_host joins
// ---------------------------------------------------------------------------------------------------
describe('custom_host joins', () => {
  // Guards: a custom_host holding `?` or `#` is refused at start-up, so no operation path lands in a query.
  it('custom_host with a query string: the operation path goes in the path (or the host is refused), for openai, azure-openai and bedrock', async () => {
    const targets = [
      { provider: 'openai', api_key: 'sk-test-0123456789', custom_host: `${up.url}/v1?tenant=a` },
      { provider: 'azure-openai', api_key: 'azure-key', custom_host: `${up.url}/?tenant=a`, deployment_id: 'gpt4o' },
      bedrock({ custom_host: `${up.url}/?tenant=a` }),
    ];
    const wanted = ['/v1/chat/completions', '/openai/deployments/gpt4o/chat/completions', '/model/amazon.nova-micro-v1%3A0/converse'];
    const sentTo: string[] = [];
    for (const target of targets) {
      up.reset();
      up.route('*', (req) => ({ json: fixtureJson(req.path.includes('/model/') ? 'bedrock/converse.text.json' : 'openai/chat-completions.text.json') }));
      let made: { client: OpenAI } | undefined;
      try {
        made = await start({ config: { targets: [target] } });
      } catch {
        sentTo.push('refused');
        continue;
      }
      const status = await made.client.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi }).then(
        () => 200,
        (e: any) => e.status as number,
      );
      sentTo.push(up.requests.length === 0 && status >= 400 && status < 500 ? 'refused' : up.requests.map(pathOf).join(','));
    }
    for (const [i, got] of sentTo.entries()) expect([wanted[i], 'refused'], `${targets[i]!.provider}: sent to ${got}`).toContain(got);
  });
});

// ---------------------------------------------------------------------------------------------------
// A client's own provider settings: Portkey's x-portkey-aws-*, -azure-*, -vertex-* headers
// ---------------------------------------------------------------------------------------------------
describe("a client's own provider settings in headers", () => {
  const SERVER_ENV = { AWS_ACCESS_KEY_ID: 'AKIASERVERSIDEKEY000', AWS_SECRET_ACCESS_KEY: 'server-side-secret', AWS_SESSION_TOKEN: 'server-session-token-0001', AWS_REGION: 'us-west-2' };
  const post = (url: string, headers: Record<string, string>, model = 'amazon.nova-micro-v1:0') =>
    fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model, messages: hi }) });

  it("portkey-ai SDK: the client's keys, session token and region sign the call; nothing of the server's goes out", async () => {
    const { app } = await start({ allowRequestConfig: true, env: SERVER_ENV });
    const urls = redirect(app.gateway);
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const pk = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', provider: 'bedrock', awsAccessKeyId: AK, awsSecretAccessKey: SK, awsSessionToken: ST, awsRegion: 'eu-west-3', maxRetries: 0 } as never);
    await pk.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi });
    expect(urls).toEqual(['https://bedrock-runtime.eu-west-3.amazonaws.com/model/amazon.nova-micro-v1%3A0/converse']);
    const req = up.requests[0]!;
    expect(req.headers['x-amz-security-token']).toBe(ST);
    // Signed for the AWS host the call was built for, not the mock it was redirected to.
    const v = recomputeSigV4({ ...req, headers: { ...req.headers, host: 'bedrock-runtime.eu-west-3.amazonaws.com' } }, SK);
    expect({ accessKey: v.accessKey, region: v.region }).toEqual({ accessKey: AK, region: 'eu-west-3' });
    expect(v.signature).toBe(v.expected);
  });

  it('a key id without its secret is a 400 naming the missing setting, never completed from the environment', async () => {
    const { app } = await start({ allowRequestConfig: true, env: SERVER_ENV });
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const res = await post(app.gatewayURL, { 'x-portkey-provider': 'bedrock', 'x-portkey-aws-access-key-id': AK });
    const err = (await res.json()).error;
    expect({ status: res.status, code: err.code }).toEqual({ status: 400, code: 'invalid_config' });
    expect(err.param).toContain('aws_secret_access_key');
    expect(up.requests).toHaveLength(0);
  });

  it("the client's key pair never takes the session token of the server's providers.bedrock defaults", async () => {
    const { app } = await start({ allowRequestConfig: true, env: {}, providers: { bedrock: { aws_access_key_id: 'AKIASERVERDEFAULTS00', aws_secret_access_key: 'server-default-secret', aws_session_token: 'server-default-token' } } });
    redirect(app.gateway);
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const res = await post(app.gatewayURL, { 'x-portkey-provider': 'bedrock', 'x-portkey-aws-access-key-id': AK, 'x-portkey-aws-secret-access-key': SK, 'x-portkey-aws-region': 'eu-west-3' });
    expect(res.status).toBe(200);
    const req = up.requests[0]!;
    expect(req.headers['x-amz-security-token']).toBeUndefined();
    const v = recomputeSigV4({ ...req, headers: { ...req.headers, host: 'bedrock-runtime.eu-west-3.amazonaws.com' } }, SK);
    expect({ accessKey: v.accessKey, valid: v.signature === v.expected }).toEqual({ accessKey: AK, valid: true });
  });

  it("an AWS error quoting the client's secret and session token does not hand them back", async () => {
    const { app } = await start({ allowRequestConfig: true, env: SERVER_ENV });
    redirect(app.gateway);
    up.route('*', (req) => ({ status: 403, json: { message: `signature mismatch for ${SK} with token ${req.headers['x-amz-security-token']}` } }));
    const res = await post(app.gatewayURL, { 'x-portkey-provider': 'bedrock', 'x-portkey-aws-access-key-id': AK, 'x-portkey-aws-secret-access-key': SK, 'x-portkey-aws-session-token': ST });
    const body = await res.text();
    expect(res.status).toBe(403);
    expect(body).toContain('signature mismatch');
    expect(body.includes(SK) || body.includes(ST)).toBe(false);
  });

  it('without allowRequestConfig a settings header is refused (403) even with no provider header; one for another provider is a 400', async () => {
    const { app } = await start({ env: SERVER_ENV, config: { targets: [bedrock()] } });
    up.route('*', { json: fixtureJson('bedrock/converse.text.json') });
    const refused = await post(app.gatewayURL, { 'x-portkey-aws-access-key-id': AK, 'x-portkey-aws-secret-access-key': SK });
    expect({ status: refused.status, param: (await refused.json()).error.param }).toMatchObject({ status: 403, param: expect.stringMatching(/^x-portkey-aws-/) });

    const { app: open } = await start({ allowRequestConfig: true, env: SERVER_ENV });
    const mismatched = await post(open.gatewayURL, { 'x-portkey-provider': 'openai', authorization: 'Bearer sk-client-0123456789', 'x-portkey-aws-region': 'eu-west-3' }, 'gpt-4o');
    expect({ status: mismatched.status, param: (await mismatched.json()).error.param }).toEqual({ status: 400, param: 'x-portkey-aws-region' });
    const withOwnTargets = await post(open.gatewayURL, {
      'x-portkey-provider': 'bedrock',
      'x-portkey-aws-access-key-id': AK,
      'x-portkey-aws-secret-access-key': SK,
      'x-portkey-config': JSON.stringify({ targets: [{ provider: 'bedrock' }] }),
    });
    expect(withOwnTargets.status).toBe(400);
    expect(up.requests).toHaveLength(0);
  });

  it('azure-openai and vertex-ai: resource, deployment, api version, project and region come from the headers', async () => {
    const { app } = await start({ allowRequestConfig: true });
    const urls = redirect(app.gateway);
    up.route('*', (req) => ({ json: fixtureJson(req.path.includes(':generateContent') ? 'gemini/generateContent.text.json' : 'openai/chat-completions.text.json') }));
    const azure = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', provider: 'azure-openai', Authorization: 'azure-client-key', azureResourceName: 'client-res', azureDeploymentId: 'dep-1', azureApiVersion: '2024-06-01', maxRetries: 0 } as never);
    await azure.chat.completions.create({ model: 'gpt-4o', messages: hi });
    const vertex = new Portkey({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', provider: 'vertex-ai', Authorization: 'Bearer ya29.client-token', vertexProjectId: 'client-proj', vertexRegion: 'europe-west1', maxRetries: 0 } as never);
    await vertex.chat.completions.create({ model: 'gemini-2.0-flash-001', messages: hi });
    expect(urls).toEqual([
      'https://client-res.openai.azure.com/openai/deployments/dep-1/chat/completions?api-version=2024-06-01',
      'https://europe-west1-aiplatform.googleapis.com/v1/projects/client-proj/locations/europe-west1/publishers/google/models/gemini-2.0-flash-001:generateContent',
    ]);
    expect(up.requests[0]!.headers['api-key']).toBe('azure-client-key');
    expect(up.requests[1]!.headers.authorization).toBe('Bearer ya29.client-token');
  });
});

describe('Azure AI Inference (azure-ai)', () => {
  it('the key as api-key and Bearer, api-version only when set, extra-parameters drop, embeddings under the same endpoint', async () => {
    const { client } = await start({ config: { targets: [{ provider: 'azure-ai', api_key: 'foundry-key-0123456789', custom_host: `${up.url}/models`, api_version: '2024-05-01-preview' }] } });
    up.route('*', (req) => ({ json: fixtureJson(req.path.includes('embeddings') ? 'openai/embeddings.float.json' : 'openai/chat-completions.text.json') }));
    await client.chat.completions.create({ model: 'Llama-3.3-70B-Instruct', messages: hi, max_completion_tokens: 20 });
    const chat = up.requests[0]!;
    expect(chat.path).toBe('/models/chat/completions?api-version=2024-05-01-preview');
    expect({ key: chat.headers['api-key'], auth: chat.headers.authorization, extra: chat.headers['extra-parameters'] }).toEqual({ key: 'foundry-key-0123456789', auth: 'Bearer foundry-key-0123456789', extra: 'drop' });
    expect(chat.json).toMatchObject({ model: 'Llama-3.3-70B-Instruct', max_tokens: 20 });

    up.reset();
    up.route('*', { json: fixtureJson('openai/embeddings.float.json') });
    const { client: serverless } = await start({ config: { targets: [{ provider: 'azure-ai', api_key: 'k-0123456789', custom_host: up.url, azure_extra_params: 'pass-through' }] } });
    await serverless.embeddings.create({ model: 'Cohere-embed-v3-english', input: 'x', encoding_format: 'float' });
    expect(up.requests.map((r) => r.path)).toEqual(['/embeddings']);
    expect(up.requests[0]!.headers['extra-parameters']).toBe('pass-through');
  });

  it('without custom_host: a 400 naming it, and nothing sent', async () => {
    const { client } = await start({ config: { targets: [{ provider: 'azure-ai', api_key: 'k-0123456789' }] } });
    const err = await client.chat.completions.create({ model: 'Llama-3.3-70B-Instruct', messages: hi }).catch((e: any) => e);
    expect({ status: err.status, code: err.error?.code, param: err.error?.param }).toEqual({ status: 400, code: 'invalid_config', param: 'config.targets[0].custom_host' });
  });
});

describe('refused settings, named and never echoed', () => {
  it("a client config's custom_host with a query is a 400 naming custom_host; so is a provider baseURL with one at start-up", async () => {
    const { app } = await start({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'] });
    const res = await fetch(`${app.gatewayURL}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-portkey-config': JSON.stringify({ provider: 'openai', api_key: 'sk-test-0123456789', custom_host: `${up.url}/v1#frag` }) },
      body: JSON.stringify({ model: 'gpt-4o', messages: hi }),
    });
    const err = (await res.json()).error;
    expect({ status: res.status, code: err.code, param: err.param }).toEqual({ status: 400, code: 'invalid_config', param: 'x-portkey-config.custom_host' });
    expect(up.requests).toHaveLength(0);
    await expect(start({ providers: { openai: { baseURL: `${up.url}/v1?tenant=a` } } })).rejects.toThrow(/baseURL/);
  });

  it('an unusable private_key in the server config is a 400 naming the field (bad base64 too)', async () => {
    const sa = { project_id: 'sa-proj', client_email: 'bot@sa-proj.iam.gserviceaccount.com', private_key: '-----BEGIN PRIVATE KEY-----\n!!not base64!!\n-----END PRIVATE KEY-----\n' };
    const { client } = await start({ config: { targets: [{ provider: 'vertex-ai', custom_host: `${up.url}/v1`, vertex_service_account_json: sa }] } });
    const err = await client.chat.completions.create({ model: 'gemini-2.0-flash-001', messages: hi }).catch((e: any) => e);
    expect({ status: err.status, code: err.error?.code, param: err.error?.param }).toEqual({ status: 400, code: 'invalid_config', param: 'config.targets[0].vertex_service_account_json' });
    expect(up.requests).toHaveLength(0);
  });

  it('a server config aws_access_key_id with a line break fails start-up; an AWS_SESSION_TOKEN with one is a 500 naming the variable, never its value', async () => {
    await expect(start({ config: { targets: [bedrock({ aws_access_key_id: `${AK}\r\n` })] } })).rejects.toThrow(/aws_access_key_id/);
    const { client } = await start({
      env: { AWS_ACCESS_KEY_ID: AK, AWS_SECRET_ACCESS_KEY: SK, AWS_SESSION_TOKEN: `${ST}\n` },
      config: { targets: [{ provider: 'bedrock', custom_host: up.url }] },
    });
    const err = await client.chat.completions.create({ model: 'amazon.nova-micro-v1:0', messages: hi }).catch((e: any) => e);
    expect({ status: err.status, code: err.error?.code, param: err.error?.param }).toEqual({ status: 500, code: 'invalid_config', param: 'AWS_SESSION_TOKEN' });
    expect(JSON.stringify(err.error)).not.toContain(ST);
    expect(up.requests).toHaveLength(0);
  });
});
