import type { Server } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll } from 'vitest';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import { gatewayMiddleware, type ExpressGatewayOptions } from '@llmux/express';
import Koa from 'koa';
import Koa2 from 'koa2';
import { bodyParser as koaBodyParser } from '@koa/bodyparser';
import { gatewayMiddleware as koaGatewayMiddleware } from '@llmux/koa';
import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Gateway as GatewayToken, GatewayModule } from '@llmux/nestjs';
import type { Gateway } from '@llmux/core';

/** A host app with the gateway mounted, listening on 127.0.0.1 at a random port. */
export interface TestApp {
  name: string;
  /** `http://127.0.0.1:port` */
  url: string;
  /** `${url}/llm` — where the gateway is mounted. */
  gatewayURL: string;
  gateway: Gateway;
  close(): Promise<void>;
}

export interface AppOptions extends ExpressGatewayOptions<any> {
  /** Run a JSON body parser before the gateway. Default true. */
  bodyParser?: boolean;
  /** Size limit of that body parser. Default '20mb' (Nest: its own default unless given). */
  bodyLimit?: string;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((r) => server.close(() => r()));
}

function expressApp(name: string, factory: () => any) {
  return async (options: AppOptions = {}): Promise<TestApp> => {
    const { bodyParser = true, bodyLimit = '20mb', ...gatewayOptions } = options;
    const app = factory();
    if (bodyParser) app.use(factory.json({ limit: bodyLimit }));
    app.get('/health', (_req: unknown, res: any) => res.json({ ok: true }));
    app.post('/echo', (req: any, res: any) => res.json({ body: req.body ?? null }));
    const mw = gatewayMiddleware(gatewayOptions);
    app.use(mw);
    const server = app.listen(0, '127.0.0.1') as Server;
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      name,
      url,
      gatewayURL: `${url}${gatewayOptions.basePath ?? '/llm'}`,
      gateway: mw.gateway,
      async close() {
        await closeServer(server);
        await mw.close(1000);
      },
    };
  };
}

(express as any).json ??= express.json;
const express5Factory = Object.assign(() => express(), { json: express.json });
const express4Factory = Object.assign(() => (express4 as any)(), { json: (express4 as any).json });

/** Koa with `@koa/bodyparser` (unless `bodyParser: false`), two host routes, then the gateway. */
function koaApp(name: string, KoaClass: new () => any) {
  return async (options: AppOptions = {}): Promise<TestApp> => {
    const { bodyParser = true, bodyLimit = '20mb', ...gatewayOptions } = options;
    const app = new KoaClass();
    // Koa 3 reports every client that leaves mid-stream as ERR_STREAM_PREMATURE_CLOSE; tests cause many.
    app.silent = true;
    if (bodyParser) app.use(koaBodyParser({ jsonLimit: bodyLimit }));
    app.use(async (ctx: any, next: () => Promise<void>) => {
      if (ctx.method === 'GET' && ctx.path === '/health') ctx.body = { ok: true };
      else if (ctx.method === 'POST' && ctx.path === '/echo') ctx.body = { body: ctx.request.body ?? null };
      else await next();
    });
    const mw = koaGatewayMiddleware(gatewayOptions);
    app.use(mw);
    const server = app.listen(0, '127.0.0.1') as Server;
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      name,
      url,
      gatewayURL: `${url}${gatewayOptions.basePath ?? '/llm'}`,
      gateway: mw.gateway,
      async close() {
        await closeServer(server);
        await mw.close(1000);
      },
    };
  };
}

/** Applies Nest decorators without decorator syntax (test files are not compiled with it). */
function decorate(target: any, method: string, ...decorators: Array<(t: any, k: string, d: PropertyDescriptor) => void>) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, method)!;
  for (const d of decorators) d(target.prototype, method, descriptor);
}

/**
 * NestJS on platform-express with its default body parser (or `bodyParser: false`) and, with
 * `prefix`, a global prefix that moves the gateway to `/<prefix>/llm` (host routes stay at the root).
 */
function nestApp(name: string, prefix?: string) {
  return async (options: AppOptions = {}): Promise<TestApp> => {
    const { bodyParser = true, bodyLimit, ...gatewayOptions } = options;
    class HostController {
      health() {
        return { ok: true };
      }
      echo(body: unknown) {
        return { body: body ?? null };
      }
    }
    Controller()(HostController);
    decorate(HostController, 'health', Get('health'));
    decorate(HostController, 'echo', Post('echo'), HttpCode(200));
    Body()(HostController.prototype, 'echo', 0);
    class AppModule {}
    Module({ imports: [GatewayModule.forRoot({ shutdownDeadlineMs: 1000, ...gatewayOptions })], controllers: [HostController] })(AppModule);
    const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: false, bodyParser });
    if (bodyParser && bodyLimit) app.useBodyParser('json', { limit: bodyLimit });
    if (prefix) app.setGlobalPrefix(prefix, { exclude: ['health', 'echo'] });
    await app.listen(0, '127.0.0.1');
    const server = app.getHttpServer() as Server;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      name,
      url,
      gatewayURL: `${url}${prefix ? `/${prefix}` : ''}${gatewayOptions.basePath ?? '/llm'}`,
      gateway: app.get(GatewayToken),
      async close() {
        server.closeAllConnections?.();
        await app.close();
      },
    };
  };
}

/** Every adapter, so one suite runs each behaviour against each. */
export const appFactories: Record<string, (options?: AppOptions) => Promise<TestApp>> = {
  express5: expressApp('express5', express5Factory),
  express4: expressApp('express4', express4Factory),
  koa3: koaApp('koa3', Koa),
  koa2: koaApp('koa2', Koa2 as any),
  nestjs: nestApp('nestjs'),
  'nestjs-prefixed': nestApp('nestjs-prefixed', 'api'),
};

export { listen, closeServer };

/**
 * One Express 5 app per target (each serving only that target, no environment keys) and an `openai`
 * SDK client for each, filled in `beforeAll` and closed in `afterAll`; for suites that compare what
 * each provider's translator sends and answers.
 */
export function appPerTarget(targets: (upstreamURL: string) => Record<string, Record<string, unknown>>, upstream: () => { url: string }) {
  const apps: Record<string, TestApp> = {};
  const clients: Record<string, OpenAI> = {};
  beforeAll(async () => {
    for (const [name, target] of Object.entries(targets(upstream().url))) {
      apps[name] = await appFactories.express5!({ env: {}, config: { targets: [target] } } as never);
      clients[name] = new OpenAI({ baseURL: `${apps[name]!.gatewayURL}/v1`, apiKey: 'unused', maxRetries: 0 });
    }
  });
  afterAll(async () => {
    for (const app of Object.values(apps)) await app.close();
  });
  return { apps, clients };
}
