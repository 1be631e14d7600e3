import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BrowserContext, type Page } from 'playwright-core';
import { playgroundHarness } from './helpers/playground.js';
import express from 'express';
import { gatewayMiddleware } from '@llmux/express';
import { gatewayConfig } from '../examples/express/gateway-config.mjs';
import { MockUpstream } from './helpers/mock-upstream.js';

/** Screenshots land here (gitignored) so a person can look at what the browser saw. */
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const ADMIN_KEY = 'playground-admin-key';

const pg = playgroundHarness();
const { startExample } = pg;

beforeAll(() => {
  mkdirSync(ARTIFACTS, { recursive: true });
});

async function openPage(url: string, viewport = { width: 1280, height: 900 }): Promise<{ page: Page; context: BrowserContext }> {
  const context = await pg.browser().newContext({ viewport });
  pg.defer(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('401')) problems.push(`console: ${m.text()}`);
  });
  pg.defer(async () => expect(problems).toEqual([]));
  await page.goto(url);
  return { page, context };
}

const fact = (page: Page, pane: 'a' | 'b', name: string) => page.locator(`#pane-${pane}-facts dd[data-fact="${name}"]`);

describe('playground in headless Chromium', () => {
  it('sends a streamed prompt, shows target, cost and cache, and lists it in the usage view', async () => {
    const url = await startExample(
      {
        // The example's own config, plus a cache and a budget so the page has them to show.
        config: { ...gatewayConfig({}), cache: { mode: 'simple' }, budget: { max_cost_per_day: 1 }, rate_limit: { requests_per_minute: 60 } },
        pricing: { 'mock-1': { input: 2, output: 8 } },
      },
      { LLMUX_ADMIN_KEY: ADMIN_KEY },
    );
    const { page } = await openPage(`${url}/llm/playground`);

    // The API is guarded: the page asks for the key, keeps it in sessionStorage and then loads.
    await expect.poll(() => page.locator('#notice').textContent()).toContain('admin key');
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('#key-save');
    await expect.poll(() => page.locator('#route-a option').count()).toBe(3);
    expect(await page.evaluate(() => sessionStorage.getItem('llmux.playground.adminKey'))).toBe(ADMIN_KEY);
    expect(await page.inputValue('#model')).toBe('mock-1');

    await page.fill('#system', 'Answer briefly.');
    await page.fill('#user', 'What does a gateway do for my app?');
    await page.fill('#temperature', '0.2');
    await page.fill('#max-tokens', '64');
    await page.click('#send');
    // Watch it stream: words arrive while the pane still says so.
    await page.waitForFunction(() => {
      const state = document.getElementById('pane-a-state')!.textContent;
      return state === 'Streaming\u2026' && document.getElementById('pane-a-answer')!.textContent!.length > 0;
    });
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-a-answer').textContent()).toBe('This is a mock response from llmux. You said: "What does a gateway do for my app?"');
    expect(await fact(page, 'a', 'provider').textContent()).toBe('mock');
    expect(await fact(page, 'a', 'target').textContent()).toBe('config.targets[0]');
    expect(await fact(page, 'a', 'retries').textContent()).toBe('0');
    expect(await fact(page, 'a', 'cache').textContent()).toBe('MISS');
    expect(await fact(page, 'a', 'cost').textContent()).toMatch(/^\$0\.000\d+$/);
    expect(await fact(page, 'a', 'tokens').textContent()).toMatch(/^\d+ in · \d+ out · \d+ total$/);
    expect(await fact(page, 'a', 'ttft').textContent()).toMatch(/^\d+ ms$/);
    expect(await fact(page, 'a', 'latency').textContent()).toMatch(/^\d+ ms$/);
    expect(await fact(page, 'a', 'status').textContent()).toBe('200 · stop');
    await page.screenshot({ path: `${ARTIFACTS}playground-streamed.png`, fullPage: true });

    // The same prompt again comes from the cache, free.
    await page.click('#send');
    await expect.poll(() => fact(page, 'a', 'cache').textContent()).toBe('HIT');
    expect(await fact(page, 'a', 'cost').textContent()).toBe('$0');

    await page.click('#tab-usage');
    // Both chats are listed, newest first (the page's own refused calls before the key was entered too).
    const chats = page.locator('#recent-table tbody tr', { hasText: 'mock-1' });
    await expect.poll(() => chats.count()).toBe(2);
    expect(await chats.nth(0).textContent()).toContain('HIT');
    expect(await chats.nth(1).textContent()).toContain('MISS');
    expect(await chats.nth(1).textContent()).toContain('config.targets[0]');
    expect(await page.locator('#recent-table tbody tr', { hasText: '401' }).count()).toBeGreaterThan(0);
    expect(await page.locator('[data-stat="cache"]').textContent()).toBe('50% of 2');
    expect(await page.locator('#budgets-table tbody').textContent()).toContain('gateway');
    expect(await page.locator('#limits-table tbody td').nth(3).textContent()).toBe('2');
    await page.screenshot({ path: `${ARTIFACTS}playground-usage.png`, fullPage: true });
  });

  it('compares two routes side by side on the same prompt, with the fallback one showing its attempts', async () => {
    const upstream = await new MockUpstream().start();
    pg.defer(() => upstream.close());
    upstream.route('/v1/chat/completions', { status: 503, json: { error: { message: 'overloaded', type: 'server_error' } } });
    const url = await startExample({
      config: {
        strategy: { mode: 'fallback' },
        targets: [
          { provider: 'openai', name: 'flaky', api_key: 'sk-test', custom_host: `${upstream.url}/v1`, override_params: { model: 'gpt-4o-mini' } },
          { provider: 'mock', name: 'primary', override_params: { model: 'mock-1' }, mock_delay_ms: 20 },
          { provider: 'mock', name: 'backup', override_params: { model: 'mock-2' }, mock_response: 'The backup target answers differently.', mock_delay_ms: 20 },
        ],
      },
    });
    const { page } = await openPage(`${url}/llm/playground`);
    await expect.poll(() => page.locator('#route-a option').count()).toBe(5);
    expect(await page.locator('#open-note').textContent()).toContain('No admin key is configured');
    expect(await page.isVisible('#key-form')).toBe(false);
    await page.selectOption('#route-a', 'config');
    await page.check('#compare');
    expect(await page.isVisible('#pane-b')).toBe(true);
    await page.selectOption('#route-b', 'config.targets[2]');
    await page.fill('#user', 'Compare us.');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    await expect.poll(() => page.locator('#pane-b-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-a-answer').textContent()).toContain('You said: "Compare us."');
    expect(await page.locator('#pane-b-answer').textContent()).toBe('The backup target answers differently.');
    expect(await fact(page, 'a', 'target').textContent()).toBe('config.targets[1]');
    expect(await fact(page, 'b', 'target').textContent()).toBe('config.targets[2]');
    await expect.poll(() => fact(page, 'a', 'fallbacks').textContent()).toBe('1');
    expect(await fact(page, 'a', 'attempts').textContent()).toMatch(/^config\.targets\[0\] 503 \(\d+ ms\) → config\.targets\[1\] 200/);
    await expect.poll(() => fact(page, 'b', 'fallbacks').textContent()).toBe('0');
    // Side by side on a wide screen.
    const a = (await page.locator('#pane-a').boundingBox())!;
    const b = (await page.locator('#pane-b').boundingBox())!;
    expect(b.x).toBeGreaterThan(a.x + a.width - 1);
    expect(Math.abs(a.y - b.y)).toBeLessThan(2);
    await page.screenshot({ path: `${ARTIFACTS}playground-compare.png`, fullPage: true });
  });

  it('works with the keyboard alone on a narrow screen', async () => {
    const url = await startExample({
      config: {
        targets: [
          { provider: 'mock', override_params: { model: 'mock-1' } },
          { provider: 'mock', override_params: { model: 'mock-2' }, mock_response: 'Second.' },
        ],
      },
    });
    const { page } = await openPage(`${url}/llm/playground`, { width: 390, height: 844 });
    await expect.poll(() => page.locator('#route-a option').count()).toBe(4);

    // First Tab reaches the skip link; following it lands in the prompt.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.className)).toBe('skip');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('user');
    // Focus is visible.
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');
    await page.keyboard.type('Typed without a mouse.');
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-a-answer').textContent()).toContain('Typed without a mouse.');

    // Turn on the comparison from the keyboard: panes stack on a narrow screen.
    await page.focus('#compare');
    await page.keyboard.press('Space');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('route-b');
    await page.focus('#temperature');
    await page.keyboard.type('0.5');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#pane-b-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-b-answer').textContent()).toBe('Second.');
    const a = (await page.locator('#pane-a').boundingBox())!;
    const b = (await page.locator('#pane-b').boundingBox())!;
    expect(b.y).toBeGreaterThanOrEqual(a.y + a.height);
    // Nothing wider than the screen.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: `${ARTIFACTS}playground-narrow.png`, fullPage: true });

    // The tabs follow the arrow keys.
    await page.focus('#tab-play');
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-usage');
    expect(await page.isVisible('#view-usage')).toBe(true);
    expect(await page.isVisible('#view-play')).toBe(false);
    await page.screenshot({ path: `${ARTIFACTS}playground-narrow-usage.png`, fullPage: true });
  });

  it('finds its API from its own URL under a custom mount path', async () => {
    const app = express();
    const mw = gatewayMiddleware({ basePath: '/internal/ai', env: {}, config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }] } });
    app.use('/internal/ai', mw);
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    pg.defer(async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await mw.close(500);
    });
    const requested: string[] = [];
    const { page } = await openPage(`http://127.0.0.1:${(server.address() as AddressInfo).port}/internal/ai/playground/`);
    page.on('request', (r) => requested.push(new URL(r.url()).pathname));
    await expect.poll(() => page.locator('#route-a option').count()).toBe(3);
    await page.uncheck('#stream');
    await page.fill('#user', 'Mounted elsewhere.');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-a-answer').textContent()).toContain('Mounted elsewhere.');
    expect(await fact(page, 'a', 'cost').textContent()).toBe('$0');
    expect(requested).toContain('/internal/ai/v1/chat/completions');
    expect(requested.every((p) => p.startsWith('/internal/ai/'))).toBe(true);
  });
});
