import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createExampleApp } from '../../examples/express/app.mjs';

/**
 * Debian's Chromium, headless, for the playground's browser suites — with the flags this machine's
 * closed network needs (without them Chromium keeps opening connections that are refused) — plus a
 * stack of things each test opened, closed after it, newest first.
 */
export function playgroundHarness() {
  let browser: Browser | undefined;
  const open: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    while (open.length) await open.pop()!();
  });
  const defer = (close: () => Promise<void> | void) => void open.push(async () => close());
  return {
    browser: (): Browser => browser!,
    defer,
    /** The Express example (mock provider, no network) with the given gateway options, on port 0. */
    async startExample(gateway: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<string> {
      const { app, llm } = createExampleApp({ env, gateway });
      const server: Server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      defer(async () => {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
        await llm.close(500);
      });
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
  };
}
