/** The playground from an adversarial review: access in every combination, XSS and Stop in a real browser, pins; the regression is marked. */
/**
 * Review of the playground (`<mount>/playground` and `<mount>/playground/api/*`): access control in
 * every combination, no secrets in what the page and its API show, escaping in the real browser,
 * stopping a chat (the upstream call must stop too), and that a pin cannot leave the server config.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createGateway } from '@llmux/core';
import { playgroundHarness } from './helpers/playground.js';
import { MockUpstream } from './helpers/mock-upstream.js';

const pg = playgroundHarness();
const ADMIN = 'review-admin-key-0123456789';

const sse = (words: string[]) => [
  ...words.map((w, i) =>
    `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content: w } : { content: w }, finish_reason: null }] })}\n\n`,
  ),
  `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
  'data: [DONE]\n\n',
];

async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const context = await pg.browser().newContext({ viewport: { width: 1280, height: 900 } });
  pg.defer(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}

const upstreams: MockUpstream[] = [];
afterEach(async () => {
  while (upstreams.length) await upstreams.pop()!.close();
});
async function upstream(): Promise<MockUpstream> {
  const u = await new MockUpstream().start();
  upstreams.push(u);
  return u;
}

describe('playground review: stopping a chat stops the upstream call', () => {
  for (const [label, route] of [
    ['pinned target (playground/api/chat)', 'config.targets[0]'],
    ['by model name (/v1/chat/completions)', ''],
  ] as const) {
    it(`Stop during a stream closes the upstream connection — ${label}`, async () => {
      const up = await upstream();
      const words = Array.from({ length: 60 }, (_, i) => `w${i} `);
      up.route('/v1/chat/completions', { chunks: sse(words), chunkDelayMs: 150 });
      const url = await pg.startExample({
        config: { targets: [{ provider: 'openai', api_key: 'sk-review-upstream-key', custom_host: `${up.url}/v1`, override_params: { model: 'gpt-4o-mini' } }] },
      });
      const { page, problems } = await openPage(`${url}/llm/playground`);
      await expect.poll(() => page.locator('#route-a option').count()).toBe(3);
      await page.selectOption('#route-a', route);
      await page.fill('#user', 'Talk for a while.');
      await page.click('#send');
      await page.waitForFunction(() => (document.getElementById('pane-a-answer')!.textContent || '').includes('w2'));
      expect(up.aborted).toBe(0);
      await page.click('#stop');
      await expect.poll(() => page.locator('#pane-a-state').textContent(), { timeout: 3000 }).toBe('Failed: stopped');
      // The gateway lets go of the provider's stream once the browser is gone: no tokens paid for nobody.
      await expect.poll(() => up.aborted, { timeout: 3000 }).toBe(1);
      const shown = (await page.locator('#pane-a-answer').textContent())!;
      expect(shown.startsWith('w0 w1 w2')).toBe(true);
      expect(shown).not.toContain('w59');
      expect(problems).toEqual([]);
    });
  }

  it('Stop while a non-streamed answer is still awaited closes the upstream connection', async () => {
    const up = await upstream();
    up.route('/v1/chat/completions', { hang: true });
    const url = await pg.startExample({
      config: { targets: [{ provider: 'openai', api_key: 'sk-review-upstream-key', custom_host: `${up.url}/v1`, override_params: { model: 'gpt-4o-mini' } }] },
    });
    const { page } = await openPage(`${url}/llm/playground`);
    await expect.poll(() => page.locator('#route-a option').count()).toBe(3);
    await page.selectOption('#route-a', 'config.targets[0]');
    await page.uncheck('#stream');
    await page.fill('#user', 'Think hard.');
    await page.click('#send');
    await expect.poll(() => up.requests.length).toBe(1);
    await page.click('#stop');
    await expect.poll(() => page.locator('#pane-a-state').textContent(), { timeout: 3000 }).toBe('Failed: stopped');
    await expect.poll(() => up.aborted, { timeout: 3000 }).toBe(1);
    await expect.poll(() => page.isDisabled('#stop')).toBe(true);
  });
});

describe('playground review: markup from the config, the provider and errors is shown as text', () => {
  it('target names, model names, completions (streamed and not) and error messages with HTML stay text in the page and the usage view', async () => {
    const up = await upstream();
    const upstreamError = '<img id="inj-err" src="x" onerror="window.__xss=\'error\'">bad <b>request</b>';
    up.route('/v1/chat/completions', { status: 400, json: { error: { message: upstreamError, type: 'invalid_request_error' } } });
    const evilName = '<img id="inj-name" src="x" onerror="window.__xss=\'name\'">';
    const evilModel = '<svg id="inj-model" onload="window.__xss=\'model\'"></svg>';
    const evilAnswer = '<script id="inj-script">window.__xss="answer"</script><img id="inj-answer" src="x" onerror="window.__xss=\'answer\'">';
    const url = await pg.startExample({
      config: {
        strategy: { mode: 'fallback' },
        targets: [
          { provider: 'mock', name: evilName, override_params: { model: evilModel }, mock_response: evilAnswer },
          { provider: 'openai', name: '<b id="inj-b">b</b>', api_key: 'sk-review-upstream-key', custom_host: `${up.url}/v1`, override_params: { model: 'gpt-4o-mini' } },
        ],
      },
    });
    const { page, problems } = await openPage(`${url}/llm/playground`);
    await expect.poll(() => page.locator('#route-a option').count()).toBe(4);
    const injected = () => page.evaluate(() => ({ xss: (window as { __xss?: string }).__xss, nodes: document.querySelectorAll('[id^="inj-"]').length }));
    expect(await page.locator('#route-a option').nth(2).textContent()).toContain(evilName);

    // Streamed from the mock target (its HTML answer), then non-streamed.
    await page.selectOption('#route-a', 'config.targets[0]');
    await page.fill('#user', 'Say something dangerous.');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-a-answer').textContent()).toBe(evilAnswer);
    await page.uncheck('#stream');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-a-answer').textContent()).toBe(evilAnswer);

    // The upstream's error message, and a typed model name with markup.
    await page.selectOption('#route-a', 'config.targets[1]');
    await page.fill('#model', '<i id="inj-typed">m</i>');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toContain('Failed:');
    expect(await page.locator('#pane-a-answer').textContent()).toContain('<b>request</b>');

    await page.click('#tab-usage');
    await expect.poll(() => page.locator('#recent-table tbody tr').count()).toBeGreaterThanOrEqual(3);
    const table = (await page.locator('#recent-table').textContent())!;
    expect(table).toContain(evilModel);
    expect(table).toContain('<b>request</b>');
    await page.waitForTimeout(300);
    expect(await injected()).toEqual({ xss: undefined, nodes: 0 });
    expect(problems).toEqual([]);
  });
});

describe('playground review: access in every combination (docs/playground.md "Access")', () => {
  const config = { strategy: { mode: 'fallback' }, targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }, { provider: 'mock', override_params: { model: 'mock-2' } }] };
  const gatewayKey = 'review-gateway-key-0123456789';
  const setups: Record<string, { options: Record<string, unknown>; env: Record<string, string>; admin: boolean; auth: boolean }> = {
    'nothing': { options: {}, env: {}, admin: false, auth: false },
    'adminKey option': { options: { adminKey: ADMIN }, env: {}, admin: true, auth: false },
    'LLMUX_ADMIN_KEY in env': { options: {}, env: { LLMUX_ADMIN_KEY: ADMIN }, admin: true, auth: false },
    'auth.adminKeys only': { options: { auth: { keys: [{ name: 'a', key: gatewayKey }], adminKeys: [ADMIN] } }, env: {}, admin: true, auth: true },
    'auth keys without admin': { options: { auth: { keys: [{ name: 'a', key: gatewayKey }] } }, env: {}, admin: false, auth: true },
    'auth keys and adminKey': { options: { adminKey: ADMIN, auth: { keys: [{ name: 'a', key: gatewayKey }] } }, env: {}, admin: true, auth: true },
  };
  const apiCalls = [
    { method: 'GET', path: '/playground/api/info' },
    { method: 'GET', path: '/playground/api/usage' },
    { method: 'GET', path: '/playground/api/requests' },
    { method: 'GET', path: '/playground/api/requests?trace_id=nope' },
    { method: 'POST', path: '/playground/api/chat', pin: 'config.targets[1]' },
  ];

  for (const [name, setup] of Object.entries(setups)) {
    for (const production of [false, true]) {
      for (const playground of [undefined, true, false]) {
        it(`${name}, ${production ? 'production' : 'development'}, playground: ${String(playground)}`, async () => {
          const env = { ...setup.env, ...(production ? { NODE_ENV: 'production' } : {}) };
          const gw = createGateway({ config, env, ...setup.options, ...(playground === undefined ? {} : { playground }) } as never);
          try {
            const enabled = playground ?? (setup.admin || !production);
            const pageShown = enabled && (setup.admin || !setup.auth);
            const page = await gw.handle({ method: 'GET', path: '/playground', headers: {} });
            expect(page.status).toBe(pageShown ? 200 : 404);
            for (const call of apiCalls) {
              const req = (headers: Record<string, string>) => ({
                method: call.method,
                path: call.path,
                headers: { 'content-type': 'application/json', ...(call.pin ? { 'x-llmux-playground-target': call.pin } : {}), ...headers },
                ...(call.method === 'POST' ? { body: JSON.stringify({ model: 'mock-2', messages: [{ role: 'user', content: 'hi' }] }) } : {}),
              });
              const bare = await gw.handle(req({}));
              const withGatewayKey = await gw.handle(req({ authorization: `Bearer ${gatewayKey}` }));
              const withAdmin = await gw.handle(req({ 'x-llmux-admin-key': ADMIN }));
              const asBearer = await gw.handle(req({ authorization: `Bearer ${ADMIN}` }));
              const where = `${call.method} ${call.path}`;
              if (!enabled || (setup.auth && !setup.admin)) {
                for (const r of [bare, withGatewayKey, withAdmin, asBearer]) expect(r.status, where).toBe(404);
              } else if (setup.admin || setup.auth) {
                expect(bare.status, where).toBe(401);
                if (setup.auth) expect(withGatewayKey.status, where).toBe(401);
                expect(withAdmin.status, where).toBe(200);
                expect(asBearer.status, where).toBe(200);
              } else {
                expect(bare.status, where).toBe(200);
              }
              for (const r of [bare, withGatewayKey, withAdmin, asBearer]) if (r.status === 200 && call.pin) await new Response(r.body as never).text();
            }
          } finally {
            await gw.close(100);
          }
        });
      }
    }
  }
});

describe('playground review: the admin key never travels upstream', () => {
  it('a pinned chat whose target forwards x-llmux-admin-key and authorization sends neither admin key upstream (both ways of sending it)', async () => {
    const up = await upstream();
    up.route('/v1/chat/completions', { json: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } });
    const gw = createGateway({
      env: {},
      adminKey: ADMIN,
      config: { targets: [{ provider: 'openai', api_key: 'sk-target-key-1', custom_host: `${up.url}/v1`, forward_headers: ['x-llmux-admin-key', 'authorization', 'x-trace-me'], override_params: { model: 'gpt-4o-mini' } }] },
    });
    try {
      for (const headers of [{ 'x-llmux-admin-key': ADMIN }, { authorization: `Bearer ${ADMIN}` }]) {
        const res = await gw.handle({
          method: 'POST',
          path: '/playground/api/chat',
          headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[0]', 'x-trace-me': 'yes', ...headers },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
        });
        expect(res.status).toBe(200);
      }
      expect(up.requests).toHaveLength(2);
      for (const r of up.requests) {
        expect(JSON.stringify(r.headers)).not.toContain(ADMIN);
        expect(r.headers.authorization).toBe('Bearer sk-target-key-1');
        expect(r.headers['x-trace-me']).toBe('yes');
      }
    } finally {
      await gw.close(100);
    }
  });
});

describe('playground review: a pin keeps the server cache settings', () => {
  it('a request pinned to the second target of a semantic-cache config embeds with the server embedder and gets a semantic hit', async () => {
    // Expected (docs/playground.md: "budgets, rate limits, cache settings, aliases and the deadline stay
    // the server's"): the server's semantic cache embeds prompts with its embedder — the first target's
    // provider (docs: "the first target's provider") — whatever the pin, so "Tell me about Python" after
    // "What is Python?" on the same pinned target is a SEMANTIC_HIT, as it is without a pin.
    // Was: the pinned plan's root is the pinned node (pinned-chat.ts:33), and the cache stage builds
    // the embedder from `root` (cache-stage.ts:203 → semantic.ts:42 `firstTarget(root)`), so a pin on
    // the second target sends the prompt to THAT target's host as an embeddings call
    // (text-embedding-3-small to a chat-only server), which fails: a wasted upstream call per request,
    // a "embedding failed" warning, and never a semantic hit in the playground. Pinned to an Anthropic
    // target it is skipped with a "cache.embedding is required" warning about a config that is valid.
    const { topicEmbeddings } = await import('./helpers/topic-embedder.js');
    const answer = (content: string) => ({ json: { id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } } });
    const first = await upstream();
    first.route('/v1/embeddings', topicEmbeddings);
    first.route('/v1/chat/completions', answer('from the first'));
    const second = await upstream(); // a chat-only OpenAI-compatible server (no /v1/embeddings: 404)
    second.route('/v1/chat/completions', answer('from the second'));
    const gw = createGateway({
      env: {},
      config: {
        cache: { mode: 'semantic' },
        strategy: { mode: 'fallback' },
        targets: [
          { provider: 'openai', api_key: 'sk-first-000', custom_host: `${first.url}/v1`, override_params: { model: 'gpt-4o-mini' } },
          { provider: 'openai', api_key: 'sk-second-000', custom_host: `${second.url}/v1`, override_params: { model: 'llama-3-8b' } },
        ],
      },
    });
    try {
      const ask = async (content: string) => {
        const res = await gw.handle({
          method: 'POST',
          path: '/playground/api/chat',
          headers: { 'content-type': 'application/json', 'x-llmux-playground-target': 'config.targets[1]' },
          body: JSON.stringify({ model: 'llama-3-8b', messages: [{ role: 'user', content }] }),
        });
        return { status: res.status, cache: res.headers['x-llmux-cache'] };
      };
      expect(await ask('What is Python?')).toEqual({ status: 200, cache: 'MISS' });
      const similar = await ask('Tell me about Python');
      expect(similar).toEqual({ status: 200, cache: 'SEMANTIC_HIT' });
      expect(second.requests.filter((r) => r.path.startsWith('/v1/embeddings'))).toHaveLength(0);
      expect(second.requests.filter((r) => r.path.startsWith('/v1/chat/completions'))).toHaveLength(1);
    } finally {
      await gw.close(100);
    }
  });
});
