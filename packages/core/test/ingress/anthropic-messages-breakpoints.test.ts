/**
 * Which target gets cache breakpoints on /v1/messages: the ingress keeps `cache_control` on the
 * OpenAI parts, Bedrock turns it into Converse cache points, and an OpenAI-compatible target (here a
 * fallback after Bedrock failed) never sees it, since OpenAI rejects unknown fields in parts.
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appFactories, type TestApp } from '../../../../test/helpers/apps.js';
import { fixtureJson } from '../../../../test/helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';

const BEDROCK_MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const CONVERSE_PATH = '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse';

let upstream: MockUpstream;
let app: TestApp;
let client: Anthropic;

beforeAll(async () => {
  upstream = await startMockUpstream();
  app = await appFactories.express5!({
    env: {},
    config: {
      strategy: { mode: 'fallback' },
      targets: [
        { provider: 'bedrock', api_key: 'bedrock-api-key', aws_region: 'us-east-1', custom_host: upstream.url },
        { provider: 'openai', api_key: 'sk-openai', custom_host: `${upstream.url}/v1`, override_params: { model: 'gpt-4.1-nano' } },
      ],
    } as never,
  });
  client = new Anthropic({ baseURL: app.gatewayURL, apiKey: 'client-key', maxRetries: 0 });
});
afterAll(async () => {
  await app.close();
  await upstream.close();
});

describe('/v1/messages cache breakpoints per target', () => {
  it('become cache points for Bedrock and come off for the OpenAI fallback', async () => {
    upstream.enqueue(CONVERSE_PATH, { status: 503, json: { message: 'Service unavailable' } });
    upstream.enqueue('/v1/chat/completions', { json: fixtureJson('openai/chat-completions.text.json') });
    const ephemeral = { type: 'ephemeral' as const };
    await client.messages.create({
      model: BEDROCK_MODEL,
      max_tokens: 100,
      system: [{ type: 'text', text: 'Stable prompt.', cache_control: ephemeral }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Long body', cache_control: ephemeral }, { type: 'text', text: 'Question?' }] }],
    });
    const [bedrock, openai] = upstream.requests;
    expect(bedrock!.path).toBe(CONVERSE_PATH);
    expect(bedrock!.json.system).toEqual([{ text: 'Stable prompt.' }, { cachePoint: { type: 'default' } }]);
    expect(bedrock!.json.messages[0].content).toEqual([{ text: 'Long body' }, { cachePoint: { type: 'default' } }, { text: 'Question?' }]);
    expect(openai!.path).toBe('/v1/chat/completions');
    expect(openai!.text).not.toContain('cache_control');
    expect(openai!.json.messages).toEqual([
      { role: 'system', content: 'Stable prompt.' },
      { role: 'user', content: 'Long body\n\nQuestion?' },
    ]);
  });
});
