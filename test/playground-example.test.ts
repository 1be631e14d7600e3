/**
 * The playground as a new user meets it (README → example app → /llm/playground): the model it starts
 * with, the model each compared route sends, Escape. Each failed before its fix.
 */
import { describe, expect, it } from 'vitest';
import { type Page } from 'playwright-core';
import { playgroundHarness } from './helpers/playground.js';
import { MockUpstream } from './helpers/mock-upstream.js';

const pg = playgroundHarness();
const startExample = (gateway: Record<string, unknown> = {}, env: Record<string, string> = {}) => pg.startExample({ logger: false, ...gateway }, env);

async function openPage(url: string): Promise<Page> {
  const context = await pg.browser().newContext({ viewport: { width: 1280, height: 900 } });
  pg.defer(() => context.close());
  const page = await context.newPage();
  await page.goto(url);
  return page;
}

const fact = (page: Page, name: string) => page.locator(`#pane-a-facts dd[data-fact="${name}"]`);

describe('playground as the example app serves it', () => {
  it('with OPENAI_API_KEY set, the example playground prefills a model OpenAI serves, so the default prompt is answered by OpenAI (not the mock fallback)', async () => {
    // A stand-in for api.openai.com on 127.0.0.1 that, like OpenAI, refuses models it does not have.
    const upstream = await new MockUpstream().start();
    pg.defer(() => upstream.close());
    upstream.route('/v1/chat/completions', (req) =>
      req.json?.model === 'gpt-4o-mini'
        ? { json: { id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from OpenAI.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } } }
        : { status: 404, json: { error: { message: `The model \`${req.json?.model}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', code: 'model_not_found' } } },
    );
    // The example exactly as `npm start` runs it with OPENAI_API_KEY set (fallback: openai → mock).
    const url = await startExample({ providers: { openai: { baseURL: `${upstream.url}/v1` } } }, { OPENAI_API_KEY: 'sk-test' });
    const page = await openPage(`${url}/llm/playground`);
    await expect.poll(() => page.locator('#route-a option').count()).toBe(4);
    await page.uncheck('#stream');
    await page.fill('#user', 'Hello!');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    await expect.poll(() => fact(page, 'fallbacks').textContent()).toBe('0');
    // The page used to prefill `mock-1` (the mock target's override model): OpenAI answers 404 and
    // every playground prompt silently falls back to the mock.
    expect(upstream.requests.map((r) => r.json?.model)).toEqual(['gpt-4o-mini']);
    expect(await fact(page, 'provider').textContent()).toBe('openai');
    expect(await page.locator('#pane-a-answer').textContent()).toBe('Hello from OpenAI.');
  });

  it('comparing routes, each pane sends the model its own route takes (the mock its mock-1, OpenAI a model it serves)', async () => {
    const upstream = await new MockUpstream().start();
    pg.defer(() => upstream.close());
    upstream.route('/v1/chat/completions', (req) =>
      req.json?.model === 'gpt-4o-mini'
        ? { json: { id: 'c1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from OpenAI.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 } } }
        : { status: 404, json: { error: { message: `The model \`${req.json?.model}\` does not exist.`, type: 'invalid_request_error', code: 'model_not_found' } } },
    );
    const url = await startExample({ providers: { openai: { baseURL: `${upstream.url}/v1` } } }, { OPENAI_API_KEY: 'sk-test' });
    const page = await openPage(`${url}/llm/playground`);
    await expect.poll(() => page.locator('#route-a option').count()).toBe(4);
    await page.uncheck('#stream');
    // First route: the mock (its model fills the box); second: the OpenAI target.
    await page.selectOption('#route-a', 'config.targets[1]');
    expect(await page.inputValue('#model')).toBe('mock-1');
    await page.check('#compare');
    await page.selectOption('#route-b', 'config.targets[0]');
    await page.fill('#user', 'Hello!');
    await page.click('#send');
    await expect.poll(() => page.locator('#pane-a-state').textContent()).toBe('Done.');
    await expect.poll(() => page.locator('#pane-b-state').textContent()).toBe('Done.');
    expect(upstream.requests.map((r) => r.json?.model)).toEqual(['gpt-4o-mini']);
    expect(await page.locator('#pane-b-answer').textContent()).toBe('Hello from OpenAI.');
  });

  it('Escape stops a running stream while focus is on the answer being read (docs: "Escape stops")', async () => {
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const url = await startExample({
      config: { targets: [{ provider: 'mock', override_params: { model: 'mock-1' }, mock_response: long, mock_delay_ms: 40 }] },
    });
    const page = await openPage(`${url}/llm/playground`);
    await expect.poll(() => page.locator('#route-a option').count()).toBe(3);
    await page.fill('#user', 'A long answer, please.');
    await page.click('#send');
    await page.waitForFunction(() => document.getElementById('pane-a-answer')!.textContent!.length > 30);
    // The answer region is focusable (tabindex=0) so keyboard users can scroll it while it streams.
    await page.focus('#pane-a-answer');
    await page.keyboard.press('Escape');
    // The keydown listener used to be on #prompt-form only: the stream runs on for ~8 s.
    await expect.poll(() => page.locator('#pane-a-state').textContent(), { timeout: 2000 }).toBe('Failed: stopped');
    // Stop is disabled once every pane settled (after the page fetched the request's record).
    await expect.poll(() => page.isDisabled('#stop')).toBe(true);
  });
});
