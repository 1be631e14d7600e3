import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '@llmux/core';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

const SERVER_KEY = 'sk-server-secret-never-to-leave-0001';
const chat = (headers: Record<string, string>) => ({
  method: 'POST',
  path: '/v1/chat/completions',
  headers: { 'content-type': 'application/json', ...headers },
  body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
});
const ok = { json: { id: 'x', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }] } };

describe('server keys and client-chosen hosts', () => {
  let upstream: MockUpstream;
  beforeAll(async () => {
    upstream = await startMockUpstream();
    upstream.route('/v1/chat/completions', ok);
  });
  afterAll(() => upstream.close());

  it('never sends the server key to a host a client config chose', async () => {
    const gateway = createGateway({
      allowRequestConfig: true,
      allowedHosts: ['127.0.0.1'],
      env: { OPENAI_API_KEY: SERVER_KEY },
      providers: { openai: { apiKey: SERVER_KEY } },
    });
    const config = JSON.stringify({ targets: [{ provider: 'openai', custom_host: `${upstream.url}/v1` }] });
    const res = await gateway.handle(chat({ 'x-portkey-config': config }));
    expect(res.status).toBe(200);
    const sent = upstream.requests.at(-1)!;
    expect(JSON.stringify(sent.headers)).not.toContain(SERVER_KEY);
    expect(sent.headers.authorization).toBeUndefined();
    await gateway.close();
  });

  it('sends the key the client put in its own config to its own host', async () => {
    const gateway = createGateway({ allowRequestConfig: true, allowedHosts: ['127.0.0.1'], env: { OPENAI_API_KEY: SERVER_KEY } });
    const config = JSON.stringify({ targets: [{ provider: 'openai', custom_host: `${upstream.url}/v1`, api_key: 'sk-client-own' }] });
    await gateway.handle(chat({ 'x-portkey-config': config }));
    expect(upstream.requests.at(-1)!.headers.authorization).toBe('Bearer sk-client-own');
    await gateway.close();
  });

  it('uses the server key for a host the server configured', async () => {
    const gateway = createGateway({ env: { OPENAI_API_KEY: SERVER_KEY }, config: { targets: [{ provider: 'openai', custom_host: `${upstream.url}/v1` }] } });
    await gateway.handle(chat({}));
    expect(upstream.requests.at(-1)!.headers.authorization).toBe(`Bearer ${SERVER_KEY}`);
    await gateway.close();
  });
});
