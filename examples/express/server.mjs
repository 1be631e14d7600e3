// An Express app with its own routes and the llmux gateway at /llm. `npm start` in the repository root runs it.
import express from 'express';
import { gatewayMiddleware } from '@llmux/express';
import { banner, gatewayConfig } from './gateway-config.mjs';

const port = Number(process.env.PORT ?? 3000);
const app = express();

const llm = gatewayMiddleware({
  config: gatewayConfig(),
  // Budgets and limits can follow the app's own users; here a header stands in for real auth.
  identify: (req) => ({ user: req.get('x-user-id') }),
});
// Ahead of the body parser the gateway reads its own bodies: OpenAI-shaped errors for bad JSON and
// its own size limit (`limits.maxBodyBytes`, 10 MiB). Behind `express.json()` it works as well.
app.use(llm);

// The app's own routes keep working next to the gateway.
app.use(express.json());
app.get('/', (_req, res) => res.json({ app: 'express example', gateway: '/llm/v1' }));
app.post('/echo', (req, res) => res.json({ youSent: req.body }));

const server = app.listen(port, () => console.log(banner('Express', `http://localhost:${port}`)));
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
