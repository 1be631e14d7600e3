import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from './helpers/apps.js';

/**
 * Every limit on bad or oversized input, through every adapter, with and without a body parser in
 * front: a 4xx in the OpenAI error shape that names what was wrong — never a 5xx, never a hang.
 */
const limits = { maxBodyBytes: 4096, maxMessages: 3, maxJsonDepth: 10, maxHeaderBytes: 3000 };
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], ...extra });

function nested(depth: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

const variants = Object.keys(appFactories).flatMap((name) => [
  { name, bodyParser: true },
  { name, bodyParser: false },
]);

describe.each(variants)('$name (body parser: $bodyParser)', ({ name, bodyParser }) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await appFactories[name]!({ env: {}, bodyParser, config: { targets: [{ provider: 'mock' }] }, limits });
  });
  afterAll(() => app.close());

  async function send(path: string, body: string | undefined, headers: Record<string, string> = {}, method = 'POST') {
    const res = await fetch(`${app.gatewayURL}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  /** A 4xx whose message or param names the problem: OpenAI's error shape, Anthropic's on `/v1/messages`. */
  function expectRefusal(res: { status: number; json: any; text: string }, status: number, names: RegExp, shape: 'openai' | 'anthropic' = 'openai') {
    expect(res.status, res.text).toBe(status);
    if (shape === 'anthropic') expect(res.json, res.text).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
    else expect(res.json?.error, res.text).toMatchObject({ message: expect.any(String), type: expect.any(String), code: expect.any(String) });
    expect(`${res.json.error.param} ${res.json.error.message}`).toMatch(names);
  }

  it('answers a well-formed request', async () => {
    expect((await send('/v1/chat/completions', JSON.stringify(chat()))).status).toBe(200);
  });

  it('refuses a body over maxBodyBytes with 413', async () => {
    const big = JSON.stringify(chat({ messages: [{ role: 'user', content: 'x'.repeat(8000) }] }));
    expectRefusal(await send('/v1/chat/completions', big), 413, /exceeds 4096 bytes/);
    expectRefusal(await send('/v1/messages', big), 413, /exceeds 4096 bytes/, 'anthropic');
    expectRefusal(await send('/v1/embeddings', JSON.stringify({ model: 'm', input: 'y'.repeat(8000) })), 413, /exceeds 4096 bytes/);
  });

  it('refuses more messages than maxMessages, naming messages', async () => {
    const many = Array.from({ length: 4 }, () => ({ role: 'user', content: 'Hi' }));
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat({ messages: many }))), 400, /messages.*limit is 3/);
    expectRefusal(await send('/v1/messages', JSON.stringify({ model: 'm', max_tokens: 5, messages: many })), 400, /messages has 4 entries/, 'anthropic');
  });

  it('refuses JSON nested deeper than maxJsonDepth', async () => {
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat({ extra: nested(20) }))), 400, /nested deeper than 10 levels/);
  });

  it('refuses headers over maxHeaderBytes with 431', async () => {
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat()), { 'x-padding': 'p'.repeat(4000) }), 431, /headers total \d+ bytes; the limit is 3000/);
  });

  it('names the field of a malformed body, header or path', async () => {
    expectRefusal(await send('/v1/chat/completions', JSON.stringify({ messages: [] })), 400, /model/);
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat({ temperature: 'hot' }))), 400, /temperature/);
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat({ messages: [{ role: 'wizard', content: 'x' }] }))), 400, /messages\[0\]\.role/);
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat()), { 'x-llmux-metadata': '{not json' }), 400, /x-llmux-metadata/);
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat()), { 'x-llmux-trace-id': 'x'.repeat(129) }), 400, /x-llmux-trace-id/);
    expectRefusal(await send('/v1/chat/completions', JSON.stringify(chat()), { 'x-portkey-config': '{}' }), 403, /x-portkey-config/);
    expectRefusal(await send('/v1/chat/completions', undefined, {}, 'GET'), 405, /POST/);
    expectRefusal(await send('/v1/nothing-here', '{}'), 404, /no route for POST \/v1\/nothing-here/);
    if (!bodyParser) {
      // With a body parser in front, these never reach the gateway: the host's parser answers them.
      expectRefusal(await send('/v1/chat/completions', '{"model": "m", "messages": ['), 400, /not valid JSON/);
      expectRefusal(await send('/v1/chat/completions', ''), 400, /body/);
    }
  });
});
