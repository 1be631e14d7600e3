// The example app as a factory, for tests and for embedding: the same app `server.mjs` runs, without
// listening or signal handling. `createExampleApp({ gateway: { adminKey } })` adds gateway options.
import express from 'express';
import { gatewayMiddleware } from '@llmux/express';
import { gatewayConfig } from './gateway-config.mjs';

/**
 * @param {{ env?: Record<string, string | undefined>, gateway?: import('@llmux/express').ExpressGatewayOptions }} [options]
 * @returns {{ app: import('express').Express, llm: import('@llmux/express').GatewayMiddleware }}
 */
export function createExampleApp({ env = process.env, gateway = {} } = {}) {
  const app = express();
  const llm = gatewayMiddleware({
    config: gatewayConfig(env),
    // Budgets and limits can follow the app's own users; here a header stands in for real auth.
    identify: (req) => ({ user: req.get('x-user-id') }),
    env,
    ...gateway,
  });
  app.use(llm);
  // The app's own routes keep working next to the gateway.
  app.use(express.json());
  app.get('/', (_req, res) => res.json({ app: 'express example', gateway: '/llm/v1' }));
  app.post('/echo', (req, res) => res.json({ youSent: req.body }));
  return { app, llm };
}
