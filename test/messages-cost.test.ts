import { calcPrice } from '@pydantic/genai-prices';
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixtureText, splitSse } from './helpers/fixtures.js';
import { appFactories, type TestApp } from './helpers/apps.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

let upstream: MockUpstream;
let app: TestApp;
beforeAll(async () => {
  upstream = await startMockUpstream();
  app = await appFactories.express5!({ config: { targets: [{ provider: 'openai', api_key: 'sk-upstream', custom_host: `${upstream.url}/v1` }] } });
});
afterAll(async () => {
  await app.close();
  await upstream.close();
});

it('a /v1/messages stream sends its cost as a trailer, like /v1/chat/completions', async () => {
  upstream.enqueue('/v1/chat/completions', { chunks: splitSse(fixtureText('openai/chat-completions.text.stream-include-usage.sse')) });
  const res = await request(`${app.gatewayURL}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'x' }] }),
  });
  const text = await res.body.text();
  expect(text).toContain('event: message_stop');
  const expected = calcPrice({ input_tokens: 78, output_tokens: 9 }, 'gpt-4o-mini-2024-07-18', { providerId: 'openai' })!.total_price;
  expect(Number(res.trailers['x-llmux-cost'])).toBeCloseTo(expected, 10);
});
