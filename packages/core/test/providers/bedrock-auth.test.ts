import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBedrockProvider } from '../../src/providers/bedrock/provider.js';
import { createEventStreamDecoder } from '../../src/providers/bedrock/event-stream-decoder.js';
import type { CallContext, ResolvedTarget } from '../../src/providers/types.js';
import { appFactories, type TestApp } from '../../../../test/helpers/apps.js';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';
import { AWS, binFixture, decodeFrames, expectValidSigV4 } from './bedrock-setup.js';

const MODEL = 'us.amazon.nova-micro-v1:0';
const PATH = '/model/us.amazon.nova-micro-v1%3A0/converse';
const ENV_KEYS = { accessKeyId: 'AKIDENVEXAMPLE', secretAccessKey: 'env/secret/EXAMPLEKEY', sessionToken: '', region: 'ap-southeast-2' };

let upstream: MockUpstream;
const apps: TestApp[] = [];
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(async () => {
  for (const app of apps) await app.close();
  await upstream.close();
});
beforeEach(() => upstream.reset());

async function clientFor(target: Record<string, unknown>, env: Record<string, string> = {}) {
  const app = await appFactories.express5!({
    env: {},
    customProviders: [createBedrockProvider({ env: () => env })],
    config: { targets: [{ provider: 'bedrock', custom_host: upstream.url, ...target }] },
  });
  apps.push(app);
  return new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
}

const ask = (client: OpenAI) => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hi' }] });

describe('bedrock credentials', () => {
  it('signs with the AWS keys and region from the environment when the target has none', async () => {
    upstream.enqueue(PATH, { json: fixtureJson('bedrock/converse.text.json') });
    const client = await clientFor({}, { AWS_ACCESS_KEY_ID: ENV_KEYS.accessKeyId, AWS_SECRET_ACCESS_KEY: ENV_KEYS.secretAccessKey, AWS_DEFAULT_REGION: ENV_KEYS.region });
    await ask(client);
    const { scope } = expectValidSigV4(upstream.requests[0]!, ENV_KEYS);
    expect(scope).toMatch(/\/ap-southeast-2\/bedrock\/aws4_request$/);
    expect(upstream.requests[0]!.headers['x-amz-security-token']).toBeUndefined();
  });

  it('prefers the target region over AWS_REGION', async () => {
    upstream.enqueue(PATH, { json: fixtureJson('bedrock/converse.text.json') });
    const client = await clientFor(
      { aws_access_key_id: AWS.accessKeyId, aws_secret_access_key: AWS.secretAccessKey, aws_region: 'eu-central-1' },
      { AWS_REGION: 'us-west-2' },
    );
    await ask(client);
    expect(expectValidSigV4(upstream.requests[0]!).scope).toMatch(/\/eu-central-1\/bedrock\/aws4_request$/);
  });

  it('sends a Bedrock API key as a bearer token, from api_key or AWS_BEARER_TOKEN_BEDROCK', async () => {
    upstream.enqueue(PATH, { json: fixtureJson('bedrock/converse.text.json') }, { json: fixtureJson('bedrock/converse.text.json') });
    await ask(await clientFor({ api_key: 'bedrock-api-key-example' }));
    const app = await appFactories.express5!({
      env: { AWS_BEARER_TOKEN_BEDROCK: 'bedrock-env-key-example' },
      customProviders: [createBedrockProvider({ env: () => ({}) })],
      config: { targets: [{ provider: 'aws-bedrock', custom_host: upstream.url }] },
    });
    apps.push(app);
    await ask(new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 }));
    expect(upstream.requests.map((r) => r.headers.authorization)).toEqual(['Bearer bedrock-api-key-example', 'Bearer bedrock-env-key-example']);
    expect(upstream.requests[0]!.headers['x-amz-date']).toBeUndefined();
  });

  it('answers 401 naming the settings when there are no credentials at all, without calling AWS', async () => {
    const err = await ask(await clientFor({})).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.error.message).toMatch(/aws_access_key_id/);
    expect(err.error.message).toMatch(/AWS_BEARER_TOKEN_BEDROCK/);
    expect(upstream.requests).toHaveLength(0);
  });

  it('refuses a region that is not a region name, since it becomes part of the host', async () => {
    const err = await ask(await clientFor({ api_key: 'k', aws_region: 'evil.example.com/x?' })).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.error.param).toBe('config.targets[0].aws_region');
    expect(upstream.requests).toHaveLength(0);
  });

  it('names the missing half of a key pair, and never echoes the secret', async () => {
    const err = await ask(await clientFor({ aws_secret_access_key: 'half-a-secret-EXAMPLE' })).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.error.param).toBe('config.targets[0].aws_access_key_id');
    expect(JSON.stringify(err.error)).not.toContain('half-a-secret-EXAMPLE');
  });
});

describe('bedrock endpoint', () => {
  it('calls bedrock-runtime in the target region by default, model id as one encoded path label', async () => {
    const provider = createBedrockProvider({ env: () => ({}) });
    const target: ResolvedTarget = {
      path: 'config.targets[0]',
      index: 0,
      provider: 'bedrock',
      baseURL: provider.baseURL,
      overrideParams: {},
      forwardHeaders: [],
      weight: 1,
      extra: { aws_access_key_id: AWS.accessKeyId, aws_secret_access_key: AWS.secretAccessKey, aws_region: 'eu-west-1' },
    };
    const arn = 'arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0';
    const ctx: CallContext = { target, model: arn, stream: true, headers: {} };
    const req = await provider.chat.request({ model: arn, messages: [{ role: 'user', content: 'x' }] }, ctx);
    expect(req.url).toBe(
      'https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream',
    );
    expect(req.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/bedrock\/aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date, /);
    expect(req.headers.host).toBeUndefined();
  });
});

describe('bedrock event-stream decoder', () => {
  it('decodes a recording fed one byte at a time into the same events as whole frames', () => {
    const bin = binFixture('converse-stream.tool-use.eventstream.bin');
    const decoder = createEventStreamDecoder();
    const events = [];
    for (let i = 0; i < bin.length; i++) events.push(...decoder.push(bin.subarray(i, i + 1)));
    events.push(...decoder.end());
    const want = decodeFrames(bin);
    expect(events.map((e) => e.event)).toEqual(want.map((w) => w.type));
    expect(events.map((e) => JSON.parse(e.data))).toEqual(want.map((w) => w.payload));
    expect(events[0]!.headers).toEqual({ ':event-type': 'messageStart', ':content-type': 'application/json', ':message-type': 'event' });
  });
});
