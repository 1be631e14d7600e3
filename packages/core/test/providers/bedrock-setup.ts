import { createHash, createHmac } from 'node:crypto';
import { EventStreamCodec, type MessageHeaders } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from '../../../../test/helpers/apps.js';
import { fixtureBytes } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream, type RecordedRequest } from '../../../../test/helpers/mock-upstream.js';

/** AWS's documentation example keys: never valid anywhere. */
export const AWS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
  region: 'eu-west-3',
};

export const bedrockTarget = (url: string, extra: Record<string, unknown> = {}) => ({
  provider: 'bedrock',
  aws_access_key_id: AWS.accessKeyId,
  aws_secret_access_key: AWS.secretAccessKey,
  aws_session_token: AWS.sessionToken,
  aws_region: AWS.region,
  custom_host: url,
  ...extra,
});

/** A host app whose gateway sends everything to Bedrock at the mock, and an official OpenAI client for it. */
export function bedrockGateway(options: AppOptions & { target?: Record<string, unknown> } = {}) {
  const ctx = {} as { upstream: MockUpstream; app: TestApp; client: OpenAI };
  const { target, ...appOptions } = options;
  beforeAll(async () => {
    ctx.upstream = await startMockUpstream();
    ctx.app = await appFactories.express5!({
      // No real environment: credentials come from the target (or a test's injected env).
      env: {},
      config: { targets: [bedrockTarget(ctx.upstream.url, target)] },
      ...appOptions,
    });
    ctx.client = new OpenAI({ baseURL: `${ctx.app.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await ctx.app?.close();
    await ctx.upstream?.close();
  });
  beforeEach(() => ctx.upstream?.reset());
  return ctx;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * Recomputes the SigV4 signature of a request as the mock received it, with node:crypto and the AWS
 * spec (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) — independent of
 * the signing library — and checks it equals the one sent.
 */
export function expectValidSigV4(req: RecordedRequest, creds = AWS): { signedHeaders: string[]; scope: string } {
  const auth = String(req.headers.authorization);
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  expect(m, `authorization header: ${auth}`).not.toBeNull();
  const [, keyId, day, region, service, signed, signature] = m!;
  expect(keyId).toBe(creds.accessKeyId);
  expect(service).toBe('bedrock');
  const amzDate = String(req.headers['x-amz-date']);
  expect(amzDate).toMatch(/^\d{8}T\d{6}Z$/);
  expect(amzDate.slice(0, 8)).toBe(day);
  const payloadHash = sha256(req.text);
  expect(req.headers['x-amz-content-sha256']).toBe(payloadHash);
  const [path, query = ''] = req.path.split('?');
  // Every service but S3 encodes the path again for the canonical request: `%3A` becomes `%253A`.
  const canonicalPath = path!.split('/').map((s) => encodeURIComponent(s)).join('/');
  const canonicalQuery = query.split('&').filter(Boolean).sort().join('&');
  const names = signed!.split(';');
  const canonicalHeaders = names.map((h) => `${h}:${String(req.headers[h]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonical = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signed, payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key = hmac(`AWS4${creds.secretAccessKey}`, day!);
  for (const part of [region!, service!, 'aws4_request']) key = hmac(key, part);
  expect(createHmac('sha256', key).update(toSign).digest('hex')).toBe(signature);
  return { signedHeaders: names, scope };
}

const codec = new EventStreamCodec(toUtf8, fromUtf8);

const stringHeaders = (h: Record<string, string>): MessageHeaders =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, { type: 'string' as const, value: v }]));

/** One ConverseStream event frame, as Bedrock encodes it (with the `p` padding field). */
export const eventFrame = (eventType: string, payload: Record<string, unknown>): Uint8Array =>
  codec.encode({
    headers: stringHeaders({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' }),
    body: fromUtf8(JSON.stringify({ ...payload, p: 'abcdefgh' })),
  });

/** An in-stream exception frame (none was recorded; the shape is the AWS API reference's). */
export const exceptionFrame = (type: string, message: string): Uint8Array =>
  codec.encode({
    headers: stringHeaders({ ':exception-type': type, ':content-type': 'application/json', ':message-type': 'exception' }),
    body: fromUtf8(JSON.stringify({ message })),
  });

/** Splits a recorded `.eventstream.bin` into its frames (each starts with its own total length). */
export function framesOf(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < bytes.length; ) {
    const len = view.getUint32(off);
    frames.push(bytes.subarray(off, off + len));
    off += len;
  }
  return frames;
}

/** The decoded `{type, payload}` of each frame, to compare translations with. */
export const decodeFrames = (bytes: Uint8Array) =>
  framesOf(bytes).map((f) => {
    const msg = codec.decode(f);
    return { type: String(msg.headers[':event-type']?.value), payload: JSON.parse(toUtf8(msg.body)) };
  });

/** Cuts bytes into odd-sized pieces that ignore frame borders (1, 3, 7, 13, 61, 127 bytes, repeating). */
export function oddChunks(bytes: Uint8Array): Uint8Array[] {
  const sizes = [1, 3, 7, 13, 61, 127];
  const out: Uint8Array[] = [];
  for (let off = 0, i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(bytes.slice(off, off + n));
    off += n;
  }
  return out;
}

/** A `.chunks.jsonl` recording (SDK union objects, `{eventType: payload}` per line) framed back as event-stream. */
export function framesFromJsonl(text: string): Uint8Array[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const [[type, payload]] = Object.entries(JSON.parse(line) as Record<string, Record<string, unknown>>) as [[string, Record<string, unknown>]];
      return eventFrame(type, payload);
    });
}

export const binFixture = (name: string) => new Uint8Array(fixtureBytes(`bedrock/${name}`));

export const EVENTSTREAM = { 'content-type': 'application/vnd.amazon.eventstream' };
