import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import express4 from 'express4';
import { gatewayMiddleware, type ExpressGatewayOptions } from '@llmux/express';
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
    const { bodyParser = true, ...gatewayOptions } = options;
    const app = factory();
    if (bodyParser) app.use(factory.json({ limit: '20mb' }));
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

/** Every adapter, so one suite runs each behaviour against each (Koa and NestJS join in their own files). */
export const appFactories: Record<string, (options?: AppOptions) => Promise<TestApp>> = {
  express5: expressApp('express5', express5Factory),
  express4: expressApp('express4', express4Factory),
};

export { listen, closeServer };
