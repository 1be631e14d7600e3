// One host app per process: a floor proxy or llmux through an adapter. Started by bench/run.mjs.
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [kind, features = 'off'] = process.argv.slice(2);
const UPSTREAM = process.env.UPSTREAM;
const CHAT = '/llm/v1/chat/completions';

function gatewayOptions() {
  const config = { targets: [{ provider: 'openai', api_key: 'sk-bench-key', custom_host: `${UPSTREAM}/v1` }] };
  if (features.includes('cache')) config.cache = { mode: 'simple', max_age: 3600 };
  if (features.includes('limits')) {
    config.budget = { max_cost_per_day: 1e9, scope: 'user' };
    config.rate_limit = { requests_per_minute: 1e9, scope: 'user' };
  }
  return { config, pricing: { 'gpt-4o-mini': { input: 0.15, output: 0.6 } } };
}

async function store() {
  if (!features.includes('redis')) return undefined;
  const { createRedisStore } = await import('@llmux/redis');
  return createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: `llmux-bench:${process.pid}:` });
}

const identify = () => ({ user: 'bench-user' });

/** The floor: the least a proxy on this framework must do — parse, forward on a keep-alive pool, relay. */
const pool = new Pool(UPSTREAM, { connections: 128 });
async function forward(body) {
  return pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-key' }, body });
}

async function build() {
  switch (kind) {
    case 'node-floor':
      return createServer(async (req, res) => {
        let body = '';
        for await (const c of req) body += c;
        const up = await forward(body);
        res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] });
        for await (const chunk of up.body) res.write(chunk);
        res.end();
      });
    case 'express-floor': {
      const { default: express } = await import('express');
      const app = express();
      app.use(express.json());
      app.post(CHAT, async (req, res) => {
        const up = await forward(JSON.stringify(req.body));
        res.status(up.statusCode).setHeader('content-type', up.headers['content-type']);
        for await (const chunk of up.body) res.write(chunk);
        res.end();
      });
      return createServer(app);
    }
    case 'express-fetch': {
      const { default: express } = await import('express');
      const app = express();
      app.use(express.json());
      app.post(CHAT, async (req, res) => {
        const up = await fetch(`${UPSTREAM}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req.body) });
        res.status(up.status).setHeader('content-type', up.headers.get('content-type'));
        for await (const chunk of up.body) res.write(chunk);
        res.end();
      });
      return createServer(app);
    }
    case 'koa-floor': {
      const { default: Koa } = await import('koa');
      const { bodyParser } = await import('@koa/bodyparser');
      const app = new Koa();
      app.use(bodyParser());
      app.use(async (ctx) => {
        const up = await forward(JSON.stringify(ctx.request.body));
        ctx.status = up.statusCode;
        ctx.type = up.headers['content-type'];
        ctx.body = up.body;
      });
      return createServer(app.callback());
    }
    case 'llmux-node': {
      const { createGateway } = await import('@llmux/core');
      const { writeResponse, abortSignalFor, gatewayPath } = await import('@llmux/core/node');
      const gateway = createGateway({ ...gatewayOptions(), store: await store() });
      return createServer(async (req, res) => {
        const path = gatewayPath(req.url, '/llm');
        const response = await gateway.handle({ method: req.method, path, headers: req.headers, body: req, signal: abortSignalFor(res) }, identify());
        await writeResponse(res, response);
      });
    }
    case 'llmux-express': {
      const { default: express } = await import('express');
      const { gatewayMiddleware } = await import('@llmux/express');
      const app = express();
      app.use(express.json());
      app.use(gatewayMiddleware({ ...gatewayOptions(), store: await store(), identify }));
      return createServer(app);
    }
    case 'llmux-koa': {
      const { default: Koa } = await import('koa');
      const { bodyParser } = await import('@koa/bodyparser');
      const { gatewayMiddleware } = await import('@llmux/koa');
      const app = new Koa();
      app.use(bodyParser());
      app.use(gatewayMiddleware({ ...gatewayOptions(), store: await store(), identify }));
      return createServer(app.callback());
    }
    case 'llmux-nestjs': {
      await import('reflect-metadata');
      const { NestFactory } = await import('@nestjs/core');
      const { Module } = await import('@nestjs/common');
      const { GatewayModule } = await import('@llmux/nestjs');
      const imports = [GatewayModule.forRoot({ ...gatewayOptions(), store: await store(), identify })];
      class AppModule {}
      Module({ imports })(AppModule);
      const app = await NestFactory.create(AppModule, { logger: false });
      await app.init();
      return createServer(app.getHttpAdapter().getInstance());
    }
    case 'nestjs-floor': {
      await import('reflect-metadata');
      const { NestFactory } = await import('@nestjs/core');
      const { Module, Controller, Post, Req, Res } = await import('@nestjs/common');
      class FloorController {
        async chat(req, res) {
          const up = await forward(JSON.stringify(req.body));
          res.status(up.statusCode).setHeader('content-type', up.headers['content-type']);
          for await (const chunk of up.body) res.write(chunk);
          res.end();
        }
      }
      Controller('llm/v1')(FloorController);
      const d = Object.getOwnPropertyDescriptor(FloorController.prototype, 'chat');
      Req()(FloorController.prototype, 'chat', 0);
      Res()(FloorController.prototype, 'chat', 1);
      Post('chat/completions')(FloorController.prototype, 'chat', d);
      class AppModule {}
      Module({ controllers: [FloorController] })(AppModule);
      const app = await NestFactory.create(AppModule, { logger: false });
      await app.init();
      return createServer(app.getHttpAdapter().getInstance());
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

const server = await build();
server.keepAliveTimeout = 60_000;
let peakRss = 0;
setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50).unref();
process.on('message', (m) => {
  if (m === 'stats') {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    process.send({ cpu: process.cpuUsage(), rss: peakRss });
  }
});
server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
