// An Express app with its own routes and the llmux gateway at /llm. `npm start` in the repository root
// runs it. The app itself is built in `app.mjs` (also used by the playground's browser test).
import { createExampleApp } from './app.mjs';
import { banner } from './gateway-config.mjs';

// One log line per request is the gateway's default (pino, `info`); the example keeps to warnings.
process.env.LLMUX_LOG_LEVEL ??= 'warn';

const port = Number(process.env.PORT ?? 3000);
// Ahead of the body parser the gateway reads its own bodies: OpenAI-shaped errors for bad JSON and its
// own size limit (`limits.maxBodyBytes`, 10 MiB). Behind `express.json()` it works as well.
const { app, llm } = createExampleApp();

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
