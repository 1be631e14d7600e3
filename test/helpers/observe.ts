import type { Gateway, GatewayResponse } from '@llmux/core';
import { fixtureJson, fixtureText, splitSse } from './fixtures.js';
import type { MockUpstream, RecordedRequest } from './mock-upstream.js';

/** A provider key no log line, response, error or span may ever contain. */
export const PLANTED_KEY = 'sk-planted-9f8e7d6c5b4a39281706';

export const completion = fixtureJson('openai/chat-completions.text.json');
export const streamEvents = splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse'));

/**
 * Upstream paths, one per behaviour, so targets of one config can point at different ones
 * (`custom_host: ${up.url}/down/v1`): `ok` answers, `stream` streams, `cut` breaks a stream after
 * content, `down` fails with 503 echoing the key it was sent (as providers do), `bad-key` with 401.
 */
export function scriptUpstream(up: MockUpstream): void {
  const echoKey = (req: RecordedRequest) => String(req.headers.authorization ?? '').replace(/^Bearer /, '');
  up.route('/ok/v1/chat/completions', (req) => (req.json?.stream ? { chunks: streamEvents } : { json: completion }));
  up.route('/stream/v1/chat/completions', { chunks: streamEvents });
  up.route('/cut/v1/chat/completions', { chunks: streamEvents, cutAfter: 4, chunkDelayMs: 10 });
  up.route('/down/v1/chat/completions', (req) => ({
    status: 503,
    json: { error: { message: `upstream overloaded for key ${echoKey(req)}`, type: 'server_error' } },
  }));
  up.route('/bad-key/v1/chat/completions', (req) => ({
    status: 401,
    json: { error: { message: `Incorrect API key provided: ${echoKey(req)}.`, type: 'invalid_request_error', code: 'invalid_api_key' } },
  }));
  up.route('/ok/v1/embeddings', { json: fixtureJson('openai/embeddings.float-trimmed.json') });
}

/** A target of the scripted upstream with the planted key. */
export const targetAt = (up: MockUpstream, path: 'ok' | 'stream' | 'cut' | 'down' | 'bad-key', extra: Record<string, unknown> = {}) => ({
  provider: 'openai',
  api_key: PLANTED_KEY,
  custom_host: `${up.url}/${path}/v1`,
  ...extra,
});

/** Reads a response body to text, whatever its form (JSON value, bytes, or a stream). */
export async function bodyText(res: GatewayResponse): Promise<string> {
  const body = res.body;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  if (body && typeof body === 'object' && Symbol.asyncIterator in body) {
    let out = '';
    const decoder = new TextDecoder();
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) out += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    return out;
  }
  return JSON.stringify(body);
}

export const chatRequest = (body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...body },
});

/** The value of one sample in Prometheus text, e.g. `metricValue(text, 'llmux_requests_total', { route: 'chat' })` (labels match as a subset; samples summed). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

export async function scrape(gateway: Gateway, headers: Record<string, string> = {}): Promise<string> {
  const res = await gateway.handle({ method: 'GET', path: '/metrics', headers });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${JSON.stringify(res.body)}`);
  return String(res.body);
}

/** Lets queued log records reach their sinks (they are delivered on a later event-loop turn). */
export const nextTurn = () => new Promise<void>((r) => setImmediate(r));
