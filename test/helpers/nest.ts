import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestApplicationOptions } from '@nestjs/common';
import { afterEach } from 'vitest';

/** `@Module(metadata) class {}` without decorator syntax (test files are not compiled with it). */
export function moduleClass(metadata: Parameters<typeof Module>[0]) {
  const cls = class {};
  Module(metadata)(cls);
  return cls;
}

/** Boots one Nest app per test on port 0 (closed after it); `app()` is the one booted last. */
export function nestHarness(options: NestApplicationOptions = {}) {
  let app: INestApplication | undefined;
  afterEach(async () => {
    (app?.getHttpServer() as Server | undefined)?.closeAllConnections();
    await app?.close();
    app = undefined;
  });
  return {
    app: () => app,
    /** Closes the app now (a test of what closing does); the hook then has nothing left to close. */
    async close(): Promise<void> {
      await app?.close();
      app = undefined;
    },
    async boot(root: unknown, setup?: (app: INestApplication) => void): Promise<string> {
      app = await NestFactory.create(root as never, { logger: false, ...options });
      setup?.(app);
      await app.listen(0, '127.0.0.1');
      return `http://127.0.0.1:${((app.getHttpServer() as Server).address() as AddressInfo).port}`;
    },
  };
}
