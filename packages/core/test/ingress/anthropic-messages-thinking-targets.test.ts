/**
 * Anthropic `thinking` on /v1/messages as Gemini and Cohere get it: an exact budget goes as each
 * provider's own budget field, adaptive thinking keeps the client's effort.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from '../../../../test/helpers/apps.js';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';

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

async function clientFor(provider: string, path: string): Promise<Anthropic> {
  const target = { provider, api_key: `key-${provider}`, custom_host: `${upstream.url}${path}` };
  const app = await appFactories.express5!({ env: {}, config: { targets: [target] } } as never);
  apps.push(app);
  return new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 });
}
const user = { role: 'user' as const, content: 'x' };

describe('/v1/messages thinking → Gemini', () => {
  const send = async (model: string, extra: Record<string, unknown>) => {
    upstream.route('*', { json: fixtureJson('gemini/generateContent.thinking.json') });
    const client = await clientFor('google', '/v1beta');
    await client.messages.create({ model, max_tokens: 20000, messages: [user], ...extra } as never);
    return upstream.requests.at(-1)!.json.generationConfig.thinkingConfig;
  };

  it('adaptive thinking takes the effort of output_config', async () => {
    expect(await send('gemini-2.5-flash', { thinking: { type: 'adaptive' }, output_config: { effort: 'low' } })).toEqual({ thinkingBudget: 1024, includeThoughts: true });
  });

  it('an exact budget still wins over the effort preset', async () => {
    expect(await send('gemini-2.5-flash', { thinking: { type: 'enabled', budget_tokens: 16000 } })).toEqual({ thinkingBudget: 16000, includeThoughts: true });
  });
});

describe('/v1/messages thinking → Cohere', () => {
  const send = async (extra: Record<string, unknown>) => {
    upstream.route('*', { json: fixtureJson('cohere/chat-v2.reasoning.json') });
    const client = await clientFor('cohere', '/v2');
    await client.messages.create({ model: 'command-a-reasoning-08-2025', max_tokens: 20000, messages: [user], ...extra } as never);
    return upstream.requests.at(-1)!.json;
  };

  it('an exact budget goes as token_budget', async () => {
    expect((await send({ thinking: { type: 'enabled', budget_tokens: 1500 } })).thinking).toEqual({ type: 'enabled', token_budget: 1500 });
  });

  it('adaptive thinking keeps the effort preset', async () => {
    expect((await send({ thinking: { type: 'adaptive' }, output_config: { effort: 'low' } })).thinking).toEqual({ type: 'enabled', token_budget: 1024 });
  });

  it('no thinking sends none', async () => {
    expect(await send({})).not.toHaveProperty('thinking');
  });
});
