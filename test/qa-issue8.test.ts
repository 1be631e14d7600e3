/**
 * QA for issue 8 (playground): what the feature tests leave open, as a user of the page sees it —
 * refusals and broken streams shown readably, Stop really stopping the upstream stream, markup in
 * answers, paths and model names (client-controlled text) never interpreted by the admin's browser,
 * the page loading nothing but itself, and a dark colour scheme that stays readable.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Page } from 'playwright-core';
import { playgroundHarness } from './helpers/playground.js';

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const pg = playgroundHarness();
const startExample = (gateway: Record<string, unknown>) => pg.startExample(gateway);

beforeAll(() => {
  mkdirSync(ARTIFACTS, { recursive: true });
});

/** A page that records every request it makes and every script error or CSP violation it meets. */
async function openPage(url: string, options: { colorScheme?: 'dark' | 'light'; viewport?: { width: number; height: number } } = {}) {
  const context = await pg.browser().newContext({ viewport: options.viewport ?? { width: 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
  pg.defer(() => context.close());
  const page = await context.newPage();
  const requested: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/\b(40[0-9]|429|50[0-9])\b/.test(m.text())) problems.push(m.text());
  });
  await page.goto(url);
  await expect.poll(() => page.locator('#route-a option').count()).toBeGreaterThan(0);
  return { page, requested, problems };
}

const fact = (page: Page, name: string) => page.locator(`#pane-a-facts dd[data-fact="${name}"]`);

describe('playground, as a user sees it', () => {
  it('shows a rate limit and a budget refusal readably, with the status, and lists them in the usage view', async () => {
    const limited = await startExample({ config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }], rate_limit: { requests_per_minute: 1 } } });
    const { page, problems } = await openPage(`${limited}/llm/playground`);
    await page.uncheck('#stream');
    await page.fill('#user', 'First.');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    await page.fill('#user', 'Second.');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toMatch(/^Failed: /);
    expect(await page.locator('#pane-a-state').textContent()).toContain('rate limit reached');
    expect(await page.locator('#pane-a-answer').textContent()).toContain('rate limit reached');
    expect(await fact(page, 'status').textContent()).toContain('429');
    await page.screenshot({ path: `${ARTIFACTS}qa-playground-rate-limited.png`, fullPage: true });
    await page.click('#tab-usage');
    await expect.poll(() => page.locator('#recent-table tbody tr', { hasText: '429' }).count()).toBe(1);
    // The row says why, not only the status.
    expect(await page.locator('#recent-table tbody tr', { hasText: '429' }).textContent()).toContain('rate limit reached');
    await page.screenshot({ path: `${ARTIFACTS}qa-playground-usage-errors.png`, fullPage: true });
    expect(await page.locator('#limits-table tbody').textContent()).toContain('requests / minute');
    expect(problems).toEqual([]);

    const broke = await startExample({ config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' } }], budget: { max_cost_per_day: 0.000001 } }, pricing: { 'mock-1': { input: 2, output: 8 } } });
    const second = await openPage(`${broke}/llm/playground`);
    await second.page.fill('#user', 'Too dear.');
    await second.page.click('#send');
    await expect.poll(() => second.page.locator('#pane-a-state').textContent()).toMatch(/^Failed: budget exceeded/);
    expect(await second.page.locator('#pane-a-facts dd[data-fact="status"]').textContent()).toContain('402');
    expect(second.problems).toEqual([]);
  });

  it('Stop ends the stream for the browser and the upstream; the request is recorded as client_closed', async () => {
    const url = await startExample({
      config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' }, mock_delay_ms: 150, mock_response: 'one two three four five six seven eight nine ten eleven twelve' }] },
    });
    const { page } = await openPage(`${url}/llm/playground`);
    await page.fill('#user', 'Long answer please.');
    await page.click('#send');
    await page.waitForFunction(() => (document.getElementById('pane-a-answer')!.textContent ?? '').length > 0);
    expect(await page.isEnabled('#stop')).toBe(true);
    await page.click('#stop');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toMatch(/stop/i);
    const shown = await page.locator('#pane-a-answer').textContent();
    expect(shown).not.toContain('twelve');
    // Send comes back once the page has fetched the stopped request's record (one more request).
    await expect.poll(() => page.isEnabled('#send')).toBe(true);
    await expect
      .poll(async () => (await page.evaluate(async (u) => (await fetch(`${u}/llm/playground/api/requests`)).json(), url)).data.find((r: any) => r.route === 'chat')?.outcome)
      .toBe('client_closed');
  });

  it('never interprets markup from answers, paths, model names or metadata, and loads nothing but itself', async () => {
    const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>';
    const url = await startExample({ config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' }, mock_response: evil }] } });
    // A client sends markup where it can: the model name, the path, metadata.
    await fetch(`${url}/llm/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-llmux-metadata': JSON.stringify({ note: evil }) },
      body: JSON.stringify({ model: evil, messages: [{ role: 'user', content: evil }] }),
    });
    await fetch(`${url}/llm/${encodeURIComponent(evil)}`);
    await fetch(`${url}/llm/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: evil, messages: evil }) });
    const { page, requested, problems } = await openPage(`${url}/llm/playground`);
    await page.fill('#user', evil);
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    expect(await page.locator('#pane-a-answer').textContent()).toBe(evil);
    await page.click('#tab-usage');
    await expect.poll(() => page.locator('#recent-table tbody tr').count()).toBeGreaterThanOrEqual(4);
    await page.screenshot({ path: `${ARTIFACTS}qa-playground-markup.png`, fullPage: true });
    expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
    expect(await page.locator('main img, main b, #view-usage img, #view-play img').count()).toBe(0);
    const origin = new URL(url).origin;
    expect(requested.filter((r) => !r.startsWith(origin))).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('stays readable in a dark colour scheme', async () => {
    const url = await startExample({});
    const { page } = await openPage(`${url}/llm/playground`, { colorScheme: 'dark' });
    await page.fill('#user', 'Dark mode?');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    // Text and its background differ clearly (WCAG relative luminance contrast of at least 4.5).
    const contrasts = await page.evaluate(() => {
      const lum = (c: string) => {
        const [r, g, b] = c.match(/[\d.]+/g)!.slice(0, 3).map(Number).map((v) => {
          const s = v / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const background = (el: Element | null): string => {
        for (; el; el = el.parentElement) {
          const bg = getComputedStyle(el).backgroundColor;
          if (!/rgba\(.*,\s*0\)$/.test(bg) && bg !== 'transparent') return bg;
        }
        return 'rgb(255, 255, 255)';
      };
      return ['#pane-a-answer', '#user', 'label[for="user"]', '#pane-a-facts dd', '#send'].map((sel) => {
        const el = document.querySelector(sel)!;
        const [a, b] = [lum(getComputedStyle(el).color), lum(background(el))];
        return [sel, Math.round(((Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)) * 10) / 10] as const;
      });
    });
    for (const [sel, ratio] of contrasts) expect(ratio, sel).toBeGreaterThanOrEqual(4.5);
    await page.screenshot({ path: `${ARTIFACTS}qa-playground-dark.png`, fullPage: true });
  });
});
