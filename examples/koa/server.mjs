// A Koa app with its own routes and the llmux gateway at /llm: `npm start -w examples/koa`.
import Koa from 'koa';
import { bodyParser } from '@koa/bodyparser';
import { gatewayMiddleware } from '@llmux/koa';
import { banner, gatewayConfig } from './gateway-config.mjs';

// One log line per request is the gateway's default (pino, `info`); the example keeps to warnings.
process.env.LLMUX_LOG_LEVEL ??= 'warn';

const port = Number(process.env.PORT ?? 3000);
const app = new Koa();

const llm = gatewayMiddleware({
  config: gatewayConfig(),
  // `identify` gets the Koa context: whatever your auth middleware put in `ctx.state`.
  // Koa's ctx.get answers '' for a missing header: no user then, not a user named ''.
  identify: (ctx) => ({ user: ctx.state.user?.id ?? (ctx.get('x-user-id') || undefined) }),
});
// Ahead of the body parser the gateway reads its own bodies: OpenAI-shaped errors for bad JSON and
// its own size limit (`limits.maxBodyBytes`, 10 MiB). Behind `@koa/bodyparser` it works as well.
app.use(llm);

// The app's own routes keep working next to the gateway.
app.use(bodyParser());
app.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/') ctx.body = { app: 'koa example', gateway: '/llm/v1' };
  else if (ctx.method === 'POST' && ctx.path === '/echo') ctx.body = { youSent: ctx.request.body };
  else await next();
});

// Koa reports clients that leave mid-answer (ERR_STREAM_PREMATURE_CLOSE on Koa 3, a reset socket or a
// cut request on either); those are not server faults.
const CLIENT_LEFT = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'HPE_INVALID_EOF_STATE']);
app.on('error', (err) => {
  if (!CLIENT_LEFT.has(err.code) && !(err.status < 500)) console.error(err);
});

const server = app.listen(port, () => console.log(banner('Koa', `http://localhost:${port}`)));
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
