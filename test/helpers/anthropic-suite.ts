import Anthropic from '@anthropic-ai/sdk';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { appFactories, type AppOptions, type TestApp } from './apps.js';
import { startMockUpstream, type MockUpstream } from './mock-upstream.js';

/**
 * The set-up of a suite that drives the gateway with the Anthropic SDK: one mock upstream for the file
 * (handed to `use` once started, reset before each test, closed after the file), and `start`, which
 * starts an app (closed after the test) with an SDK client on it that sends `clientKey` and never retries.
 */
export function anthropicSuite(clientKey: string, use: (upstream: MockUpstream) => void, defaults: AppOptions = {}) {
  let upstream: MockUpstream | undefined;
  const apps: TestApp[] = [];
  beforeAll(async () => {
    upstream = await startMockUpstream();
    use(upstream);
  });
  afterAll(() => upstream?.close());
  beforeEach(() => upstream?.reset());
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  return {
    async start(config: Record<string, unknown>, options: AppOptions = {}, kind = 'express5') {
      const app = await appFactories[kind]!({ ...defaults, config: config as never, ...options });
      apps.push(app);
      return { app, sdk: new Anthropic({ baseURL: app.gatewayURL, apiKey: clientKey, maxRetries: 0 }) };
    },
  };
}
