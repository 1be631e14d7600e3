// One app instance: Express with the gateway at /llm, its budget and limits kept in Redis.
// Start two of them (`npm run demo` does) and they enforce one budget and one limit together.
import express from 'express';
import { gatewayMiddleware } from '@llmux/express';
import { gatewayOptions } from './gateway-options.mjs';

const port = Number(process.env.PORT ?? 3101);
const name = process.env.INSTANCE ?? `instance-${port}`;
const app = express();
const llm = gatewayMiddleware(gatewayOptions());
app.use(llm);
app.get('/health', (_req, res) => res.json({ ok: true, instance: name }));

const server = app.listen(port, '127.0.0.1', () => console.log(`${name} listening on http://127.0.0.1:${port}/llm/v1`));
server.on('error', (err) => {
  console.error(err.code === 'EADDRINUSE' ? `Port ${port} is in use; set PORT to a free one` : err);
  process.exit(1);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.close();
    llm.close(5000).then(() => process.exit(0));
  });
}
