import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from '../../../../test/helpers/apps.js';
import { startMockUpstream, type MockUpstream } from '../../../../test/helpers/mock-upstream.js';

export const COHERE_KEY = 'co-test-upstream-key';

/** A host app whose gateway sends everything to Cohere at the mock, and an official OpenAI client for it. */
export function cohereGateway(options: AppOptions = {}) {
  const ctx = {} as { upstream: MockUpstream; app: TestApp; client: OpenAI };
  beforeAll(async () => {
    ctx.upstream = await startMockUpstream();
    ctx.app = await appFactories.express5!({
      config: { targets: [{ provider: 'cohere', api_key: COHERE_KEY, custom_host: `${ctx.upstream.url}/v2` }] },
      ...options,
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
