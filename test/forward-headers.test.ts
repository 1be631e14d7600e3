import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { appFactories } from './helpers/apps.js';
import { fixtureJson } from './helpers/fixtures.js';
import { startMockUpstream, type MockUpstream } from './helpers/mock-upstream.js';

/**
 * A target's `forward_headers` (Portkey's config key) sends the named client headers upstream, for
 * every provider format; headers it does not name stay with the gateway.
 */
let upstream: MockUpstream;
beforeAll(async () => {
  upstream = await startMockUpstream();
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());

const providers = [
  { provider: 'openai', host: '/v1', path: '/v1/chat/completions', model: 'gpt-4o-mini', answer: 'openai/chat-completions.text.json', key: (h: Record<string, string>) => h.authorization === 'Bearer sk-up' },
  { provider: 'anthropic', host: '/v1', path: '/v1/messages', model: 'claude-sonnet-4-5', answer: 'anthropic/messages.text.json', key: (h: Record<string, string>) => h['x-api-key'] === 'sk-up' },
  { provider: 'google', host: '/v1beta', path: '/v1beta/models/gemini-2.5-flash:generateContent', model: 'gemini-2.5-flash', answer: 'gemini/generateContent.text.json', key: (h: Record<string, string>) => h['x-goog-api-key'] === 'sk-up' },
  { provider: 'cohere', host: '/v2', path: '/v2/chat', model: 'command-a-03-2025', answer: 'cohere/chat-v2.text.json', key: (h: Record<string, string>) => h.authorization === 'Bearer sk-up' },
] as const;

describe('forward_headers', () => {
  for (const p of providers) {
    it(`sends the named client headers to ${p.provider}, names matched case-insensitively, and nothing else of the client's`, async () => {
      const app = await appFactories.express5!({
        config: { targets: [{ provider: p.provider, api_key: 'sk-up', custom_host: `${upstream.url}${p.host}`, forward_headers: ['X-Request-Source', 'x-tenant-id'] }] } as never,
      });
      try {
        upstream.enqueue(p.path, { json: fixtureJson(p.answer) });
        const client = new OpenAI({ baseURL: `${app.gatewayURL}/v1`, apiKey: 'client-side-key', maxRetries: 0 });
        await client.chat.completions.create(
          { model: p.model, messages: [{ role: 'user', content: 'Hi' }] },
          { headers: { 'x-request-source': 'billing-ui', 'x-tenant-id': 'acme', 'x-not-forwarded': 'private' } },
        );
        const sent = upstream.requests[0]!;
        expect(sent.path).toBe(p.path);
        expect(sent.headers['x-request-source']).toBe('billing-ui');
        expect(sent.headers['x-tenant-id']).toBe('acme');
        expect(sent.headers['x-not-forwarded']).toBeUndefined();
        // The target's own key still authenticates the call; the client's never travels.
        expect(p.key(sent.headers as Record<string, string>)).toBe(true);
        expect(JSON.stringify(sent.headers)).not.toContain('client-side-key');
      } finally {
        await app.close();
      }
    });
  }
});
